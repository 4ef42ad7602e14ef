"""Shared pieces of the runner tests."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from delinkcious.localrun.catalog import PYTHON, SERVICES, ServiceDef, select
from delinkcious.localrun.plan import ProcessSpec, plan, secret_names
from delinkcious.localrun.ports import free_port, free_ports
from delinkcious.localrun.secretfile import SECRETS_FILE, LocalSecrets, load_or_create

FAKE = str(Path(__file__).with_name("fake_service.py"))
REPO_ROOT = Path(__file__).resolve().parents[2]


def caller_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that would steer the runner
    (pinned ports, database and broker URLs, local defaults, a data folder), plus `extra`."""
    steering = {"DELINKCIOUS_DATA_DIR", "DELINKCIOUS_READY_TIMEOUT", "SESSION_SECRET"}
    steering |= {s.port_env for s in SERVICES}
    steering |= {
        v for s in SERVICES for v in (s.database_env, s.url_env, s.http_port_env, s.http_pin_env) if v
    }
    steering |= {var for s in SERVICES for var, _ in s.local_defaults}
    env = {k: v for k, v in os.environ.items() if k not in steering}
    env.update(extra)
    return env


def pinned_ports(avoid: Collection[int] = ()) -> dict[str, str]:
    """A free port for every port of the table, so no test touches 8080 and the like,
    nor a port another run is about to take. Each its own (the plan refuses a port
    given twice), and none in `avoid`."""
    names = [s.port_env for s in SERVICES] + [s.http_pin_env for s in SERVICES if s.http_pin_env]
    return {name: str(port) for name, port in zip(names, free_ports(len(names), avoid), strict=True)}


def fake(name: str, *flags: str, default_port: int | None = None) -> ServiceDef:
    return ServiceDef(
        name=name,
        argv=(PYTHON, FAKE, *flags),
        default_port=default_port or free_port(),
        port_env=f"{name.upper().replace('-', '_')}_PORT",
    )


def running(pid: int) -> bool:
    """True while `pid` is a live process. A zombie counts as gone: it runs nothing,
    and an orphan's zombie waits on whatever reaps orphans here, not on the runner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def group_members(pgid: int) -> set[int]:
    """The live processes in process group `pgid`."""
    members = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # it exited while we looked
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.add(int(entry.name))
    return members


def group_running(pgid: int) -> bool:
    return bool(group_members(pgid))


def planned(
    data_dir: Path, secrets: LocalSecrets, only: set[str] | None = None, **env: str
) -> dict[str, ProcessSpec]:
    """The runner's plan for `only` (default: everything), every port pinned to a free
    one unless `env` says otherwise, by service name."""
    result = plan(
        select(SERVICES, only),
        data_dir=data_dir,
        env=caller_env(**{**pinned_ports(_ports_in(env)), **env}),
        secrets=secrets,
    )
    return {spec.name: spec for spec in result}


def _ports_in(env: dict[str, str]) -> set[int]:
    return {int(v) for k, v in env.items() if k.endswith("_PORT") and v.isdigit()}


def table_secrets(data_dir: Path) -> LocalSecrets:
    """The secrets file a run of the whole table creates (or reuses) in `data_dir`."""
    callers, page_keys = secret_names(SERVICES)
    return load_or_create(data_dir / SECRETS_FILE, callers, page_keys)
