"""Schema migrations with Alembic, applied by each service at start.

Every service keeps its revisions in its own `migrations/` folder and its own
version table, so services never step on each other even when they share a
database server. On Postgres an advisory lock makes concurrent starts (several
replicas, or a migration Job racing a pod) apply each revision exactly once.

A serving process (one started by delinkcious.server) migrates in a short-lived
child process: Alembic (with Mako and its dialect modules) is some 10 MB resident
that a service would otherwise keep for its whole life to use once. The child's log
records are logged by the service, so they look like the service's own lines. An app
built in a test migrates in-process, which is quicker than starting an interpreter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("delinkcious.migrations")

# What the child runs: a fresh interpreter that imports only what migrating needs.
_CHILD = "from delinkcious.migrations import child_main; child_main()"
# A LogRecord's fields the child sends; the rest of its __dict__ are the extras.
_RECORD_FIELDS = ("name", "levelno", "levelname", "pathname", "lineno", "funcName", "created", "process")
_MAX_LINE = 4 * 1024 * 1024  # one record, a long traceback included
_SKIPPED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


_in_child_process = False


def migrate_in_child_processes() -> None:
    """From now on migrated_engine migrates in a child process (a process that goes on
    serving calls this before it starts)."""
    global _in_child_process
    _in_child_process = True


class MigrationFailed(RuntimeError):
    """The child process could not migrate; its traceback was logged."""


def upgrade_to_head(engine: Engine, script_location: Path, version_table: str) -> bool:
    """Applies every revision this code knows. Returns False, changing nothing, when the
    database is already at a revision this code does not know: a newer release
    migrated it and this older one is being rolled back to. Migrations are
    expand/contract (additive first), so the older code still runs on the newer schema."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["version_table"] = version_table
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": version_table})
        unknown = _unknown_revisions(conn, cfg, version_table)
        if unknown:
            log.warning(
                "schema is ahead of this version; not migrating",
                extra={"revisions": sorted(unknown), "version_table": version_table},
            )
            return False
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return True


def _unknown_revisions(conn: Connection, cfg: Config, version_table: str) -> set[str]:
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    current = MigrationContext.configure(conn, opts={"version_table": version_table}).get_current_heads()
    scripts = ScriptDirectory.from_config(cfg)
    unknown = set()
    for revision in current:
        try:
            if scripts.get_revision(revision) is None:
                unknown.add(revision)
        except CommandError:
            unknown.add(revision)
    return unknown


def run_env() -> None:
    """The body of every service's `migrations/env.py` (online mode only: we always
    migrate through the connection `upgrade_to_head` opened)."""
    from alembic import context

    config = context.config
    context.configure(
        connection=config.attributes["connection"],
        version_table=config.attributes["version_table"],
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def migrate_database(url: str, script_location: Path, version_table: str) -> bool:
    """`python -m <service> migrate` (and the child process): migrate and let go of the
    database. Returns upgrade_to_head's answer."""
    from delinkcious.db import create_db_engine

    engine = create_db_engine(url)
    try:
        return upgrade_to_head(engine, script_location, version_table)
    finally:
        engine.dispose()


@asynccontextmanager
async def migrated_engine(url: str, script_location: Path, version_table: str) -> AsyncIterator[Engine]:
    """A service lifespan's database: the engine, migrated before the service serves,
    disposed when it stops."""
    from delinkcious.db import create_db_engine

    engine = create_db_engine(url)
    try:
        if _in_child_process:
            await migrate_in_child(url, script_location, version_table)
        else:
            await asyncio.to_thread(upgrade_to_head, engine, script_location, version_table)
        yield engine
    finally:
        engine.dispose()


async def migrate_in_child(url: str, script_location: Path, version_table: str) -> bool:
    """upgrade_to_head in a child process, its log records logged here. The job goes
    on the child's stdin, so the database URL (and any password in it) is never on a
    command line."""
    job = {
        "url": url,
        "script_location": str(script_location),
        "version_table": version_table,
        "level": logging.getLogger().getEffectiveLevel(),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=_MAX_LINE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    outcome: dict[str, Any] = {}
    try:
        proc.stdin.write(json.dumps(job).encode())
        proc.stdin.close()
        async for line in proc.stdout:
            message = json.loads(line)
            if "record" in message:
                _log_record(message["record"])
            else:
                outcome = message
        code = await proc.wait()
    finally:
        if proc.returncode is None:  # cancelled (the service is stopping): do not leave it behind
            proc.kill()
            await proc.wait()
    if "migrated" not in outcome:
        raise MigrationFailed(outcome.get("error") or f"migration process exited with code {code}")
    return bool(outcome["migrated"])


def _log_record(fields: dict[str, Any]) -> None:
    from delinkcious.logging import redact

    record = logging.makeLogRecord(fields)
    if record.exc_text:
        # The handler's filter redacts the traceback of a live exception only; this
        # one arrives as text.
        record.exc_text = redact(record.exc_text)
    logger = logging.getLogger(record.name)
    if logger.isEnabledFor(record.levelno):
        logger.handle(record)


class _ToParent(logging.Handler):
    """The child's handler: every record as a JSON line on stdout, for the parent."""

    def emit(self, record: logging.LogRecord) -> None:
        fields = {k: getattr(record, k) for k in _RECORD_FIELDS}
        fields["msg"] = record.getMessage()
        fields.update({k: v for k, v in record.__dict__.items() if k not in _SKIPPED})
        if record.exc_info:
            fields["exc_text"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        _send({"record": fields})


def _send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message, default=str) + "\n")
    sys.stdout.flush()


def child_main() -> None:
    """The child process: reads the job from stdin, migrates, reports on stdout."""
    # Imported before logging is set up, as a service importing it at start did: its
    # plugin registry logs a line per plugin at import, which is not news.
    import alembic.command  # noqa: F401

    root = logging.getLogger()
    root.handlers[:] = [_ToParent()]
    job = json.load(sys.stdin)
    root.setLevel(job["level"])  # the parent's loggers then decide what is shown
    try:
        migrated = migrate_database(job["url"], Path(job["script_location"]), job["version_table"])
    except Exception as exc:
        log.exception("schema migration failed", extra={"version_table": job["version_table"]})
        _send({"error": f"schema migration failed: {type(exc).__name__}: {exc}"})
        raise SystemExit(1) from None
    _send({"migrated": migrated})


def database_check(engine: Callable[[], Engine]) -> Callable[[], Awaitable[None]]:
    """The readiness check of a service's database (the engine it holds at check time)."""
    from delinkcious.db import ping

    async def database() -> None:
        await asyncio.to_thread(ping, engine())

    return database
