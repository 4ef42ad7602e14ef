"""The chart's configuration runs the code: every service is started from the rendered
Deployment, exactly as its container would run (command, ConfigMap, Secret, `$(VAR)`
expansion), against a NATS and a Redis started from the rendered configuration with the
rendered passwords, and a Postgres prepared by the rendered init script. Only HOST, PORT
(and news-manager's HTTP_PORT) change, to free local ports, and in-cluster addresses map to
127.0.0.1. Each service must become ready; then Helm's test pod runs against the gateway."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
import sqlalchemy as sa

from tests.deploy import kube_env
from tests.deploy.boot import (
    Process,
    base_env,
    local_command,
    map_addresses,
    psql_dir,
    wait_listening,
    wait_ready,
)
from tests.deploy.chart import Rendered, main_container, pod_spec, render
from tests.deploy.contract import DATABASE_SERVICES, SERVICES
from tests.deploy.fit import config_maps, port_numbers
from tests.servers import free_port

LOCAL = "127.0.0.1"


@dataclass
class Booted:
    rendered: Rendered
    secrets: dict[str, str]
    addresses: dict[str, str]  # in-cluster host:port -> local host:port
    processes: dict[str, Process]
    ready: dict[str, str | None]  # service -> None when ready, else why not
    migrations: dict[str, subprocess.CompletedProcess[str]]
    databases: dict[str, tuple[str, str]]  # service -> (role, database)
    admin_url: str


def container_env(
    booted_rendered: Rendered, workload_name: str, kind: str, secrets: dict[str, str]
) -> dict[str, str]:
    workload = booted_rendered.get(kind, workload_name)
    [container] = pod_spec(workload)["containers"]
    pod = {"metadata.name": f"{workload_name}-0", "metadata.namespace": "delinkcious"}
    return kube_env.resolve(container, config_maps(booted_rendered), {"delinkcious-secrets": secrets}, pod)


def start_nats(rendered: Rendered, secrets: dict[str, str], folder: Path) -> Process:
    """nats-server with the chart's nats.conf: its volume (/data) is a local folder, its
    ports are free local ones, its login is as rendered."""
    conf = folder / "nats.conf"
    volume = folder / "nats-data"
    volume.mkdir()
    text = rendered.get("ConfigMap", "nats-config")["data"]["nats.conf"]
    conf.write_text(text.replace(" /data/", f" {volume}/"))
    env = base_env() | container_env(rendered, "nats", "StatefulSet", secrets)
    port, monitor = free_port(), free_port()
    argv = [str(Path(sys.executable).parent / "nats-server"), "-c", str(conf), "-a", LOCAL, "-p", str(port)]
    argv += ["-m", str(monitor)]
    process = Process("nats", argv, env, folder / "nats.log")
    process.start(folder)
    wait_listening(process, port)
    process.env["LOCAL_PORT"] = str(port)
    return process


def start_redis(rendered: Rendered, secrets: dict[str, str], folder: Path) -> Process:
    """The chart's Redis command line, with the local binary and config file; the volume
    (/data) is a local folder."""
    volume = folder / "redis-data"
    volume.mkdir()
    text = rendered.get("ConfigMap", "redis-config")["data"]["redis.conf"]
    (folder / "redis.conf").write_text(text.replace("dir /data\n", f"dir {volume}\n"))
    container = pod_spec(rendered.get("StatefulSet", "redis"))["containers"][0]
    shell, flag, script = container["command"]
    port = free_port()
    script = script.replace("redis-server ", f"{Path(sys.executable).parent / 'redis-server'} ", 1)
    script = script.replace("/etc/redis/redis.conf", str(folder / "redis.conf"))
    script += f" --port {port} --bind {LOCAL}"
    env = base_env() | container_env(rendered, "redis", "StatefulSet", secrets)
    process = Process("redis", [shell, flag, script], env, folder / "redis.log")
    process.start(folder)
    wait_listening(process, port)
    process.env["LOCAL_PORT"] = str(port)
    return process


def init_postgres(rendered: Rendered, secrets: dict[str, str], admin_url: str, folder: Path) -> None:
    """The chart's init script, as the Postgres image runs it on first start."""
    script = folder / "10-delinkcious.sh"
    script.write_text(rendered.get("ConfigMap", "postgres-init")["data"]["10-delinkcious.sh"])
    admin = sa.engine.make_url(admin_url)
    env = base_env() | container_env(rendered, "postgres", "StatefulSet", secrets)
    env |= {
        "PATH": f"{psql_dir()}:{env['PATH']}",
        "POSTGRES_USER": admin.username or "postgres",
        "PGHOST": admin.host or LOCAL,
        "PGPORT": str(admin.port or 5432),
    }
    if admin.password:
        env["PGPASSWORD"] = admin.password
    result = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"init script failed:\n{result.stdout}\n{result.stderr}"


