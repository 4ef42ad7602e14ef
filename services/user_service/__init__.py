"""user-manager: users keyed by identity, unique usernames, access tokens."""
