"""Reads the gateway only passes on: the service's JSON body goes out as it came in.

Parsing it into the model and serialising it again would be most of the gateway's
work for such a read. The services serialise the same models the routes declare
(`response_model=`, so the OpenAPI schema is unchanged), so the body is the same."""

from __future__ import annotations

from fastapi import Response


class Forwarded(Response):
    """A service's JSON answer, sent on byte for byte."""

    media_type = "application/json"
