"""user-manager: users keyed by identity, unique usernames, access and personal API tokens."""
