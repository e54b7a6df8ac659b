"""The SQLite store: WAL, migrations, atomic writes, and busy handling in one place."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from compiler.errors import InvalidInput, PreconditionFailed
from registry.migrations import REGISTRY_MIGRATIONS
from registry.sqlite_store import SqliteStore, StoreBusy, is_busy


def open_store(path: Path, **kw) -> SqliteStore:
    return SqliteStore(path, REGISTRY_MIGRATIONS, **kw)


def test_opens_in_wal_with_schema_version(tmp_path: Path) -> None:
    store = open_store(tmp_path / "r.db")
    assert store.read(lambda tx: tx.one("PRAGMA journal_mode")[0]) == "wal"
    assert store.read(lambda tx: tx.one("SELECT version FROM schema_version")[0]) == len(REGISTRY_MIGRATIONS)
    store.close()
    again = open_store(tmp_path / "r.db")  # reopening applies nothing twice
    assert again.read(lambda tx: tx.one("SELECT revision FROM routing")[0]) == 0
    again.close()


def test_refuses_a_database_newer_than_the_code(tmp_path: Path) -> None:
    open_store(tmp_path / "r.db").close()
    conn = sqlite3.connect(tmp_path / "r.db")
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(PreconditionFailed, match="schema version is 99"):
        open_store(tmp_path / "r.db")


def test_forward_migration_applies_only_the_new_step(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "m.db", (("CREATE TABLE a (x INTEGER)",),))
    store.write(lambda tx: tx.execute("INSERT INTO a VALUES (1)"))
    store.close()
    store = SqliteStore(tmp_path / "m.db", (("CREATE TABLE a (x INTEGER)",), ("ALTER TABLE a ADD COLUMN y TEXT",)))
    assert store.read(lambda tx: tx.all("SELECT x, y FROM a")) == [(1, None)]
    assert store.read(lambda tx: tx.one("SELECT version FROM schema_version")[0]) == 2
    store.close()


def test_a_failing_write_leaves_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path / "r.db")

    def fn(tx):
        tx.execute("UPDATE routing SET revision = 5")
        raise InvalidInput("boom")

    with pytest.raises(InvalidInput):
        store.write(fn)
    assert store.read(lambda tx: tx.one("SELECT revision FROM routing")[0]) == 0
    store.close()


def test_rejects_unknown_synchronous(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="synchronous must be one of"):
        open_store(tmp_path / "r.db", synchronous="OFF")


def test_waits_for_another_writer_then_succeeds(tmp_path: Path) -> None:
    store = open_store(tmp_path / "r.db", busy_timeout_ms=10)
    other = sqlite3.connect(tmp_path / "r.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    timer.start()
    store.write(lambda tx: tx.execute("UPDATE routing SET revision = revision + 1"))
    timer.join()
    assert store.read(lambda tx: tx.one("SELECT revision FROM routing")[0]) == 1
    other.close()
    store.close()


def test_gives_up_with_a_domain_error_never_database_is_locked(tmp_path: Path) -> None:
    store = open_store(tmp_path / "r.db", busy_timeout_ms=10, busy_deadline_s=0.2)
    other = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreBusy, match="still locked by another writer") as info:
        store.write(lambda tx: tx.execute("UPDATE routing SET revision = 1"))
    assert "database is locked" not in str(info.value)
    other.execute("ROLLBACK")
    other.close()
    store.close()


def test_is_busy_only_for_lock_errors() -> None:
    assert not is_busy(sqlite3.OperationalError("no such table: x"))
    assert not is_busy(ValueError("locked"))
