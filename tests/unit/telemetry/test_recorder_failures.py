"""The decision recorder when things go wrong: the chainer dies, the log cannot open, the journal cannot be
written, callers are cancelled, the recorder is closed. Nothing replied is lost; the gateway keeps serving.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from compiler.errors import InvalidInput
from registry.journal import JournalWriter
from server.errors import Unavailable
from server.telemetry.recorder import KEY_FILE, DecisionRecorder, RecorderConfig, load_or_create_key
from tests.unit.telemetry.test_recorder import rec, request_ids, run, submit


def test_a_killed_chainer_is_restarted_and_nothing_is_lost(tmp_path: Path, caplog: Any) -> None:
    async def body(r: DecisionRecorder) -> None:
        for i in range(100):
            r.submit(rec(f"a-{i}"))
        os.kill(r._chainer._proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
        for i in range(100):
            r.submit(rec(f"b-{i}"))  # journaled while no chainer runs
        for _ in range(100):
            if r.stats()["chainer_restarts"]:
                break
            await asyncio.sleep(0.05)
        assert r.stats()["chainer_restarts"] == 1
        assert await r.caught_up(10)

    run(tmp_path, body)
    assert request_ids(tmp_path) == [f"a-{i}" for i in range(100)] + [f"b-{i}" for i in range(100)]
    assert "decision chainer exited" in caplog.text


def test_a_log_that_cannot_open_fails_the_start_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "decisions.db").mkdir()  # a directory where the database file belongs

    async def main() -> None:
        r = DecisionRecorder(tmp_path, "decisions", RecorderConfig(), b"k" * 32, "kid", asyncio.get_running_loop())
        with pytest.raises(Unavailable, match="decisions.db cannot be opened"):
            r.start()
        with pytest.raises(Unavailable, match="not started"):
            r.submit(rec("a"))

    asyncio.run(main())


def test_a_failed_journal_write_fails_that_request_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         caplog: Any) -> None:
    """A full disk cannot be made here, so the journal's append raises ENOSPC once (the one stand-in)."""
    real = JournalWriter.append_payload
    calls = {"n": 0}

    def append(self: JournalWriter, payload: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, payload)

    monkeypatch.setattr(JournalWriter, "append_payload", append)

    async def body(r: DecisionRecorder) -> None:
        r.submit(rec("first"))
        with pytest.raises(Unavailable, match="could not record"):
            r.submit(rec("lost"))
        r.submit(rec("after"))
        assert r.failed == 1 and r.journaled == 2

    run(tmp_path, body)
    assert request_ids(tmp_path) == ["first", "after"]
    assert "No space left" in caplog.text


def test_a_failed_in_place_write_fails_that_request_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same for the one-call path of a one-row request answered OK (ENOSPC when a segment rotates)."""
    import numpy as np

    real = JournalWriter.append_in_place
    calls = {"n": 0}

    def append(self: JournalWriter, *args: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args)

    monkeypatch.setattr(JournalWriter, "append_in_place", append)

    async def body(r: DecisionRecorder) -> None:
        for rid in ("first", "lost", "after"):
            try:
                r.record(rid, "c", "cards", 1, "d" * 64, "champion", np.ones((1, 3)), np.array([0.5]),
                         np.array([True]), "OK", 10)
            except Unavailable as exc:
                assert rid == "lost" and "could not record" in str(exc)
        assert r.failed == 1 and r.journaled == 2 and calls["n"] == 3

    run(tmp_path, body)
    assert request_ids(tmp_path) == ["first", "after"]


def test_cancelling_one_caller_does_not_fail_the_others_in_its_sync(tmp_path: Path) -> None:
    async def body(r: DecisionRecorder) -> None:
        async def request(i: int) -> int:
            await submit(r, rec(f"c-{i}"))
            return i

        tasks = [asyncio.create_task(request(i)) for i in range(10)]
        await asyncio.sleep(0)
        tasks[0].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert results[1:] == list(range(1, 10)), results

    run(tmp_path, body, fsync="group")
    assert sorted(request_ids(tmp_path)) == sorted(f"c-{i}" for i in range(10))  # the cancelled one too


def test_submit_after_close_is_unavailable(tmp_path: Path) -> None:
    async def main() -> None:
        r = DecisionRecorder(tmp_path, "decisions", RecorderConfig(), b"k" * 32, "kid", asyncio.get_running_loop())
        r.start()
        await r.close()
        with pytest.raises(Unavailable, match="stopping"):
            r.submit(rec("late"))

    asyncio.run(main())


def test_a_truncated_key_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCOREGATE_DECISION_KEY", raising=False)
    (tmp_path / KEY_FILE).write_bytes(b"")
    (tmp_path / KEY_FILE).chmod(0o600)
    with pytest.raises(InvalidInput):
        load_or_create_key(tmp_path)


@pytest.mark.parametrize("fsync", ["interval:0", "interval:-1"])
def test_a_non_positive_interval_is_refused(fsync: str) -> None:
    with pytest.raises(InvalidInput):
        RecorderConfig(fsync=fsync).durability()


def test_the_chainer_runs_idle_class_and_is_escalated_when_it_falls_behind(tmp_path: Path, caplog: Any) -> None:
    """A chainer that gets no CPU (stopped here) is restarted at normal priority once the backlog passes the
    threshold; it chains everything exactly once and then drops back to the idle class by itself."""
    idle = getattr(os, "SCHED_IDLE", None)
    if idle is None:
        pytest.skip("no SCHED_IDLE on this platform")

    async def body(r: DecisionRecorder) -> None:
        chainer = r._chainer
        assert os.sched_getscheduler(chainer._proc.pid) == idle  # type: ignore[union-attr]
        stopped = chainer._proc.pid  # type: ignore[union-attr]
        os.kill(stopped, signal.SIGSTOP)  # no CPU at all: the worst case of an idle-class process
        for i in range(60):
            r.submit(rec(f"e-{i}"))
        assert chainer.escalations == 1 and chainer.priority == "normal"  # type: ignore[union-attr]
        for _ in range(200):
            if chainer._proc.pid != stopped and chainer.priority == "idle":  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.05)
        assert chainer.priority == "idle", "the escalated chainer drops back to idle once caught up"  # type: ignore[union-attr]
        assert os.sched_getscheduler(chainer._proc.pid) == idle  # type: ignore[union-attr]
        assert await r.caught_up(10)
        assert r.stats()["chainer_restarts"] == 0 and r.stats()["chainer_escalations"] == 1

    run(tmp_path, body, escalate_backlog=50)
    assert request_ids(tmp_path) == [f"e-{i}" for i in range(60)]
    assert "restarting it at normal priority" in caplog.text
