"""Runs a service's ASGI app. Uvicorn owns SIGTERM/SIGINT: it stops accepting,
lets in-flight requests finish (up to the grace period), then runs the lifespan's
shutdown, which closes every connection the service opened."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from delinkcious.logging import configure_logging
from delinkcious.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(settings.service_name, settings.log_level)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )
