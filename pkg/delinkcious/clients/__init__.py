"""Typed async clients for each service's internal API."""