def drop_databases(admin_url: str, databases: dict[str, tuple[str, str]]) -> None:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        for role, database in databases.values():
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
    engine.dispose()


def service_process(
    rendered: Rendered,
    name: str,
    secrets: dict[str, str],
    addresses: dict[str, str],
    ports: dict[str, int],
    logs: Path,
) -> Process:
    deployment = rendered.get("Deployment", name)
    container = main_container(deployment)
    env = container_env(rendered, name, "Deployment", secrets)
    env = {k: map_addresses(v, addresses) for k, v in env.items()}
    env |= {"HOST": LOCAL, "PORT": str(ports["main"])}
    if "HTTP_PORT" in env:
        env["HTTP_PORT"] = str(ports["http"])
    return Process(name, local_command(container["command"]), base_env() | env, logs / f"{name}.log")


@pytest.fixture(scope="module")
def booted(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Booted]:
    folder = tmp_path_factory.mktemp("boot")
    suffix = uuid.uuid4().hex[:8]
    # Role and database names of this run's own, so a shared test server is left as it was.
    databases = {name: (f"dlk_boot_{suffix}_{name.replace('-', '_')}",) * 2 for name in DATABASE_SERVICES}
    rendered = render(
        {
            "services": {
                name: {"database": {"name": db, "user": role}} for name, (role, db) in databases.items()
            }
        }
    )
    secrets = rendered.secret_data()
    infra: list[Process] = []
    processes: dict[str, Process] = {}
    try:
        nats = start_nats(rendered, secrets, folder)
        infra.append(nats)
        redis_server = start_redis(rendered, secrets, folder)
        infra.append(redis_server)
        init_postgres(rendered, secrets, postgres_admin_url, folder)
        admin = sa.engine.make_url(postgres_admin_url)
        addresses = {
            "postgres:5432": f"{admin.host or LOCAL}:{admin.port or 5432}",
            "nats:4222": f"{LOCAL}:{nats.env['LOCAL_PORT']}",
            "redis:6379": f"{LOCAL}:{redis_server.env['LOCAL_PORT']}",
        }
        ports = {}
        for name in SERVICES:
            ports[name] = {"main": free_port(), "http": free_port()}
            cluster_port = port_numbers(main_container(rendered.get("Deployment", name)))
            main = cluster_port.get("grpc", cluster_port["http"])
            addresses[f"{name}:{main}"] = f"{LOCAL}:{ports[name]['main']}"
        migrations = {}
        for name in sorted(DATABASE_SERVICES):
            [init] = pod_spec(rendered.get("Deployment", name))["initContainers"]
            env = service_process(rendered, name, secrets, addresses, ports[name], folder).env
            migrations[name] = subprocess.run(
                local_command(init["command"]),
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
                cwd=folder,
            )
        for name in SERVICES:
            processes[name] = service_process(rendered, name, secrets, addresses, ports[name], folder)
            processes[name].start(folder)
        ready = {}
        for name, process in processes.items():
            http = ports[name]["http"] if "HTTP_PORT" in process.env else ports[name]["main"]
            ready[name] = wait_ready(process, f"http://{LOCAL}:{http}/readyz")
        processes |= {p.name: p for p in infra}
        yield Booted(
            rendered, secrets, addresses, processes, ready, migrations, databases, postgres_admin_url
        )
    finally:
        for process in list(processes.values()) + infra:
            process.stop()
        drop_databases(postgres_admin_url, databases)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("name", sorted(DATABASE_SERVICES))
