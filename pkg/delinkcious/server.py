"""Runs a service's ASGI app. Uvicorn owns SIGTERM/SIGINT: it stops accepting,
lets in-flight requests finish (up to the grace period), then runs the lifespan's
shutdown, which closes every connection the service opened."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from delinkcious.logging import configure_logging
from delinkcious.migrations import migrate_in_child_processes
from delinkcious.settings import ServiceSettings, load_settings

S = TypeVar("S", bound=ServiceSettings)


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(settings.service_name, settings.log_level)
    # A serving process keeps what it imports for its whole life: Alembic, used once
    # at start, stays in a child process.
    migrate_in_child_processes()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )


def main(
    settings_cls: type[S],
    create_app: Callable[[S], FastAPI],
    migrate: Callable[[S], None] | None = None,
    argv: list[str] | None = None,
) -> None:
    """`python -m <service>` serves; `python -m <service> migrate` applies the schema
    migrations and exits (what a deployment runs before the new version serves)."""
    args = sys.argv[1:] if argv is None else argv
    settings = load_settings(settings_cls)
    if args == ["migrate"] and migrate is not None:
        configure_logging(settings.service_name, settings.log_level)
        migrate(settings)
        return
    if args:
        usage = "[migrate]" if migrate is not None else ""
        print(f"usage: python -m <service> {usage}".rstrip(), file=sys.stderr)
        raise SystemExit(2)
    serve(create_app(settings), settings)
