"""Reading and verifying a whole home: filters, heads, anchors, several chains."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from compiler.errors import InvalidInput
from registry.audit import heads, ledger_entries, load_anchors, verify_all
from registry.decisions import DecisionLog
from registry.records import DecisionRecord, utc_now
from registry.service import Registry


@pytest.fixture
def reg(registry: Registry, make_bundle) -> Registry:
    registry.register(make_bundle(1), "cards", "alice")
    registry.register(make_bundle(2), "loans", "alice")
    registry.approve("cards", 1, "bob")
    with pytest.raises(Exception):
        registry.approve("loans", 1, "alice")
    return registry


def test_filters(reg: Registry) -> None:
    assert [e.seq for e in ledger_entries(reg)] == [1, 2, 3, 4]
    assert [e.action for e in ledger_entries(reg, model="loans")] == ["register", "approve.refused"]
    assert [e.action for e in ledger_entries(reg, action="approve")] == ["approve", "approve.refused"]
    assert [e.seq for e in ledger_entries(reg, limit=2)] == [3, 4]
    assert ledger_entries(reg, since="2999-01-01") == []
    assert len(ledger_entries(reg, since="2000-01-01T00:00:00Z")) == 4
    with pytest.raises(InvalidInput, match="ISO-8601"):
        ledger_entries(reg, since="yesterday")


def test_verify_all_covers_every_chain_and_anchors(reg: Registry, tmp_path: Path) -> None:
    for name in (None, "w1"):
        log = DecisionLog.in_home(reg.home, name)
        log.append_batch([DecisionRecord(utc_now(), "r", "c", "cards", 1, "d" * 64, "champion", "e" * 64, 0.5,
                                         None, "OK", 1)] * 3)
        log.close()
    reports = verify_all(reg)
    assert [(r.chain, r.ok, r.entries) for r in reports] == [
        ("ledger", True, 4), ("decisions", True, 3), ("decisions-w1", True, 3)]
    anchor_file = tmp_path / "anchor.json"
    anchor_file.write_text(json.dumps([h.to_dict() for h in heads(reg)]))
    anchors = load_anchors(anchor_file)
    assert all(r.ok for r in verify_all(reg, anchors))
    conn = sqlite3.connect(reg.home / "decisions-w1.db", isolation_level=None)
    conn.execute("DELETE FROM decisions WHERE seq = 3")
    conn.execute("UPDATE decisions_head SET seq = 2, hash = (SELECT hash FROM decisions WHERE seq = 2)")
    bad = [r for r in verify_all(reg, anchors) if not r.ok]
    assert [(r.chain, r.bad_seq) for r in bad] == [("decisions-w1", 3)]
    (reg.home / "decisions-w1.db").unlink()
    bad = [r for r in verify_all(reg, anchors) if not r.ok]
    assert [r.chain for r in bad] == ["decisions-w1"] and "missing" in bad[0].reason


def test_bad_anchor_file(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="audit head --json"):
        load_anchors(tmp_path / "a.json")
