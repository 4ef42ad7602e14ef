"""api-gateway: the public REST API (api.md), social login, and the only way in."""
