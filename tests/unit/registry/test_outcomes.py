"""Outcomes: durable, idempotent by request id, conflicts and unknown ids refused and reported, good rows kept."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from compiler.errors import InvalidInput, NotFound
from registry.decision_index import decision_files
from registry.decisions import DecisionLog
from registry.outcomes import OutcomeItem, OutcomeStore
from registry.outcomes_csv import parse_outcomes_csv, read_outcomes_csv
from registry.records import DecisionRecord, utc_now

T = "2026-03-01T10:00:00Z"


def rec(rid: str, output: float | None = 0.3, status: str = "OK", model: str = "cards", version: int = 1,
        time: str | None = None) -> DecisionRecord:
    return DecisionRecord(time or utc_now(), rid, "card-auth", model, version, "d" * 64, "champion", "e" * 64,
                          output, None, status, 900)


def decisions(home: Path, ids: list[str], worker: str | None = None, **kw) -> None:
    log = DecisionLog.in_home(home, worker, "NORMAL")
    log.append_batch([rec(i, **kw) for i in ids])
    log.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    decisions(h, [f"r{i}" for i in range(10)])
    return h


@pytest.fixture
def store(home: Path):
    s = OutcomeStore(home, synchronous="NORMAL")
    yield s
    s.close()


def items(*rows: tuple[str, object, object]) -> list[OutcomeItem]:
    return [OutcomeItem(i + 2, *r) for i, r in enumerate(rows)]


def test_accepts_known_ids_and_stores_durably(home: Path, store: OutcomeStore) -> None:
    report = store.record(items(("r1", "1", T), ("r2", 0, T), ("r3", "0", "2026-03-01 11:00:00")), "file:a.csv")
    assert (report.accepted, report.duplicates, report.problems) == (3, 0, [])
    store.close()
    again = OutcomeStore(home, synchronous="NORMAL")
    try:
        got = again.outcome("r1")
        assert got["label"] == 1 and got["observed_at"] == "2026-03-01T10:00:00.000000+00:00"
        assert got["source"] == "file:a.csv"
        assert again.outcome("r3")["observed_at"] == "2026-03-01T11:00:00.000000+00:00"  # naive = UTC
        assert again.count() == 3
    finally:
        again.close()


def test_repeated_import_counts_duplicates_not_twice(store: OutcomeStore) -> None:
    batch = items(("r1", "1", T), ("r2", "0", T))
    assert store.record(batch, "a").accepted == 2
    report = store.record(batch, "a")
    assert (report.accepted, report.duplicates, report.problems) == (0, 2, [])
    assert store.count() == 2
    # a duplicate inside one batch is not stored twice either
    report = store.record(items(("r5", "1", T), ("r5", "1", T)), "b")
    assert (report.accepted, report.duplicates) == (1, 1)


def test_conflicting_label_is_refused_and_the_stored_label_stays(store: OutcomeStore) -> None:
    store.record(items(("r1", "1", T)), "a")
    report = store.record(items(("r2", "0", T), ("r1", "0", T), ("r2", "1", T)), "b")
    assert report.accepted == 1
    assert [(p.position, p.request_id, p.kind) for p in report.problems] == [(3, "r1", "conflict"),
                                                                            (4, "r2", "conflict")]
    assert "label 0 conflicts with the recorded label 1" in report.problems[0].message
    assert store.outcome("r1")["label"] == 1 and store.outcome("r2")["label"] == 0


def test_unknown_ids_malformed_rows_and_bad_labels_reported_good_rows_kept(store: OutcomeStore) -> None:
    future = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    report = store.record(items(("r1", "1", T), ("nope", "1", T), ("r2", "2", T), ("r3", "bad", T), ("", "1", T),
                                ("r4", "1", "yesterday"), ("r5", "1", future), ("r6", "", T), ("r7", "0", T)), "a")
    assert report.accepted == 2 and report.received == 9
    kinds = {p.position: (p.kind, p.message) for p in report.problems}
    assert kinds[3] == ("unknown", "request_id 'nope': no decision record has this request id")
    assert kinds[4] == ("invalid", "label: expected 0 or 1, got '2'")
    assert kinds[5] == ("invalid", "label: expected 0 or 1, got 'bad'")
    assert kinds[6] == ("invalid", "request_id: required")
    assert kinds[7][0] == "invalid" and "observed_at: 'yesterday' is not ISO-8601" in kinds[7][1]
    assert "in the future" in kinds[8][1]
    assert kinds[9] == ("invalid", "label: required (0 or 1)")
    assert store.outcome("r1")["label"] == 1 and store.outcome("r7")["label"] == 0 and store.count() == 2


def test_all_or_nothing_stores_nothing_when_a_row_is_refused(store: OutcomeStore) -> None:
    report = store.record(items(("r1", "1", T), ("nope", "1", T)), "a", all_or_nothing=True)
    assert (report.accepted, report.stored, len(report.problems)) == (0, False, 1)
    assert store.count() == 0
    assert store.record(items(("r1", "1", T)), "a", all_or_nothing=True).accepted == 1


def test_index_is_incremental_across_worker_files_and_sees_new_decisions(home: Path, store: OutcomeStore) -> None:
    assert store.refresh_index() == 10
    assert store.refresh_index() == 0  # nothing new: nothing scanned twice
    decisions(home, ["w-a", "w-b"], worker="w1")
    decisions(home, ["r10"])
    assert [p.name for p in decision_files(home)] == ["decisions-w1.db", "decisions.db"]
    report = store.record(items(("w-a", "1", T), ("r10", "0", T)), "a")
    assert report.accepted == 2
    assert store.refresh_index() == 0
    rows = store.store.read(lambda tx: tx.all("SELECT source, seq FROM index_progress ORDER BY source"))
    assert rows == [("decisions-w1.db", 2), ("decisions.db", 11)]


def test_a_replaced_decision_file_is_reindexed(home: Path, store: OutcomeStore) -> None:
    store.refresh_index()
    for p in home.glob("decisions.db*"):
        p.unlink()
    decisions(home, ["fresh"])
    assert store.refresh_index() == 1
    assert store.record(items(("r1", "1", T)), "a").problems[0].kind == "unknown"
    assert store.record(items(("fresh", "1", T)), "a").accepted == 1


def test_decision_files_are_only_read(home: Path, store: OutcomeStore) -> None:
    """The gateway's decision tables get no index and no writes from outcomes."""
    store.record(items(("r1", "1", T)), "a")
    conn = sqlite3.connect(home / "decisions.db")
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert names == {"decisions", "decisions_head", "schema_version", "journal_positions",
                     "sqlite_autoindex_journal_positions_1"}


