"""Group commit for SQLite's single writer.

Every SQLite write transaction takes the file's one write lock and ends with an fsync;
saves arriving together queue for both, one at a time. Here one writer at a time
leads: it takes the lock once, runs every write waiting by then, each in its own
SAVEPOINT (a 409 or a quota refusal rolls back that write alone), and commits them in
one transaction: one lock wait and one fsync for all. No caller returns before the
commit that holds its write, so nothing is acknowledged that a crash could lose, and
each write's outbox rows stay in the transaction of its change.

The first writer to arrive leads. Once the batch holding its own write has committed
it hands the lead to the oldest waiting writer and returns, so under a steady stream
of saves no caller waits for more than the batches ahead of its own and its own.

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


@dataclass(eq=False)  # found in the queue by identity
class _Write:
    work: Callable[[Session], Any]
    done: Future[Any] = field(default_factory=Future)
    # Set under the committer's lock when this write's thread is handed the lead.
    leads: bool = False
    # Wakes the waiting caller: its result is in, or it has been handed the lead.
    wake: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.done.add_done_callback(lambda _done: self.wake.set())


class GroupCommitter:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._lock = threading.Lock()
        # Not yet in a batch, oldest first. Never left non-empty without a leader.
        self._waiting: list[_Write] = []
        self._leading = False

    def run(self, work: Callable[[Session], T]) -> T:
        """`work`'s result once the transaction holding its changes has committed;
        its exception when it raised (only its own changes are undone); the commit's
        when the transaction failed (then no write of it was made)."""
        write = _Write(work)
        with self._lock:
            self._waiting.append(write)
            if not self._leading:
                self._leading = write.leads = True
        try:
            while not write.done.done():
                if write.leads:
                    self._lead(write)
                else:
                    write.wake.wait()
        except BaseException:
            self._give_up(write)
            raise
        result: T = write.done.result()
        return result

    def _lead(self, own: _Write) -> None:
        # `own` is the oldest write waiting when its thread takes the lead, so the
        # first batch holds it; then the lead passes on while writes wait.
        while not own.done.done():
            with self._lock:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            self._commit(batch)
        with self._lock:
            own.leads = False
            self._pass_lead()

    def _give_up(self, write: _Write) -> None:
        """The caller's thread is going away (an interrupt): a write not yet taken into
        a batch is dropped, and a lead it holds passes on, so no waiter is left without
        a leader."""
        with self._lock:
            if write in self._waiting:
                self._waiting.remove(write)
            if write.leads:
                write.leads = False
                self._pass_lead()

    def _pass_lead(self) -> None:
        # Under self._lock: a writer arriving now either queues behind the new leader
        # or, finding none, leads itself; never both, never neither.
        if self._waiting:
            heir = self._waiting[0]
            heir.leads = True
            heir.wake.set()
        else:
            self._leading = False

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
