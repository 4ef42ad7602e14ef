"""A process marked `starts_after_uses` (the gateway) is started only once everything
it uses, directly or through them, is ready: its own readiness then means the system
behind it can serve, even on a slow cold start."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pytest

from delinkcious.localrun import LocalSystem, StartupError
from delinkcious.localrun.secretfile import LocalSecrets
from tests.localrun.helpers import caller_env, fake, planned


def line_of(output: str, pattern: str) -> int:
    lines = output.splitlines()
    found = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    assert found, f"no line matches {pattern!r} in:\n{output}"
    return found[0]


def test_the_front_starts_once_what_it_uses_is_ready_even_through_others(tmp_path: Path) -> None:
    deep = fake("deep", "--ready-after", "1.5")
    backend = replace(fake("backend", "--ready-after", "0.5"), uses=(("DEEP_URL", "deep"),))
    front = replace(fake("front"), uses=(("BACKEND_URL", "backend"),), starts_after_uses=True)
    out = io.StringIO()
    with LocalSystem(tmp_path, env=caller_env(), services=(deep, backend, front), out=out) as system:
        assert [spec.starts_after for spec in system.specs] == [(), (), ("deep", "backend")]
    output = out.getvalue()
    waiting = line_of(output, r"^localrun \| front starts once deep, backend are ready$")
    started = line_of(output, r"^front +\| fake: listening on")
    assert waiting < line_of(output, r"deep is ready") < started
    assert line_of(output, r"backend is ready") < started
    assert line_of(output, r"front is ready") > started
    assert output.count("deep is ready") == 1  # each announced once


def test_a_backend_that_never_gets_ready_fails_the_start_and_the_front_never_runs(tmp_path: Path) -> None:
    backend = fake("backend", "--not-ready")
    front = replace(fake("front"), uses=(("BACKEND_URL", "backend"),), starts_after_uses=True)
    out = io.StringIO()
    system = LocalSystem(tmp_path, env=caller_env(), services=(backend, front), ready_timeout=1.5, out=out)
    with pytest.raises(StartupError, match=r"backend was not ready after 1\.5 s \(GET .*: HTTP 503"):
        system.start()
    assert "front |" not in out.getvalue()
    assert system.pids == {}


def test_the_gateway_waits_for_every_process_behind_it(tmp_path: Path, secrets: LocalSecrets) -> None:
    specs = planned(tmp_path, secrets)
    behind = ("nats", "redis", "link-manager", "user-manager", "social-graph-manager", "news-manager")
    assert specs["api-gateway"].starts_after == behind
    assert all(spec.starts_after == () for name, spec in specs.items() if name != "api-gateway")
    # Infrastructure the caller runs is not the run's to wait for.
    external = planned(tmp_path, secrets, NATS_URL="nats://127.0.0.1:1", REDIS_URL="redis://127.0.0.1:1")
    assert external["api-gateway"].starts_after == behind[2:]