def test_migration_init_container_succeeds(booted: Booted, name: str) -> None:
    result = booted.migrations[name]
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_becomes_ready(booted: Booted, name: str) -> None:
    assert booted.ready[name] is None, f"{name}: {booted.ready[name]}\n{booted.processes[name].tail()}"


def test_helm_test_pod_passes_against_the_gateway(booted: Booted) -> None:
    assert booted.ready["api-gateway"] is None
    pod = booted.rendered.get("Pod", "delinkcious-smoke-test")
    [container] = pod["spec"]["containers"]
    env = {e["name"]: map_addresses(e["value"], booted.addresses) for e in container["env"]}
    result = subprocess.run(
        local_command(container["command"]), env=base_env() | env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke test passed" in result.stdout


def test_the_gateway_reaches_the_services_with_the_rendered_secrets(booted: Booted) -> None:
    gateway = booted.addresses["api-gateway:5000"]
    # A protected route: 401 from the gateway itself (no user token), not a 5xx from a
    # backend that refused the gateway's caller secret.
    response = httpx.get(f"http://{gateway}/v1/me", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_nats_refuses_clients_without_the_password(booted: Booted) -> None:
    import asyncio

    import nats
    from nats.errors import NoServersError

    url = f"nats://{booted.addresses['nats:4222']}"

    async def connect() -> None:
        client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False)
        await client.close()

    with pytest.raises((NoServersError, nats.errors.Error, OSError)):
        asyncio.run(connect())


def test_redis_refuses_clients_without_the_password(booted: Booted) -> None:
    host, port = booted.addresses["redis:6379"].split(":")
    with pytest.raises(redis.AuthenticationError), redis.Redis(host=host, port=int(port)) as client:
        client.set("feed", "x")
    with redis.Redis(host=host, port=int(port), password=booted.secrets["redis-password"]) as client:
        assert client.ping()


def test_each_service_owns_its_database_and_no_other(booted: Booted) -> None:
    admin = sa.engine.make_url(booted.admin_url)
    for name, (role, database) in booted.databases.items():
        url = sa.engine.URL.create(
            "postgresql+psycopg2",
            username=role,
            password=booted.secrets[f"db-password-{name}"],
            host=admin.host,
            port=admin.port,
            database=database,
        )
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user")).scalar() == role
        engine.dispose()
        for other, (_, other_db) in booted.databases.items():
            if other == name:
                continue
            engine = sa.create_engine(url.set(database=other_db), poolclass=sa.pool.NullPool)
            with pytest.raises(sa.exc.OperationalError, match="permission denied"), engine.connect():
                pass
            engine.dispose()


def test_the_gateways_redis_user_reaches_only_the_gateways_keys_and_channels(booted: Booted) -> None:
    import asyncio

    from api_gateway.login.states import RedisUsedStates
    from api_gateway.ratelimit import RedisRateLimiter
    from api_gateway.shared_state import SharedState
    from delinkcious.metrics import GATEWAY_SHARED_STATE_OPERATIONS

    host, port = booted.addresses["redis:6379"].split(":")
    password = booted.secrets["redis-password-api-gateway"]
    with redis.Redis(host=host, port=int(port), username="api-gateway", password=password) as client:
        # The booted gateway joined the revocation channel as this user.
        deadline = time.monotonic() + 10
        while client.publish("gw:revocations", "{}") < 1:
            assert time.monotonic() < deadline, "no gateway listens on gw:revocations"
            time.sleep(0.1)
        for forbidden in (
            lambda: client.get("feed:alice"),
            lambda: client.publish("elsewhere", "x"),
            lambda: client.flushall(),
            lambda: client.keys("*"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                forbidden()

    async def gateway_parts() -> None:
        shared = SharedState(f"redis://api-gateway:{password}@{host}:{port}/0")
        try:
            assert await RedisUsedStates(shared).first_use("boot-state", 600)
            ok = GATEWAY_SHARED_STATE_OPERATIONS.labels("rate_limit", "ok")
            before = ok._value.get()
            # EVALSHA, then SCRIPT LOAD on NOSCRIPT; a refusal would fall back, so count.
            await RedisRateLimiter(shared, 10.0, 5).check("boot-user")
            assert ok._value.get() == before + 1
        finally:
            await shared.aclose()

    asyncio.run(gateway_parts())
