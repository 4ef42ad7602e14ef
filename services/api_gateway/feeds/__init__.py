"""Atom feeds of a user's news and own links."""

from api_gateway.feeds.routes import router

__all__ = ["router"]
