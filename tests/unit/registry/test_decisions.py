"""The decision log: group-committed batches on their own chain."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from compiler.digest import canonical_json
from compiler.errors import InvalidInput
from registry.decisions import DECISION_FIELDS, DecisionLog
from registry.records import GENESIS_HASH, DecisionRecord, utc_now


def rec(i: int, output: float | None = 0.25) -> DecisionRecord:
    return DecisionRecord(utc_now(), f"req-{i}", "card-auth", "cards", 1, "d" * 64, "champion", "e" * 64,
                          output, "bad" if output else None, "OK", 900 + i)


def test_batches_chain_across_calls_and_reopen(tmp_path: Path) -> None:
    log = DecisionLog.in_home(tmp_path)
    assert log.append_batch([]) == 0
    assert log.append_batch([rec(i) for i in range(5)]) == 5
    log.close()
    log = DecisionLog.in_home(tmp_path)
    assert log.append_batch([rec(5, None), rec(6, np.float32(0.1))]) == 7
    assert log.head().seq == 7 and log.count() == 7
    report = log.verify()
    assert report.ok and report.entries == 7 and report.head == log.head()
    log.close()


def test_entry_hash_is_sha256_of_canonical_fields(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "decisions.db")
    log.append_batch([rec(0), rec(1, None)])
    prev = GENESIS_HASH
    for e in log.entries():
        body = {k: e[k] for k in DECISION_FIELDS}
        assert body["prev_hash"] == prev
        assert e["hash"] == hashlib.sha256(canonical_json(body)).hexdigest()
        prev = e["hash"]
    log.close()


def test_per_worker_files_are_separate_chains(tmp_path: Path) -> None:
    a, b = DecisionLog.in_home(tmp_path, "w1"), DecisionLog.in_home(tmp_path, "w2")
    a.append_batch([rec(0)])
    assert b.append_batch([rec(1)]) == 1
    assert (a.chain_name, b.chain_name) == ("decisions-w1", "decisions-w2")
    a.close(), b.close()


def test_non_finite_output_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    log = DecisionLog.in_home(tmp_path)
    with pytest.raises(InvalidInput, match="req-1.*finite"):
        log.append_batch([rec(0), rec(1, float("nan"))])
    assert log.count() == 0
    log.close()


@pytest.mark.parametrize("sql, bad, why", [
    ("UPDATE decisions SET output = 0.26 WHERE seq = 30", 30, "hash mismatch"),
    ("UPDATE decisions SET status = 'ERROR' WHERE seq = 1", 1, "hash mismatch"),
    ("DELETE FROM decisions WHERE seq = 64", 64, "sequence gap"),
    ("DELETE FROM decisions WHERE seq > 90", 91, "truncated"),
])
def test_tampering_with_decisions_is_named(tmp_path: Path, sql: str, bad: int, why: str) -> None:
    log = DecisionLog.in_home(tmp_path)
    for start in range(0, 100, 25):
        log.append_batch([rec(i) for i in range(start, start + 25)])
    conn = sqlite3.connect(log.path, isolation_level=None)
    conn.execute(sql)
    report = log.verify()
    assert (report.bad_seq, why in report.reason) == (bad, True), report
    log.close()


def test_synchronous_full_is_accepted(tmp_path: Path) -> None:
    log = DecisionLog.in_home(tmp_path, synchronous="FULL")
    assert log.append_batch([rec(0)]) == 1
    log.close()
