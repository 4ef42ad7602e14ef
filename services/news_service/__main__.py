"""`python -m news_service`: runs until SIGTERM or SIGINT, then stops gracefully and
exits 0."""

from __future__ import annotations

import asyncio
import logging
import signal

from delinkcious.logging import configure_logging
from delinkcious.settings import load_settings
from delinkcious.tracing import configure_tracing
from news_service.runtime import NewsManager
from news_service.settings import NewsSettings

log = logging.getLogger("news_service")


async def run(settings: NewsSettings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    manager = NewsManager(settings)
    try:
        try:
            await manager.start()
        except (OSError, RuntimeError) as exc:  # a port taken, an address not ours
            log.error("cannot start", extra={"reason": f"{type(exc).__name__}: {exc}"})
            return 1
        signalled = asyncio.ensure_future(stop.wait())
        ops_ended = asyncio.ensure_future(manager.wait_ops_failed())
        await asyncio.wait({signalled, ops_ended}, return_when=asyncio.FIRST_COMPLETED)
        signalled.cancel()
        ops_ended.cancel()
    finally:
        await manager.stop()
    return 0 if stop.is_set() else 1


def main() -> None:
    settings = load_settings(NewsSettings)
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name)
    raise SystemExit(asyncio.run(run(settings)))


if __name__ == "__main__":
    main()
