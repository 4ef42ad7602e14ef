"""Group commit for SQLite's single writer.

Every SQLite write transaction takes the file's one write lock and ends with an fsync;
saves arriving together queue for both, one at a time. Here the first writer to
arrive leads: it takes the lock once, runs every write waiting by then, each in its
own SAVEPOINT (a 409 or a quota refusal rolls back that write alone), and commits
them in one transaction: one lock wait and one fsync for all. No caller returns
before the commit that holds its write, so nothing is acknowledged that a crash could
lose, and each write's outbox rows stay in the transaction of its change.

Work runs on the leader's thread, so it must not read thread-local state (the
caller's trace context is captured before and passed in).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from delinkcious.db import transaction

T = TypeVar("T")

# Writes per transaction at most: bounds how long one holds the lock.
MAX_BATCH = 64


@dataclass
class _Write:
    work: Callable[[Session], Any]
    done: Future[Any] = field(default_factory=Future)


class GroupCommitter:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._lock = threading.Lock()
        self._waiting: list[_Write] = []
        self._leading = False

    def run(self, work: Callable[[Session], T]) -> T:
        """`work`'s result once the transaction holding its changes has committed;
        its exception when it raised (only its own changes are undone); the commit's
        when the transaction failed (then no write of it was made)."""
        write = _Write(work)
        with self._lock:
            self._waiting.append(write)
            lead = not self._leading
            self._leading = True
        if lead:
            self._lead()
        result: T = write.done.result()
        return result

    def _lead(self) -> None:
        try:
            while True:
                with self._lock:
                    batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                    if not batch:
                        self._leading = False
                        return
                self._commit(batch)
        except BaseException as exc:
            # The leader's thread is going away (an interrupt): fail what waits rather
            # than leave it without a leader.
            with self._lock:
                stranded, self._waiting, self._leading = self._waiting, [], False
            for write in stranded:
                write.done.set_exception(exc)
            raise

    def _commit(self, batch: list[_Write]) -> None:
        results: list[tuple[_Write, Any, BaseException | None]] = []
        try:
            with transaction(self._sessions) as s:
                for write in batch:
                    try:
                        with s.begin_nested():
                            results.append((write, write.work(s), None))
                    except Exception as exc:
                        if not _in_transaction(s):
                            # SQLite rolled the whole transaction back (a full disk, an
                            # I/O error): what follows would run outside it.
                            raise
                        results.append((write, None, exc))
        except BaseException as exc:
            # Nothing of the batch was committed: every write fails with the cause.
            for write in batch:
                write.done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for write, value, error in results:
            if error is None:
                write.done.set_result(value)
            else:
                write.done.set_exception(error)


def _in_transaction(s: Session) -> bool:
    driver = s.connection().connection.driver_connection
    return bool(getattr(driver, "in_transaction", True))