def test_joined_keeps_ok_scored_latest_record_per_request(home: Path, store: OutcomeStore) -> None:
    decisions(home, ["f1"], output=None, status="INVALID_ARGUMENT")
    decisions(home, ["r1"], output=0.9, time="2999-01-01T00:00:00.000000+00:00")  # a retry, later
    decisions(home, ["r2"], output=0.7, version=2)  # another version's record: judged in its own group
    decisions(home, ["o1"], model="other")
    store.record(items(("r1", "1", T), ("r2", "0", T), ("f1", "1", T), ("o1", "1", T)), "a")
    rows = store.joined("cards")
    assert sorted((r[0], r[3], r[4]) for r in rows) == [(1, 0.3, 0), (1, 0.9, 1), (2, 0.7, 0)]
    assert [r[4] for r in store.joined("cards", since="2998-01-01T00:00:00")] == [1]
    assert [r[4] for r in store.joined("other")] == [1]


def test_csv_reader_line_numbers_and_whole_file_refusals(tmp_path: Path) -> None:
    text = ('Observed_Time,REQUEST_ID,label,note\n'
            f'{T},r1,1,x\n'
            '\n'
            f'{T},"r2\nmore",0,multi-line quoted\n'
            f'{T},r3,1\n'
            f'{T},r4,0,x,extra\n')
    got = parse_outcomes_csv(text)
    assert [(i.position, i.request_id, i.label, i.error) for i in got] == [
        (2, "r1", "1", None), (4, "r2\nmore", "0", None),
        (6, "r3", None, "3 fields, the header has 4"), (7, "r4", None, "5 fields, the header has 4")]
    with pytest.raises(InvalidInput, match="line 1: header lacks label, observed_at"):
        parse_outcomes_csv("request_id,outcome\nr1,1\n")
    with pytest.raises(InvalidInput, match="empty file"):
        parse_outcomes_csv("")
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("request_id,label,observed_at\nr\xe9,1,2026-01-01\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        read_outcomes_csv(bad)
    with pytest.raises(NotFound):
        read_outcomes_csv(tmp_path / "missing.csv")


def test_csv_rows_flow_through_with_their_line_numbers(tmp_path: Path, store: OutcomeStore) -> None:
    path = tmp_path / "o.csv"
    path.write_text(f"\ufeffrequest_id,label,observed_at\nr1,1,{T}\nr2,7,{T}\nr3,0\nzz,1,{T}\nr4,0,{T}\n")
    report = store.record(read_outcomes_csv(path), "file:o.csv")
    assert report.accepted == 2
    assert [(p.position, p.kind) for p in report.problems] == [(3, "invalid"), (4, "invalid"), (5, "unknown")]


def test_source_is_validated(store: OutcomeStore) -> None:
    with pytest.raises(InvalidInput, match="source"):
        store.record(items(("r1", "1", T)), "  ")


def test_home_paths_with_uri_characters_are_read(tmp_path: Path) -> None:
    home = tmp_path / "we#ird?home%20"
    decisions(home, ["r1"])
    store = OutcomeStore(home, synchronous="NORMAL")
    try:
        assert store.record(items(("r1", "1", T)), "a").accepted == 1
    finally:
        store.close()


def test_concurrent_imports_of_the_same_rows_store_each_once(home: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    batch = items(*((f"r{i}", str(i % 2), T) for i in range(10)))

    def run(_: int) -> tuple[int, int]:
        s = OutcomeStore(home, synchronous="NORMAL")  # its own connection, like another process
        try:
            r = s.record(batch, "a")
            return r.accepted, r.duplicates
        finally:
            s.close()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(4)))
    assert sum(a for a, _ in results) == 10 and sum(d for _, d in results) == 30
