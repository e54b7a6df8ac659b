"""Real processes: SIGKILL in the middle of writes loses nothing acknowledged; concurrent writers lose nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from registry.audit import ledger_entries, verify_all
from registry.decisions import DecisionLog
from registry.service import Registry

WORKER = Path(__file__).with_name("worker.py")
pytestmark = pytest.mark.slow


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=Path(__file__).parents[3])


def prepared_home(tmp_path: Path, make_bundle) -> Path:
    home = tmp_path / "home"
    reg = Registry(home, synchronous="NORMAL")
    for seed in (1, 2):
        reg.register(make_bundle(seed), "cards", "alice")
        reg.approve("cards", seed, "bob")
    reg.close()
    return home


def run_until_killed(home: Path, wid: str, acks_before_kill: int) -> list[str]:
    proc = start("crash", str(home), wid)
    acked = []
    while len(acked) < acks_before_kill:
        line = proc.stdout.readline()
        assert line, f"worker died early: {proc.stderr.read()}"
        acked.append(line.strip())
    proc.send_signal(signal.SIGKILL)
    acked += [ln.strip() for ln in proc.stdout.read().splitlines() if ln.strip()]  # flushed before death
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return acked


def test_sigkill_mid_write_loses_no_acknowledged_entry(tmp_path: Path, make_bundle) -> None:
    home = prepared_home(tmp_path, make_bundle)
    acked: list[str] = []
    for round_, n in enumerate((97, 160, 231)):
        acked += run_until_killed(home, str(round_), n)
    reg = Registry(home)
    revisions = {int(a.split()[1]) for a in acked if a.startswith("L ")}
    logged = {e.details["deployment"]["revision"] for e in ledger_entries(reg, action="deploy")}
    assert revisions <= logged and reg.routing_revision() >= max(revisions)
    log = DecisionLog.in_home(home)
    stored = {e["seq"]: e["request_id"] for e in log.entries()}
    for a in acked:
        if a.startswith("D "):
            _, seq, first_id = a.split()
            assert stored[int(seq) - 49] == first_id  # the whole acknowledged batch is there
    reports = verify_all(reg)
    assert all(r.ok for r in reports), reports
    log.close(), reg.close()


def test_two_processes_by_a_thousand_writes(tmp_path: Path, make_bundle) -> None:
    home = prepared_home(tmp_path, make_bundle)
    bundles = [str(make_bundle(seed)) for seed in range(10, 110)]
    procs = [start("concurrent", str(home), str(w), "1000", *bundles[w::2]) for w in (0, 1)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and "locked" not in err and err == "", err
    lines = [[ln.split() for ln in out.splitlines()] for out, _ in outs]
    assert [len(ls) for ls in lines] == [1000, 1000]
    versions = [[int(v) for k, v in ls if k == "V"] for ls in lines]
    revisions = [[int(v) for k, v in ls if k == "L"] for ls in lines]
    for vs, rs in zip(versions, revisions):  # each writer sees strictly increasing numbers
        assert vs == sorted(set(vs)) and rs == sorted(set(rs))
    assert sorted(versions[0] + versions[1]) == list(range(3, 103))  # no duplicate, no gap
    assert sorted(revisions[0] + revisions[1]) == list(range(1, 1901))  # no lost update
    reg = Registry(home)
    assert reg.routing_revision() == 1900 and len(reg.versions("cards")) == 102
    assert len(ledger_entries(reg, action="deploy")) == 1900
    assert all(r.ok for r in verify_all(reg))
    reg.close()
