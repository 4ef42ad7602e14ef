"""The Pinboard-compatible API (Pinboard's v1, itself Delicious's): a translation of its
methods to the same internal clients the REST routes use."""

from api_gateway.pinboard.routes import router

__all__ = ["router"]
