"""A service behind the gateway going away is a prompt 503, and the gateway recovers."""

from __future__ import annotations

import signal
import time

from tests.e2e.conftest import RunningSystem, unique


def test_a_stopped_backend_is_a_prompt_503_and_recovery_follows(system: RunningSystem) -> None:
    token = system.login(unique("outage"))
    with system.client(token) as c:
        assert c.get("/v1/links").status_code == 200  # warm the token cache
        system.local.kill("link-manager", signal.SIGTERM)
        try:
            # Another page than the one the gateway just answered, which it may answer again
            # for LIST_CACHE_SECONDS without link-manager (its list cache).
            started = time.monotonic()
            response = c.get("/v1/links", params={"page_size": 5})
            elapsed = time.monotonic() - started
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "unavailable"
            assert elapsed < 5, elapsed  # a refused connection, not a hung request
            write = c.post("/v1/links", json={"url": "https://e.com/while-down"})
            assert write.status_code == 503 and write.json()["error"]["code"] == "unavailable"
            # Routes that don't need link-manager keep working.
            assert c.get("/v1/following").status_code == 200
        finally:
            system.local.restart("link-manager")
        assert c.get("/v1/links").status_code == 200
        assert c.post("/v1/links", json={"url": "https://e.com/after"}).status_code == 201
