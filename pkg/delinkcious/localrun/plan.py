"""From the service table to concrete processes: ports, URLs, environments."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from delinkcious.localrun.catalog import PYTHON, ServiceDef
from delinkcious.localrun.ports import LOCAL_HOST, is_free, pick_port
from delinkcious.localrun.secretfile import LocalSecrets

_LOCAL_NAMES = ("127.0.0.1", "localhost")


class PlanError(RuntimeError):
    pass


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: tuple[str, ...]
    env: dict[str, str]
    port: int
    url: str  # where the service listens
    ready_url: str | None  # polled until it answers 200
    notes: tuple[str, ...]  # printed at start: port fallbacks, which database
    infrastructure: bool = False  # NATS, Redis: stopped after the services that use them
    starts_after: tuple[str, ...] = ()  # processes of this run that must be ready first

    @property
    def module(self) -> str | None:
        """The module of a `python -m MODULE ...` process (which the fork server can fork)."""
        if len(self.argv) >= 3 and self.argv[0] == sys.executable and self.argv[1] == "-m":
            return self.argv[2]
        return None


def _explicit_port(var: str | None, env: Mapping[str, str]) -> int | None:
    raw = env.get(var, "").strip() if var else ""
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise PlanError(f"{var}={raw!r} is not a port number")
    return int(raw)


def _choose_ports(
    services: tuple[ServiceDef, ...], env: Mapping[str, str]
) -> dict[str, tuple[int, str | None]]:
    chosen: dict[str, tuple[int, str | None]] = {}
    taken: set[int] = set()
    # Pinned ports first, so a fallback port never lands on one of them.
    pinned = {s.name: p for s in services if (p := _explicit_port(s.port_env, env)) is not None}
    pinned_http = {p for s in services if (p := _explicit_port(s.http_pin_env, env)) is not None}
    for service in services:
        port = pinned.get(service.name)
        if port is None:
            continue
        if port in taken or not is_free(port):
            raise PlanError(f"{service.name}: port {port} ({service.port_env}) is already in use")
        taken.add(port)
        chosen[service.name] = (port, None)
    for service in services:
        if service.name in chosen:
            continue
        port = pick_port(service.default_port, taken | set(pinned.values()) | pinned_http)
        note = None if port == service.default_port else f"port {service.default_port} is taken, using {port}"
        taken.add(port)
        chosen[service.name] = (port, note)
    return chosen


def _no_proxy(env: Mapping[str, str]) -> str:
    # A proxy configured for the internet must not intercept calls between local services.
    current = env.get("NO_PROXY") or env.get("no_proxy") or ""
    parts = [p for p in current.split(",") if p.strip()]
    return ",".join(parts + [n for n in _LOCAL_NAMES if n not in parts])


def plan(
    services: tuple[ServiceDef, ...],
    *,
    data_dir: Path,
    env: Mapping[str, str],
    secrets: LocalSecrets,
) -> list[ProcessSpec]:
    """One ProcessSpec per service. The caller's environment reaches every process;
    the runner sets only what wires the services together (host, port, caller
    secrets, each other's URLs) and the SQLite default for unset database URLs."""
    # Infrastructure the caller already runs (its URL variable is set) is not started.
    services = tuple(s for s in services if not (s.url_env and env.get(s.url_env)))
    ports = _choose_ports(services, env)
    http_ports = _choose_http_ports(services, env, {p for p, _ in ports.values()})
    url = {s.name: _address(s, ports[s.name][0]) for s in services}
    specs = []
    for service in services:
        port, port_note = ports[service.name]
        notes = [port_note] if port_note else []
        child = dict(env)
        child.update(HOST=LOCAL_HOST, PORT=str(port), PYTHONUNBUFFERED="1")
        for var, value in service.local_defaults:
            child.setdefault(var, value.format(port=port, url=url[service.name]))
        if service.session_secret:
            child.setdefault("SESSION_SECRET", secrets.page_token_keys[f"{service.name}.session"])
        ready_url = f"{url[service.name]}{service.ready_path}" if service.ready_path else None
        if service.http_port_env:
            http_port, http_note = http_ports[service.name]
            notes += [http_note] if http_note else []
            child[service.http_port_env] = str(http_port)
            ready_url = f"http://{LOCAL_HOST}:{http_port}/readyz"
        if service.ready_tcp:
            ready_url = f"tcp://{LOCAL_HOST}:{port}"
        child.setdefault("LOG_LEVEL", "INFO")
        child["NO_PROXY"] = child["no_proxy"] = _no_proxy(env)
        if service.database_env:
            if env.get(service.database_env):
                notes.append(f"database from {service.database_env}")
            else:
                db = data_dir.resolve() / service.sqlite_file
                child[service.database_env] = f"sqlite:///{db}"
                notes.append(f"database {db}")
        if service.accepts:
            child["CALLER_TOKENS"] = _caller_tokens(service, secrets)
        if service.has_caller_token:
            child["CALLER_TOKEN"] = secrets.caller_tokens[service.name]
        if service.page_token_key:
            child["PAGE_TOKEN_KEY"] = secrets.page_token_keys[service.name]
        for var, other in service.uses:
            if other in url:
                child[var] = url[other]
            elif not env.get(var):
                raise PlanError(f"{service.name} needs {other}: start it too, or set {var}")
        argv = tuple(_arg(a, port, data_dir) for a in service.argv)
        if service.url_env:
            for folder in {a.split("}/", 1)[1] for a in service.argv if a.startswith("{data}/")}:
                (data_dir.resolve() / folder).mkdir(parents=True, exist_ok=True)
        specs.append(
            ProcessSpec(
                name=service.name,
                argv=argv,
                env=child,
                port=port,
                url=url[service.name],
                ready_url=ready_url,
                notes=tuple(notes),
                infrastructure=service.url_env is not None,
                starts_after=_behind(service, services) if service.starts_after_uses else (),
            )
        )
    return specs


def _behind(service: ServiceDef, services: tuple[ServiceDef, ...]) -> tuple[str, ...]:
    """The processes of this run `service` uses, directly or through the ones it uses,
    in table order. Those the caller runs (their URL given) are not waited for."""
    by_name = {s.name: s for s in services}
    found: set[str] = set()
    todo = [other for _, other in service.uses]
    while todo:
        name = todo.pop()
        if name in by_name and name not in found:
            found.add(name)
            todo += [other for _, other in by_name[name].uses]
    return tuple(s.name for s in services if s.name in found)


def _address(service: ServiceDef, port: int) -> str:
    # gRPC clients take host:port, not a URL.
    if service.scheme == "grpc":
        return f"{LOCAL_HOST}:{port}"
    return f"{service.scheme}://{LOCAL_HOST}:{port}"


def _arg(arg: str, port: int, data_dir: Path) -> str:
    if arg == PYTHON:
        return sys.executable
    bin_dir = str(Path(sys.executable).parent)
    return (
        arg.replace("{bin}", bin_dir).replace("{port}", str(port)).replace("{data}", str(data_dir.resolve()))
    )


def _choose_http_ports(
    services: tuple[ServiceDef, ...], env: Mapping[str, str], taken: set[int]
) -> dict[str, tuple[int, str | None]]:
    # Chosen after the main ports, which it must not collide with; a pinned one
    # was already kept out of their fallbacks.
    chosen: dict[str, tuple[int, str | None]] = {}
    for service in services:
        if not service.http_port_env:
            continue
        port = _explicit_port(service.http_pin_env, env)
        note = None
        if port is not None:
            if port in taken or not is_free(port):
                raise PlanError(f"{service.name}: port {port} ({service.http_pin_env}) is already in use")
        else:
            port = pick_port(service.http_default_port, taken)
            if port != service.http_default_port:
                note = f"HTTP port {service.http_default_port} is taken, using {port}"
        taken.add(port)
        chosen[service.name] = (port, note)
    return chosen


def _caller_tokens(service: ServiceDef, secrets: LocalSecrets) -> str:
    return json.dumps({caller: secrets.caller_tokens[caller] for caller in service.accepts})


def secret_names(services: tuple[ServiceDef, ...]) -> tuple[list[str], list[str]]:
    """(callers that need a secret, services that need a page token key). Derived
    from the whole table, not a selection, so a partial run never rewrites the file."""
    callers = sorted(
        {c for s in services for c in s.accepts} | {s.name for s in services if s.has_caller_token}
    )
    keys = [s.name for s in services if s.page_token_key]
    return callers, keys + [f"{s.name}.session" for s in services if s.session_secret]
