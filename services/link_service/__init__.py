"""link-manager: users' links, their tags and check status, and the outbox of link events."""
