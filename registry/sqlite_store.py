"""The SQLite store: one file, WAL, serialised writers, and the one place that retries a busy database.

Why these settings:
- WAL lets readers (the gateway polling the routing revision) run while a writer commits.
- Every write transaction starts with `BEGIN IMMEDIATE`, which takes the write lock *before* reading, so
  a read-modify-write (next version number, chain head) can never be interleaved with another writer:
  no lost updates, no SQLITE_BUSY_SNAPSHOT half-way through.
- `busy_timeout` makes SQLite wait for the lock itself; if it still reports busy, `write`/`read` back off
  and rerun the whole function, up to `busy_deadline_s`. Only then does the caller see an error, and it
  is a one-line StoreBusy, never a raw "database is locked".
- `synchronous`: FULL fsyncs the WAL on every commit (survives power loss); NORMAL hands the commit to the
  OS only (survives a killed process, but power loss can drop the last commits; the chain stays valid
  up to its last complete entry).
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

from compiler.errors import InvalidInput, ScoregateError
from registry.migrations import Migration, migrate

T = TypeVar("T")
SYNCHRONOUS = ("FULL", "NORMAL")
_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (primary codes)


class StoreBusy(ScoregateError):
    """The database stayed locked by another writer for longer than the deadline (new class, registry-only)."""


def is_busy(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _BUSY_CODES
    msg = str(exc)
    return "locked" in msg or "busy" in msg


class SqliteTx:
    """A thin transaction handle over one connection (see store.Tx)."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self.conn.executemany(sql, rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def savepoint(self, name: str) -> None:
        self.conn.execute(f"SAVEPOINT {name}")

    def rollback_to(self, name: str) -> None:
        self.conn.execute(f"ROLLBACK TO {name}")
        self.conn.execute(f"RELEASE {name}")


class SqliteStore:
    """A Store over one SQLite file; thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path, migrations: Sequence[Migration], synchronous: str = "FULL",
                 busy_timeout_ms: int = 2000, busy_deadline_s: float = 60.0) -> None:
        synchronous = synchronous.upper()
        if synchronous not in SYNCHRONOUS:
            raise InvalidInput(f"synchronous must be one of {SYNCHRONOUS}, got {synchronous!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._deadline = busy_deadline_s
        self._lock = threading.Lock()
        self._conn = self._retry(lambda: self._connect(synchronous, busy_timeout_ms))
        self.write(lambda tx: migrate(tx, migrations))

    def _connect(self, synchronous: str, busy_timeout_ms: int) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise InvalidInput(f"{self.path}: journal_mode is {mode!r}, expected 'wal' (network filesystem?)")
            conn.execute(f"PRAGMA synchronous = {synchronous}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _retry(self, fn: Callable[[], T]) -> T:
        """Run fn, backing off (jittered, exponential, capped) while SQLite reports busy/locked."""
        start = time.monotonic()
        delay = 0.001
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                if time.monotonic() - start > self._deadline:
                    raise StoreBusy(f"{self.path}: still locked by another writer after {self._deadline:.0f} s") from exc
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.05)

    def _transaction(self, fn: Callable[[SqliteTx], T], begin: str) -> T:
        with self._lock:
            conn = self._conn
            conn.execute(begin)
            try:
                result = fn(SqliteTx(conn))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

    def write(self, fn: Callable[[SqliteTx], T]) -> T:
        return self._retry(lambda: self._transaction(fn, "BEGIN IMMEDIATE"))

    def read(self, fn: Callable[[SqliteTx], T]) -> T:
        return self._retry(lambda: self._transaction(fn, "BEGIN DEFERRED"))

    def checkpoint(self) -> None:
        """Copy the WAL into the database file and fsync it: everything committed so far survives power loss."""
        with self._lock:
            self._retry(lambda: self._conn.execute("PRAGMA wal_checkpoint(FULL)").fetchone())

    def close(self) -> None:
        with self._lock:
            self._conn.close()
