"""`scoregate registry` and `scoregate audit` as an operator runs them: a real subprocess, a real home."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "registry"))
from conftest import build_bundle  # noqa: E402  (the shared synthetic-bundle factory)

SCOREGATE = Path(sys.executable).with_name("scoregate")


class Cli:
    def __init__(self, home: Path) -> None:
        self.home = home

    def __call__(self, actor: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([str(SCOREGATE), "--home", str(self.home), "--actor", actor, *args],
                           capture_output=True, text=True, timeout=120)
        assert "Traceback" not in r.stderr, r.stderr
        if ok:
            assert r.returncode == 0, r.stderr
        else:
            assert r.returncode != 0 and r.stderr.startswith("error: "), (r.returncode, r.stderr)
            assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        return r


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


def test_the_governed_path_from_register_to_deploy(cli: Cli, tmp_path: Path) -> None:
    b1, b2 = build_bundle(tmp_path / "b1", 1), build_bundle(tmp_path / "b2", 2)
    r = cli("alice", "registry", "register", str(b1), "--model", "cards", "--description", "card auth", "--json")
    assert json.loads(r.stdout)["version"] == 1
    cli("alice", "registry", "register", str(b2), "--model", "cards", "--parent", "1")
    assert "four-eyes" in cli("alice", "registry", "approve", "cards", "1", ok=False).stderr
    cli("bob", "registry", "approve", "cards", "1", "--comment", "validated")
    assert "already approved" in cli("carol", "registry", "approve", "cards", "1", ok=False).stderr
    assert "approved version" in cli("bob", "registry", "alias", "cards", "champion", "2", ok=False).stderr
    assert "champion -> v1" in cli("bob", "registry", "alias", "cards", "champion", "1").stdout
    assert "routing revision 1" in cli("bob", "registry", "deploy", "cards", "--champion", "1").stdout
    cli("bob", "registry", "reject", "cards", "2", "--reason", "worse AUC")
    listing = cli("x", "registry", "list").stdout
    assert "approved" in listing and "rejected" in listing
    shown = json.loads(cli("x", "registry", "show", "cards", "--json").stdout)
    assert shown["aliases"] == {"champion": 1} and shown["deployment"]["champion"] == 1
    assert json.loads(cli("x", "registry", "show", "cards", "champion", "--json").stdout)["reviewed_by"] == "bob"
    assert "still deployed as champion" in cli("bob", "registry", "retire", "cards", "1", "--reason", "x", ok=False).stderr
    entries = json.loads(cli("x", "audit", "show", "--json").stdout)
    assert [e["action"] for e in entries] == ["register", "register", "approve.refused", "approve", "approve.refused",
                                              "alias.refused", "alias", "deploy", "reject", "retire.refused"]
    assert len(json.loads(cli("x", "audit", "show", "--action", "approve", "--json").stdout)) == 3
    assert "OK    ledger: 10 entries" in cli("x", "audit", "verify").stdout


def test_bad_input_is_one_line(cli: Cli, tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b1", 1)
    (b / "schema.json").write_text("{}")
    assert "schema.json" in cli("alice", "registry", "register", str(b), "--model", "cards", ok=False).stderr
    assert "does not exist" in cli("alice", "registry", "register", str(tmp_path / "nope"), "--model", "c", ok=False).stderr
    assert "not registered" in cli("bob", "registry", "approve", "nope", "1", ok=False).stderr
    assert "positive integer" in cli("bob", "registry", "approve", "nope", "x", ok=False).stderr
    assert "--reason" in cli("bob", "registry", "reject", "cards", "1", ok=False).stderr
    actions = [e["action"] for e in json.loads(cli("x", "audit", "show", "--json").stdout)]
    assert actions == ["register.refused", "register.refused", "approve.refused", "approve.refused"]


def test_verify_fails_loudly_and_anchors_catch_truncation(cli: Cli, tmp_path: Path) -> None:
    for seed in (1, 2, 3):
        cli("alice", "registry", "register", str(build_bundle(tmp_path / f"b{seed}", seed)), "--model", "cards")
    anchor = tmp_path / "anchor.json"
    anchor.write_text(cli("x", "audit", "head", "--json").stdout)
    assert json.loads(anchor.read_text())[0] == {"chain": "ledger", "seq": 3, "hash": json.loads(anchor.read_text())[0]["hash"]}
    conn = sqlite3.connect(cli.home / "registry.db", isolation_level=None)
    conn.execute("DELETE FROM ledger WHERE seq = 3")
    r = cli("x", "audit", "verify", ok=False)
    assert "FAIL  ledger: entry 3: truncated" in r.stdout and r.returncode == 1
    conn.execute("UPDATE ledger_head SET seq = 2, hash = (SELECT hash FROM ledger WHERE seq = 2)")
    cli("x", "audit", "verify")  # the forged head hides it from the database alone...
    r = cli("x", "audit", "verify", "--anchor", str(anchor), "--json", ok=False)
    bad = [c for c in json.loads(r.stdout) if not c["ok"]]  # ...but not from the exported anchor
    assert bad[0]["bad_seq"] == 3 and "anchor" in bad[0]["reason"]


def test_audit_head_first_chains_what_a_killed_gateway_journaled(cli: Cli, tmp_path: Path) -> None:
    """An anchor exported after a gateway and its chainer were both killed covers the decisions they replied to."""
    from registry.journal import JournalWriter, encode

    cli("alice", "registry", "register", str(build_bundle(tmp_path / "b1", 1)), "--model", "cards")
    dead = JournalWriter(cli.home, "decisions-w0-111")
    for i in range(3):
        dead.append(encode([(1_700_000_000_000_000_000 + i, f"r-{i}", "c", "cards", 1, "d" * 64, "champion",
                             "kid:x", 0.5, "negative", "OK", 10)]))
    dead.close()  # the writer lock is free: its process is gone
    r = cli("x", "audit", "head", "--json")
    assert "RECOVERED journal records: 3 decisions-w0-111/" in r.stderr
    assert {"chain": "decisions-w0-111", "seq": 3} in [{k: h[k] for k in ("chain", "seq")} for h in json.loads(r.stdout)]
    assert "RECOVERED" not in cli("x", "audit", "head").stderr  # nothing left to recover
