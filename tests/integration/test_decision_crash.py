"""SIGKILL the recording process mid-stream: no record of a sent reply is lost; the chain verifies.

A real subprocess (tests/integration/recorder_child.py) records and awaits each decision before printing
its request id. We read its replies for a moment, SIGKILL it, drain the pipe, then open its real database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from registry.decisions import DecisionLog
from registry.records import DecisionRecord, utc_now

CHILD = Path(__file__).with_name("recorder_child.py")


def replies_until_killed(home: Path, fsync: str, producers: int, seconds: float) -> list[str]:
    """Start the child, read replies until `seconds` after the first one, SIGKILL it, drain the pipe."""
    proc = subprocess.Popen([sys.executable, str(CHILD), str(home), fsync, str(producers)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).parents[2])
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert first.endswith(b"\n"), proc.stderr.read().decode()  # type: ignore[union-attr]
        lines = [first]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            lines.append(proc.stdout.readline())  # type: ignore[union-attr]
        os.kill(proc.pid, signal.SIGKILL)
        lines += proc.stdout.read().splitlines(keepends=True)  # type: ignore[union-attr]
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    return [ln.decode().strip() for ln in lines if ln.endswith(b"\n")]  # a torn last line was never a reply


@pytest.mark.slow
@pytest.mark.parametrize("run,fsync,producers", [(1, "group", 1), (2, "interval:1", 8), (3, "group", 32)])
def test_sigkill_loses_no_acknowledged_decision(tmp_path: Path, run: int, fsync: str, producers: int) -> None:
    replies = replies_until_killed(tmp_path, fsync, producers, seconds=0.7 + 0.2 * run)
    assert len(replies) > 50, len(replies)
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
