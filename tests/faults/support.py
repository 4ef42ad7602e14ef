"""Shared pieces of the fault drills: services started as `make run` starts them
(LocalSystem, real processes on free ports), their output kept for the final check
that none of them answered or logged a 500."""

from __future__ import annotations

import io
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from delinkcious.callers import CALLER_TOKEN_HEADER
from delinkcious.localrun import LocalSystem
from delinkcious.localrun.secretfile import SECRETS_FILE

T = TypeVar("T")
PATIENCE = 30.0
# A request line with status 500, a crash, or a gRPC call that ended INTERNAL.
_FIVE_HUNDRED = re.compile(r"status=500\b|unhandled error|Traceback|code=INTERNAL\b|Exception in ASGI")


class Tee(io.StringIO):
    """Keeps the system's output for assertions and shows it when the test fails."""

    def write(self, text: str) -> int:
        sys.stdout.write(text)
        return super().write(text)


@dataclass
class Running:
    system: LocalSystem
    urls: dict[str, str]
    out: Tee

    def caller(self, name: str = "api-gateway") -> dict[str, str]:
        """The header that lets `name` call the services (its secret from this run)."""
        secrets = json.loads((self.system.data_dir / SECRETS_FILE).read_text())
        return {CALLER_TOKEN_HEADER: secrets["caller_tokens"][name]}

    def client(self, name: str) -> httpx.Client:
        return httpx.Client(base_url=self.urls[name], trust_env=False, timeout=20)

    def assert_no_500(self) -> None:
        assert_no_500(self.out.getvalue())


def assert_no_500(output: str) -> None:
    found = [line for line in output.splitlines() if _FIVE_HUNDRED.search(line)]
    assert not found, "a service answered or logged a 500:\n" + "\n".join(found[:20])


@contextmanager
def started(data_dir: Path, env: dict[str, str], only: Iterable[str] | None = None) -> Iterator[Running]:
    out = Tee()
    system = LocalSystem(data_dir, env=env, only=only, out=out)
    urls = system.start()
    try:
        yield Running(system, urls, out)
    finally:
        system.stop()


def eventually(read: Callable[[], T], good: Callable[[T], bool], what: str, patience: float = PATIENCE) -> T:
    deadline = time.monotonic() + patience
    while True:
        value = read()
        if good(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r}")
        time.sleep(0.1)


def assert_unavailable(response: httpx.Response) -> None:
    """A 503 with exactly api.md's error body."""
    assert response.status_code == 503, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == "unavailable" and body["error"]["message"], body


def assert_not_ready(response: httpx.Response, dependency: str) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert dependency in body["failed"], body
    assert body["error"]["code"] == "unavailable" and dependency in body["error"]["message"], body
