"""Delinkcious shared library: object model, errors, settings, database, auth, clients."""
