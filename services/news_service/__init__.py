"""news-manager: follows link events on the bus into each follower's feed in Redis, and
serves a user's news over gRPC."""
