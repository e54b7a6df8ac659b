"""SIGKILL the recording process mid-stream: no record of a sent reply is lost; the chain verifies.

A real subprocess (tests/integration/recorder_child.py) journals each decision before printing its request
id. We read its replies for a moment, SIGKILL it, drain the pipe, then open its real database. Two ways:
  - the gateway alone dies: its chainer sees the end of its pipe, chains the rest and removes the journal;
  - the gateway and its chainer die together (the whole process group): the journal is left behind, and
    `scoregate audit verify` (registry.audit.recover_journals) chains it before verifying.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from registry.audit import recover_journals
from registry.decisions import DecisionLog
from registry.records import DecisionRecord, utc_now

CHILD = Path(__file__).with_name("recorder_child.py")


def replies_until_killed(home: Path, fsync: str, producers: int, seconds: float, group: bool) -> list[str]:
    """Start the child, read replies until `seconds` after the first one, SIGKILL it (and with `group` its
    chainer too), drain the pipe."""
    proc = subprocess.Popen([sys.executable, str(CHILD), str(home), fsync, str(producers)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).parents[2],
                            start_new_session=True)
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert first.endswith(b"\n"), proc.stderr.read().decode()  # type: ignore[union-attr]
        lines = [first]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            lines.append(proc.stdout.readline())  # type: ignore[union-attr]
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            os.kill(proc.pid, signal.SIGKILL)
        lines += proc.stdout.read().splitlines(keepends=True)  # type: ignore[union-attr]
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    return [ln.decode().strip() for ln in lines if ln.endswith(b"\n")]  # a torn last line was never a reply


def settle(home: Path, group: bool) -> None:
    """Group kill: recover the journal as `audit verify` does. Gateway only: wait for its chainer to finish."""
    if group:  # the killed chainer's lock goes with its process, a moment after the kill is sent
        deadline = time.monotonic() + 10
        while not (lines := recover_journals(home)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(lines) == 1 and lines[0].startswith("recovered "), lines
        return
    deadline = time.monotonic() + 30
    while list((home / "journals").glob("*/*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not list((home / "journals").glob("*/*")), "the orphaned chainer did not finish the journal"
    assert recover_journals(home) == []


@pytest.mark.slow
@pytest.mark.parametrize("run,fsync,producers,group", [(1, "group", 1, False), (2, "interval:1", 8, True),
                                                       (3, "group", 32, True), (4, "interval:1", 32, False)])
def test_sigkill_loses_no_acknowledged_decision(tmp_path: Path, run: int, fsync: str, producers: int,
                                                group: bool) -> None:
    replies = replies_until_killed(tmp_path, fsync, producers, seconds=0.5 + 0.2 * run, group=group)
    assert len(replies) > 50, len(replies)
    settle(tmp_path, group)
    log = DecisionLog.in_home(tmp_path, "w0")
    try:
        report = log.verify()
        assert report.ok, report
        stored = {e["request_id"] for e in log.entries()}
        missing = [r for r in replies if r not in stored]
        assert not missing, f"{len(missing)} replied but unrecorded, e.g. {missing[:5]}"
        assert report.entries == len(stored) >= len(replies)
        # the chain continues after the crash
        log.append_batch([DecisionRecord(utc_now(), "after-crash", "t", "cards", 1, "d", "champion", "x", None,
                                         None, "OK", 1)])
        assert log.verify().ok
    finally:
        log.close()
