"""The local system: start every process, wait until each is ready, stop them all.

`make run` and the end-to-end tests both go through LocalSystem, so the tests
exercise exactly what a developer runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TextIO

from delinkcious.localrun.catalog import SERVICES, ServiceDef, select
from delinkcious.localrun.forked import ForkServer, ForkUnavailable
from delinkcious.localrun.lock import LOCK_FILE, RunLock
from delinkcious.localrun.logs import Printer, render
from delinkcious.localrun.plan import PlanError, ProcessSpec, plan, secret_names
from delinkcious.localrun.procs import Process, die_with_runner, signal_group, wait_group_gone
from delinkcious.localrun.secretfile import SECRETS_FILE, load_or_create

DATA_DIR_ENV = "DELINKCIOUS_DATA_DIR"
READY_TIMEOUT_ENV = "DELINKCIOUS_READY_TIMEOUT"
# "0": start every Python service as its own interpreter instead of forking it from
# the fork server (which shares the libraries' memory among them).
FORK_ENV = "DELINKCIOUS_FORK_SERVER"
DEFAULT_READY_TIMEOUT = 60.0
TAIL_LINES = 40
_POLL = 0.2
# Probes go straight to 127.0.0.1, never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def default_data_dir(env: Mapping[str, str]) -> Path:
    """DELINKCIOUS_DATA_DIR, else `.data` at the repository root."""
    if env.get(DATA_DIR_ENV):
        return Path(env[DATA_DIR_ENV]).expanduser().resolve()
    here = Path(__file__).resolve()
    root = next((p for p in here.parents if (p / "pyproject.toml").is_file()), Path.cwd())
    return root / ".data"


class StartupError(RuntimeError):
    """A service died or never became ready; the message names it and shows its last lines."""


class StopRequested(RuntimeError):
    """A stop was requested (Ctrl-C, SIGTERM) before every service was ready."""


@dataclass
class _Child:
    spec: ProcessSpec
    proc: Process
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    reader: threading.Thread | None = None


class LocalSystem:
    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        only: Iterable[str] | None = None,
        out: TextIO | None = None,
        ready_timeout: float | None = None,
        stop_timeout: float = 10.0,
        services: tuple[ServiceDef, ...] = SERVICES,
    ) -> None:
        self.env = dict(os.environ if env is None else env)
        self.data_dir = Path(data_dir).resolve() if data_dir else default_data_dir(self.env)
        self._table = services
        self.services = select(services, set(only) if only is not None else None)
        self.printer = Printer(out or sys.stdout, [s.name for s in self.services])
        self.ready_timeout = ready_timeout or _seconds(self.env, READY_TIMEOUT_ENV, DEFAULT_READY_TIMEOUT)
        self.stop_timeout = stop_timeout
        self._lock = RunLock(self.data_dir / LOCK_FILE)
        self._children: list[_Child] = []
        self._ready: set[str] = set()  # the processes seen ready since they last started
        self._stop = threading.Event()
        self.specs: list[ProcessSpec] = []
        self.fork_server_enabled = self.env.get(FORK_ENV, "1").strip() != "0"
        self._forks: ForkServer | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> dict[str, str]:
        """Starts every service and returns {name: url} once all are ready.
        Raises AlreadyRunning, PlanError, StartupError or StopRequested; on any
        failure everything already started is stopped first."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock.acquire()
        try:
            callers, page_keys = secret_names(self._table)
            secrets = load_or_create(self.data_dir / SECRETS_FILE, callers, page_keys)
            self.specs = plan(self.services, data_dir=self.data_dir, env=self.env, secrets=secrets)
            if self.fork_server_enabled and any(spec.module for spec in self.specs):
                # Started first: it imports the libraries while NATS and Redis start.
                self._forks = ForkServer(self._fork_server_env(), self.printer.say)
            deadline = time.monotonic() + self.ready_timeout
            for spec in self.specs:
                for note in spec.notes:
                    self.printer.say(f"{spec.name}: {note}")
                if not spec.starts_after:
                    self._spawn(spec)
            for spec in self.specs:
                if spec.starts_after:
                    self.printer.say(f"{spec.name} starts once {', '.join(spec.starts_after)} are ready")
                    self._wait_ready(deadline, spec.starts_after)
                    self._spawn(spec)
                    # A process started late gets the whole timeout of its own.
                    deadline = time.monotonic() + self.ready_timeout
            self._wait_ready(deadline)
            if self._forks is not None:
                # Every service is forked: the server's copy of the libraries is
                # memory nobody uses any more (a restart starts the service anew).
                self._forks.seal()
        except BaseException:
            self.stop()
            raise
        return {spec.name: spec.url for spec in self.specs}

    def request_stop(self) -> None:
        """Safe from a signal handler: start() and wait() return soon after."""
        self._stop.set()

    def wait(self) -> str | None:
        """Blocks until a stop is requested (None) or a service exits (its name)."""
        while not self._stop.wait(_POLL):
            for child in self._children:
                if child.proc.poll() is not None:
                    if child.reader:
                        child.reader.join(timeout=2)  # its last words before our message
                    return child.spec.name
        return None

    def stop(self) -> None:
        """SIGTERM to every process group, SIGKILL to what is left after
        stop_timeout, then reap everything. Idempotent."""
        alive = [c for c in reversed(self._children) if c.proc.poll() is None]
        if alive:
            self.printer.say(f"stopping {', '.join(c.spec.name for c in alive)}")
        # The services first, then NATS and Redis: a service still publishing or
        # acknowledging while it shuts down must find its broker there.
        self._terminate([c for c in alive if not c.spec.infrastructure])
        self._terminate([c for c in alive if c.spec.infrastructure])
        for child in self._children:
            child.proc.wait()
            # Anything the service started in its group goes with it.
            signal_group(child.proc, signal.SIGKILL)
            if not wait_group_gone(child.proc.pid, timeout=5):
                self.printer.say(f"{child.spec.name}: processes of group {child.proc.pid} survived SIGKILL")
            if child.reader:
                child.reader.join(timeout=2)
            # A reader still blocked means something outside the group holds the
            # pipe; closing under it would block us too, so leave it to the daemon thread.
            if child.proc.stdout and not (child.reader and child.reader.is_alive()):
                child.proc.stdout.close()
        if self._forks is not None:
            self._forks.close()
            self._forks = None
        if alive:
            self.printer.say("stopped")
        self._children = []
        self._ready.clear()
        self._lock.release()

    def _terminate(self, children: list[_Child]) -> None:
        """SIGTERM to each, together; SIGKILL to any still running after stop_timeout."""
        for child in children:
            signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for child in children:
            try:
                child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.printer.say(f"{child.spec.name} did not stop in {self.stop_timeout:g} s, killing it")
                signal_group(child.proc, signal.SIGKILL)
                child.proc.wait()

    def __enter__(self) -> LocalSystem:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signals one service's process group and waits for it to exit (fault drills)."""
        child = self._child(name)
        signal_group(child.proc, sig)
        child.proc.wait(timeout=self.stop_timeout)

    def restart(self, name: str) -> None:
        """Stops one service if it still runs, starts it again with the same
        configuration, and returns once it is ready."""
        child = self._child(name)
        if child.proc.poll() is None:
            self.kill(name, signal.SIGTERM)
        self._children.remove(child)
        self._ready.discard(name)
        self._spawn(child.spec)
        self._wait_ready(time.monotonic() + self.ready_timeout)

    def _child(self, name: str) -> _Child:
        for child in self._children:
            if child.spec.name == name:
                return child
        raise KeyError(f"{name} is not running under this runner")

    # -- details -----------------------------------------------------------

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def pids(self) -> dict[str, int]:
        return {c.spec.name: c.proc.pid for c in self._children}

    @property
    def fork_server_pid(self) -> int | None:
        """The process the Python services are forked from (it shares their libraries'
        memory, so a measure of the run's memory counts it), while it runs."""
        return self._forks.pid if self._forks is not None else None

    def returncode(self, name: str) -> int | None:
        return next((c.proc.poll() for c in self._children if c.spec.name == name), None)

    def last_lines(self, name: str) -> list[str]:
        return next((list(c.tail) for c in self._children if c.spec.name == name), [])

    def _fork_server_env(self) -> dict[str, str]:
        env = dict(self.env)
        env["PYTHONUNBUFFERED"] = "1"  # its own output; each service gets its spec's environment
        # Names the run it belongs to. /proc/<pid>/environ of a forked service shows the
        # environment this server started with, so it names the data folder too.
        env[DATA_DIR_ENV] = str(self.data_dir)
        return env

    def _spawn(self, spec: ProcessSpec) -> None:
        proc = self._fork(spec) if spec.module else None
        child = _Child(spec, proc or self._popen(spec))
        child.reader = threading.Thread(
            target=self._pump, args=(child,), name=f"log-{spec.name}", daemon=True
        )
        child.reader.start()
        self._children.append(child)

    def _fork(self, spec: ProcessSpec) -> Process | None:
        if self._forks is None or spec.module is None:
            return None
        try:
            return self._forks.spawn(spec.module, list(spec.argv[3:]), spec.env)
        except ForkUnavailable as exc:
            self.printer.say(f"{spec.name}: {exc}; starting it as a process of its own")
            return None

    def _popen(self, spec: ProcessSpec) -> Process:
        return subprocess.Popen(
            spec.argv,
            env=spec.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own session and process group: the terminal's Ctrl-C reaches only
            # the runner, which then stops the services in order, and a signal to
            # the group reaches anything the service started.
            start_new_session=True,
            preexec_fn=die_with_runner(os.getpid()),
        )

    def _pump(self, child: _Child) -> None:
        stream: IO[bytes] | None = child.proc.stdout
        if stream is None:
            return
        for raw in iter(stream.readline, b""):
            for text in render(raw.decode(errors="replace").rstrip("\r\n")):
                child.tail.append(text)
                self.printer.line(child.spec.name, text)

    def _wait_ready(self, deadline: float, names: Iterable[str] | None = None) -> None:
        """Returns once every running process (or those in `names`) answered its
        readiness check; each is announced once."""
        wanted = None if names is None else set(names)
        pending = {
            c.spec.name: c
            for c in self._children
            if c.spec.ready_url
            and c.spec.name not in self._ready
            and (wanted is None or c.spec.name in wanted)
        }
        last: dict[str, str] = {}
        while pending:
            if self._stop.is_set():
                raise StopRequested("stopped before every service was ready")
            for name, child in list(pending.items()):
                code = child.proc.poll()
                if code is not None:
                    if child.reader:
                        child.reader.join(timeout=2)
                    raise StartupError(self._failure(child, f"exited with code {code} before it was ready"))
                assert child.spec.ready_url is not None
                ok, last[name] = _probe(child.spec.ready_url)
                if ok:
                    self.printer.say(f"{name} is ready on {child.spec.url}")
                    self._ready.add(name)
                    del pending[name]
            if pending and time.monotonic() > deadline:
                child = next(iter(pending.values()))
                name = child.spec.name
                url = child.spec.ready_url
                probe = "connect to" if url and url.startswith("tcp://") else "GET"
                raise StartupError(
                    self._failure(
                        child,
                        f"was not ready after {self.ready_timeout:g} s "
                        f"({probe} {url}: {last.get(name, 'no answer')})",
                    )
                )
            if pending:
                self._stop.wait(_POLL)

    def _failure(self, child: _Child, what: str) -> str:
        lines = list(child.tail) or ["(no output)"]
        shown = "\n".join(f"    {ln}" for ln in lines[-20:])
        return f"{child.spec.name} {what}. Its last lines:\n{shown}"


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise PlanError(f"{name}={raw!r} is not a number of seconds")
    return value


def _probe(url: str) -> tuple[bool, str]:
    if url.startswith("tcp://"):
        host, _, port = url.removeprefix("tcp://").rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=2):
                return True, "accepting connections"
        except OSError as exc:
            return False, str(exc)
    try:
        with _OPENER.open(url, timeout=2) as resp:
            return resp.status == 200, f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        body = exc.read(300).decode(errors="replace")
        return False, f"HTTP {exc.code} {body}".strip()
    except (urllib.error.URLError, OSError) as exc:
        return False, str(getattr(exc, "reason", exc))
