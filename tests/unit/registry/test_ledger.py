"""The lifecycle hash chain: the encoding, and tamper evidence (raw sqlite3 edits of the real file)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from compiler.digest import canonical_json
from registry.audit import verify_ledger
from registry.ledger import CANONICAL, append_entry, verify_chain
from registry.records import GENESIS_HASH
from registry.service import Registry

N = 10


@pytest.fixture
def home(tmp_path: Path) -> Path:
    reg = Registry(tmp_path / "home", synchronous="NORMAL")
    for i in range(N):
        reg.store.write(lambda tx, i=i: append_entry(tx, f"actor{i % 3}", "note", "cards", i + 1, None,
                                                     {"i": i, "text": "x" * i}))
    reg.close()
    return tmp_path / "home"


def verify(home: Path, anchor=None):
    reg = Registry(home)
    try:
        return verify_ledger(reg, anchor)
    finally:
        reg.close()


def raw(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "registry.db", isolation_level=None)


def rehash_from(conn: sqlite3.Connection, start: int) -> None:
    """What a capable attacker does: recompute every hash from `start` on, and the head row."""
    prev = conn.execute("SELECT hash FROM ledger WHERE seq = ?", (start - 1,)).fetchone()
    prev = prev[0] if prev else GENESIS_HASH
    cols = "seq, time, actor, action, model, version, digest, details"
    for row in conn.execute(f"SELECT {cols} FROM ledger WHERE seq >= ? ORDER BY seq", (start,)).fetchall():
        body = dict(zip(cols.split(", "), row), details=json.loads(row[7]), prev_hash=prev)
        prev = hashlib.sha256(canonical_json(body)).hexdigest()
        conn.execute("UPDATE ledger SET prev_hash = ?, hash = ? WHERE seq = ?", (body["prev_hash"], prev, row[0]))
    last = conn.execute("SELECT MAX(seq) FROM ledger").fetchone()[0]
    conn.execute("UPDATE ledger_head SET seq = ?, hash = ?", (last, prev))


def test_canonical_encoder_matches_the_project_helper() -> None:
    obj = {"b": [1, 2.5, None], "a": "é", "c": {"z": 1, "y": True}}
    assert CANONICAL.encode(obj).encode() == canonical_json(obj)


def test_entry_hash_is_sha256_of_canonical_fields_and_chains_from_genesis(home: Path) -> None:
    conn = raw(home)
    rows = conn.execute("SELECT seq, time, actor, action, model, version, digest, details, prev_hash, hash "
                        "FROM ledger ORDER BY seq").fetchall()
    prev = GENESIS_HASH
    for seq, time, actor, action, model, version, digest, details, prev_hash, h in rows:
        body = {"seq": seq, "time": time, "actor": actor, "action": action, "model": model, "version": version,
                "digest": digest, "details": json.loads(details), "prev_hash": prev}
        assert prev_hash == prev
        assert h == hashlib.sha256(canonical_json(body)).hexdigest()
        prev = h
    assert conn.execute("SELECT seq, hash FROM ledger_head").fetchone() == (N, prev)
    report = verify(home)
    assert report.ok and report.entries == N and report.head.hash == prev


@pytest.mark.parametrize("sql, bad, why", [
    ("UPDATE ledger SET actor = 'actor9' WHERE seq = 4", 4, "hash mismatch"),
    ("UPDATE ledger SET details = replace(details, 'xxx', 'xxy') WHERE seq = 6", 6, "hash mismatch"),
    ("UPDATE ledger SET details = '{\"i\": 2, \"text\": \"xx\"}' WHERE seq = 3", 3, "not canonical"),
    ("UPDATE ledger SET version = 99 WHERE seq = 2", 2, "hash mismatch"),
    ("UPDATE ledger SET hash = substr(hash, 1, 63) || (CASE substr(hash, 64) WHEN 'f' THEN '0' ELSE 'f' END) "
     "WHERE seq = 5", 5, "mismatch"),
    ("DELETE FROM ledger WHERE seq = 5", 5, "sequence gap"),
    ("DELETE FROM ledger WHERE seq = 1", 1, "sequence gap"),
    ("DELETE FROM ledger WHERE seq > 7", 8, "truncated"),
])
def test_tampering_names_the_first_bad_entry(home: Path, sql: str, bad: int, why: str) -> None:
    conn = raw(home)
    assert conn.execute(sql).rowcount == 1 or sql.startswith("DELETE FROM ledger WHERE seq >")
    report = verify(home)
    assert not report.ok
    assert report.bad_seq == bad, report
    assert why in report.reason


def test_swapped_entries_are_caught_at_the_first(home: Path) -> None:
    conn = raw(home)
    cols = "time, actor, action, model, version, digest, details, prev_hash, hash"
    a = conn.execute(f"SELECT {cols} FROM ledger WHERE seq = 4").fetchone()
    b = conn.execute(f"SELECT {cols} FROM ledger WHERE seq = 5").fetchone()
    sets = ", ".join(f"{c} = ?" for c in cols.split(", "))
    conn.execute(f"UPDATE ledger SET {sets} WHERE seq = 4", b)
    conn.execute(f"UPDATE ledger SET {sets} WHERE seq = 5", a)
    report = verify(home)
    assert (report.bad_seq, "prev_hash mismatch" in report.reason) == (4, True)


def test_an_inserted_entry_with_a_valid_hash_breaks_its_successor(home: Path) -> None:
    conn = raw(home)
    conn.execute("UPDATE ledger SET seq = seq + 100 WHERE seq >= 5")
    conn.execute("UPDATE ledger SET seq = seq - 99 WHERE seq >= 105")
    prev = conn.execute("SELECT hash FROM ledger WHERE seq = 4").fetchone()[0]
    body = {"seq": 5, "time": "2026-01-01T00:00:00.000000+00:00", "actor": "mallory", "action": "approve",
            "model": "cards", "version": 1, "digest": None, "details": {}, "prev_hash": prev}
    h = hashlib.sha256(canonical_json(body)).hexdigest()
    conn.execute("INSERT INTO ledger VALUES (5, ?, 'mallory', 'approve', 'cards', 1, NULL, '{}', ?, ?)",
                 (body["time"], prev, h))
    conn.execute("UPDATE ledger_head SET seq = seq + 1")
    report = verify(home)
    assert report.bad_seq == 6 and "prev_hash mismatch" in report.reason


def test_a_duplicated_entry_is_named(home: Path) -> None:
    conn = raw(home)
    conn.execute(f"INSERT INTO ledger SELECT {N + 1}, time, actor, action, model, version, digest, details, "
                 "prev_hash, hash FROM ledger WHERE seq = 3")
    report = verify(home)
    assert report.bad_seq == N + 1 and "duplicate of entry 3" in report.reason


def test_duplicate_sequence_numbers_are_named() -> None:
    h1 = hashlib.sha256(b"").hexdigest()
    rows = [(1, GENESIS_HASH, h1), (1, GENESIS_HASH, h1)]  # a table without the primary key, copied row
    report = verify_chain("c", rows, lambda r: b"", head=None)
    assert report.bad_seq == 1 and "duplicate sequence 1" in report.reason


def test_entries_appended_behind_the_heads_back_are_named(home: Path) -> None:
    conn = raw(home)
    last = conn.execute("SELECT hash FROM ledger WHERE seq = ?", (N,)).fetchone()[0]
    conn.execute(f"INSERT INTO ledger VALUES ({N + 1}, 't', 'mallory', 'x', NULL, NULL, NULL, '{{}}', ?, 'h')", (last,))
    report = verify(home)
    assert not report.ok and report.bad_seq == N + 1


def test_truncation_with_a_forged_head_needs_the_exported_anchor(home: Path) -> None:
    anchor = (verify(home).head.seq, verify(home).head.hash)
    conn = raw(home)
    conn.execute("DELETE FROM ledger WHERE seq > 7")
    conn.execute("UPDATE ledger_head SET seq = 7, hash = (SELECT hash FROM ledger WHERE seq = 7)")
    assert verify(home).ok  # undetectable from inside the database: documented
    report = verify(home, anchor)
    assert report.bad_seq == 8 and "anchor" in report.reason


def test_a_full_rewrite_is_caught_only_by_the_anchor(home: Path) -> None:
    anchor = (verify(home).head.seq, verify(home).head.hash)
    conn = raw(home)
    conn.execute("UPDATE ledger SET actor = 'mallory' WHERE seq = 3")
    rehash_from(conn, 3)
    assert verify(home).ok
    report = verify(home, anchor)
    assert report.bad_seq == N and "anchor mismatch" in report.reason
