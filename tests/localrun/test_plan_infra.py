"""NATS and Redis in the local run: started by the runner unless the caller names its own."""

from __future__ import annotations

import sys
from pathlib import Path

from delinkcious.localrun.ports import free_port
from delinkcious.localrun.secretfile import LocalSecrets
from tests.localrun.helpers import planned

BIN = Path(sys.executable).parent
CALLERS_NATS = "nats://broker.example:4222"
CALLERS_REDIS = "redis://cache.example:6379/2"


def test_nats_runs_with_jetstream_on_the_chosen_port_storing_in_the_data_folder(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    nats = planned(tmp_path, secrets)["nats"]
    data = tmp_path.resolve()
    assert nats.argv == (
        str(BIN / "nats-server"),
        *("-a", "127.0.0.1", "-p", str(nats.port), "-js", "-sd", f"{data}/nats"),
    )
    assert Path(nats.argv[0]).is_file()  # the venv provides it: nothing to install by hand
    assert (data / "nats").is_dir()
    assert nats.url == f"nats://127.0.0.1:{nats.port}"
    assert nats.ready_url == f"tcp://127.0.0.1:{nats.port}"


def test_redis_keeps_an_append_only_file_in_the_data_folder_on_the_chosen_port(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    redis = planned(tmp_path, secrets)["redis"]
    data = tmp_path.resolve()
    args = redis.argv[1:]
    assert redis.argv[0] == str(BIN / "redis-server")
    assert Path(redis.argv[0]).is_file()
    options = dict(zip(args[::2], args[1::2], strict=True))
    assert options == {
        "--bind": "127.0.0.1",
        "--port": str(redis.port),
        "--dir": f"{data}/redis",
        "--appendonly": "yes",
        "--save": "",
    }
    assert (data / "redis").is_dir()
    assert redis.url == f"redis://127.0.0.1:{redis.port}"
    assert redis.ready_url == f"tcp://127.0.0.1:{redis.port}"


def test_pinned_broker_ports_are_used_and_every_service_gets_the_local_urls(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    specs = planned(tmp_path, secrets)
    nats, redis = specs["nats"], specs["redis"]
    for name in ("link-manager", "news-manager", "link-checker"):
        assert specs[name].env["NATS_URL"] == nats.url
    assert specs["news-manager"].env["REDIS_URL"] == redis.url
    nats_port, redis_port = free_port(), free_port()
    pinned = planned(tmp_path, secrets, NATS_PORT=str(nats_port), REDIS_PORT=str(redis_port))
    assert (pinned["nats"].port, pinned["redis"].port) == (nats_port, redis_port)
    assert pinned["nats"].argv[pinned["nats"].argv.index("-p") + 1] == str(nats_port)
    assert pinned["redis"].argv[pinned["redis"].argv.index("--port") + 1] == str(redis_port)
    assert pinned["link-manager"].env["NATS_URL"] == f"nats://127.0.0.1:{nats_port}"


def test_brokers_named_by_the_caller_are_not_started_and_services_use_them(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    specs = planned(tmp_path, secrets, NATS_URL=CALLERS_NATS, REDIS_URL=CALLERS_REDIS)
    assert "nats" not in specs
    assert "redis" not in specs
    for name in ("link-manager", "news-manager", "link-checker"):
        assert specs[name].env["NATS_URL"] == CALLERS_NATS
    assert specs["news-manager"].env["REDIS_URL"] == CALLERS_REDIS
    # Nothing of theirs is kept locally either.
    assert not (tmp_path / "nats").exists()
    assert not (tmp_path / "redis").exists()


def test_one_broker_from_the_caller_the_other_started_locally(tmp_path: Path, secrets: LocalSecrets) -> None:
    specs = planned(tmp_path, secrets, REDIS_URL=CALLERS_REDIS)
    assert "redis" not in specs
    assert specs["news-manager"].env["REDIS_URL"] == CALLERS_REDIS
    assert specs["news-manager"].env["NATS_URL"] == specs["nats"].url
