"""Each service gets its usual port when free, another free one when not."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from delinkcious.localrun.plan import PlanError, plan
from delinkcious.localrun.ports import free_port, is_free, pick_port
from delinkcious.localrun.secretfile import LocalSecrets
from tests.localrun.helpers import caller_env, fake

NO_SECRETS = LocalSecrets(caller_tokens={}, page_token_keys={})


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port with a listener on it, as another program would hold it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_listening_port_is_not_free(busy_port: int) -> None:
    assert not is_free(busy_port)
    assert is_free(free_port())


def test_a_fallback_port_is_below_the_range_outgoing_connections_use() -> None:
    """The kernel gives outgoing connections ports from 32768 up (Linux's default
    ip_local_port_range): one picked there could be another service's client socket
    by the time the service it was picked for listens."""
    picked = {free_port() for _ in range(20)}
    assert all(1024 < port < 32768 for port in picked)
    assert len(picked) > 1  # not one fixed port


def test_the_default_port_is_used_when_free(tmp_path: Path) -> None:
    service = fake("alpha")
    [spec] = plan((service,), data_dir=tmp_path, env=caller_env(), secrets=NO_SECRETS)
    assert spec.port == service.default_port
    assert spec.url == f"http://127.0.0.1:{service.default_port}"
    assert spec.env["PORT"] == str(service.default_port)
    assert spec.notes == ()


def test_a_taken_default_port_falls_back_to_a_free_one_and_says_so(tmp_path: Path, busy_port: int) -> None:
    service = fake("alpha", default_port=busy_port)
    [spec] = plan((service,), data_dir=tmp_path, env=caller_env(), secrets=NO_SECRETS)
    assert spec.port != busy_port
    assert is_free(spec.port)
    assert spec.env["PORT"] == str(spec.port)
    assert spec.notes == (f"port {busy_port} is taken, using {spec.port}",)


def test_two_services_never_share_a_port(tmp_path: Path) -> None:
    port = free_port()
    services = (fake("alpha", default_port=port), fake("beta", default_port=port))
    first, second = plan(services, data_dir=tmp_path, env=caller_env(), secrets=NO_SECRETS)
    assert first.port == port
    assert second.port != port


def test_a_fallback_port_avoids_the_ports_already_given() -> None:
    taken = {free_port() for _ in range(5)}
    assert pick_port(next(iter(taken)), taken) not in taken


def test_a_pinned_port_is_used(tmp_path: Path) -> None:
    service = fake("alpha")
    pinned = free_port()
    env = caller_env(ALPHA_PORT=str(pinned))
    [spec] = plan((service,), data_dir=tmp_path, env=env, secrets=NO_SECRETS)
    assert spec.port == pinned


def test_a_pinned_port_that_is_taken_is_an_error_not_a_fallback(tmp_path: Path, busy_port: int) -> None:
    env = caller_env(ALPHA_PORT=str(busy_port))
    with pytest.raises(PlanError, match=f"alpha: port {busy_port} \\(ALPHA_PORT\\) is already in use"):
        plan((fake("alpha"),), data_dir=tmp_path, env=env, secrets=NO_SECRETS)


@pytest.mark.parametrize("value", ["tcp://10.0.0.1:7070", "0", "70000", "-1"])
def test_a_pinned_port_must_be_a_port_number(tmp_path: Path, value: str) -> None:
    with pytest.raises(PlanError, match=r"ALPHA_PORT=.* is not a port number"):
        plan((fake("alpha"),), data_dir=tmp_path, env=caller_env(ALPHA_PORT=value), secrets=NO_SECRETS)
