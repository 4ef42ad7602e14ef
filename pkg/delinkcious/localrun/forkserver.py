"""The local run's fork server: `python -m delinkcious.localrun.forkserver FD`.

Every service imports much the same libraries (FastAPI, pydantic, uvicorn,
SQLAlchemy, OpenTelemetry, ...), some 60 MB of each one's resident memory. This
process imports them once, freezes them out of the garbage collector's reach, and
then forks each service on request, so the services share those pages copy-on-write
(what `gunicorn --preload` does for its workers). Only third-party libraries are
preloaded: the project's own modules define metrics, which must stay those of the
service that imports them.

A forked child becomes what `python -m <module> ARGS` would have been: its own session
and process group, the runner's pipe as stdout and stderr, the service's environment,
its argv and command line, and SIGTERM when this server dies (which itself gets
SIGTERM when the runner dies). It is forked while this process has a single thread
and no event loop or connection, the only state in which fork is safe.

The protocol, JSON over a SOCK_SEQPACKET socket from the runner:
  -> {"fork": module, "args": [...], "env": {...}} with the stdout pipe's descriptor
  <- {"forked": pid} or {"error": why}
  <- {"exited": pid, "code": returncode}  (negative: the signal that killed it)
  -> {"reap": pid}  once the runner has the code; until then the child stays a zombie,
     so its pid, which the runner signals, is never reused under it.
  -> {"seal": true}  every service is forked: this process execs childwatch.py, which
     goes on reporting and reaping but holds none of the preloaded libraries, and
     answers any later fork with an error (the runner then starts that one anew).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import runpy
import socket
import sys
from dataclasses import dataclass
from typing import Any

from delinkcious.localrun.childwatch import ChildWatch
from delinkcious.localrun.procs import die_with_parent, set_command_line

# The libraries the services share; any not installed is skipped. uvicorn's loop,
# protocol and lifespan modules are the ones uvicorn.run picks at start.
PRELOAD = (
    "pydantic",
    "pydantic_settings",
    "fastapi",
    "fastapi.security",
    "starlette.middleware.base",
    "starlette.staticfiles",
    "starlette.templating",
    "uvicorn",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.lifespan.on",
    "httpx",
    "aiohttp",
    "sqlalchemy",
    "sqlalchemy.orm",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql",
    "psycopg2",
    "nats",
    "nats.js",
    "redis",
    "redis.asyncio",
    "grpc",
    "grpc.aio",
    "grpc_health.v1.health",
    "prometheus_client",
    "opentelemetry.sdk.trace",
    "opentelemetry.sdk.resources",
    "opentelemetry.instrumentation.redis",
    "pythonjsonlogger.orjson",
    "orjson",
    "re2",
    "authlib.oauth2.rfc6749.parameters",
    "authlib.oidc.core",
    "joserfc.jwt",
    "joserfc.jwk",
    "jinja2",
    "multipart",
    "wrapt",
    # Loaded by the services too, through the libraries above.
    "pydantic.v1",
    "fastapi.templating",
    "google.protobuf.timestamp_pb2",
    "opentelemetry.sdk.trace.export",
    "sqlalchemy.ext.compiler",
    "sqlite3",
    "xml.etree.ElementTree",
    "html.parser",
)


@dataclass
class Job:
    module: str
    args: list[str]
    env: dict[str, str]
    stdout: int


def preload() -> None:
    # No collection while importing: one would free objects among the kept ones and
    # leave holes in their pages, which each child's allocations would then fill,
    # copying the page (the recipe of the gc module's documentation).
    gc.disable()
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def single_threaded() -> bool:
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no /proc: trust the interpreter's count
        import threading

        return threading.active_count() == 1


def serve(sock: socket.socket) -> Job:
    """Forks children on request until the runner hangs up or seals it (then this
    process becomes childwatch.py's loop); returns only in a child."""
    watch = ChildWatch(sock)
    while True:
        request, fds = watch.next_request()
        if "seal" in request:
            for fd in fds:
                os.close(fd)
            try:
                watch.exec_watcher()
            except OSError as exc:
                # Unsealed, it only keeps its memory: dying here would take every
                # service with it (their parent-death signal).
                print(f"could not exec childwatch.py, staying as it is: {exc}", file=sys.stderr, flush=True)
            continue
        if not single_threaded():
            watch.send({"error": "the fork server has more than one thread"})
            for fd in fds:
                os.close(fd)
            continue
        parent = os.getpid()
        # Everything this process holds is never collected in a child: out of the
        # collector's generations, its pages are not written by each collection there.
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            try:
                gc.enable()
                watch.close_in_child()
                die_with_parent(parent)
                return Job(request["fork"], request["args"], request["env"], fds[0])
            except BaseException:
                os._exit(70)
        for fd in fds:
            os.close(fd)
        watch.running.add(pid)
        watch.send({"forked": pid})


def become(job: Job) -> None:
    """In the child: the process `python -m job.module *job.args` would have been."""
    os.setsid()  # its own session and process group, as the runner gives every service
    os.dup2(job.stdout, 1)
    os.dup2(job.stdout, 2)
    os.close(job.stdout)
    os.environ.clear()
    os.environ.update(job.env)
    import time

    if hasattr(time, "tzset"):
        time.tzset()  # TZ may differ from this server's
    encoding = getattr(sys.__stdout__, "encoding", None) or "utf-8"
    sys.stdout = _stdio(1, encoding, "strict")
    sys.stderr = _stdio(2, encoding, "backslashreplace")
    sys.argv = [job.module, *job.args]
    set_command_line([sys.executable, "-m", job.module, *job.args])


def _stdio(fd: int, encoding: str, errors: str) -> Any:
    """A standard stream as the interpreter makes it at start (PYTHONUNBUFFERED included)."""
    import io

    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    raw = io.FileIO(fd, "w", closefd=False)
    stream = raw if unbuffered else io.BufferedWriter(raw)
    return io.TextIOWrapper(
        stream,
        encoding=encoding,
        errors=errors,
        line_buffering=raw.isatty(),
        write_through=unbuffered,
    )


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    preload()
    job = serve(sock)
    become(job)
    # As `python -m`: SystemExit, an exception's traceback and exit code 1, atexit
    # handlers and the interpreter's shutdown all happen as they would have there.
    runpy.run_module(job.module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
