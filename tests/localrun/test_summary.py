"""What `make run` prints once everything is ready: where each process listens, and a
quickstart that talks to the gateway wherever it actually is."""

from __future__ import annotations

import io
import re
from pathlib import Path

from delinkcious.localrun import LocalSystem
from delinkcious.localrun.__main__ import summary
from delinkcious.localrun.ports import free_port
from delinkcious.localrun.secretfile import LocalSecrets
from tests.localrun.helpers import caller_env, planned


def printed(tmp_path: Path, secrets: LocalSecrets, only: set[str] | None = None, **env: str) -> list[str]:
    """The summary of a run planned (not started) with `env`."""
    system = LocalSystem(tmp_path, env=caller_env(**env), only=only, out=io.StringIO())
    system.specs = list(planned(tmp_path, secrets, only, **env).values())
    return summary(system, {spec.name: spec.url for spec in system.specs})


def test_the_quickstart_uses_the_gateways_actual_url(tmp_path: Path, secrets: LocalSecrets) -> None:
    port = free_port()
    gateway = f"http://127.0.0.1:{port}"
    lines = printed(tmp_path, secrets, GATEWAY_PORT=str(port))
    assert f"API docs: {gateway}/docs" in lines
    commands = [ln for ln in lines if "curl" in ln and "/readyz" not in ln]
    assert len(commands) == 6  # log in twice, follow, add a link, list links, read news
    for command in commands:
        assert re.findall(r"http://127\.0\.0\.1:\d+", command) == [gateway], command
    assert any(f"{gateway}/login/dev" in c for c in commands)
    assert any(f"{gateway}/v1/news" in c for c in commands)


def test_every_process_is_listed_with_a_readiness_check_where_it_has_one(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    lines = printed(tmp_path, secrets, GATEWAY_PORT=str(free_port()))
    rows = {ln.split()[0]: ln.split()[1:] for ln in lines if ln.startswith("  ") and len(ln.split()) >= 2}
    nats, redis, news = rows["nats"], rows["redis"], rows["news-manager"]
    assert len(nats) == len(redis) == 1  # a broker has its address, no HTTP check
    assert nats[0].startswith("nats://127.0.0.1:")
    assert redis[0].startswith("redis://127.0.0.1:")
    assert re.fullmatch(r"127\.0\.0\.1:\d+", news[0])  # gRPC: host and port
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/readyz", news[-1])
    assert news[-1] != f"http://{news[0]}/readyz"  # probed on its HTTP port, not the gRPC one
    for name in ("link-manager", "user-manager", "social-graph-manager", "link-checker", "api-gateway"):
        assert rows[name][-1] == f"{rows[name][0]}/readyz"


def test_without_the_gateway_there_is_no_quickstart(tmp_path: Path, secrets: LocalSecrets) -> None:
    lines = printed(tmp_path, secrets, only={"user-manager"})
    assert not any("API docs" in ln or "/login/dev" in ln for ln in lines)
    assert any(ln.split()[:1] == ["user-manager"] for ln in lines)
