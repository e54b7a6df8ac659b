"""The recorder when things go wrong: failed writes, cancelled callers, a log that cannot open, stop.

A failed write must fail exactly the requests whose records it held (UNAVAILABLE, never a reply for an
unrecorded decision) and leave the writer serving later groups. Several of these pinned real defects of
the first recorder (a cancelled caller cancelling its whole group, a dead writer hanging requests, ...).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Callable, Coroutine

import pytest

from compiler.errors import InvalidInput
from registry.decisions import DecisionLog
from registry.records import DecisionRecord, utc_now
from server.errors import Unavailable
from server.telemetry.recorder import KEY_FILE, DecisionRecorder, RecorderConfig, load_or_create_key


def rec(rid: str, output: float | None = 0.5) -> DecisionRecord:
    return DecisionRecord(utc_now(), rid, "card-auth", "cards", 1, "d" * 64, "champion", "e" * 64, output,
                          None, "OK", 900)


class FaultyLog(DecisionLog):
    """A real DecisionLog whose n-th append_batch calls (1-based) raise, and which can hold the writer."""

    def __init__(self, path: Path, synchronous: str, fail_calls: set[int]) -> None:
        super().__init__(path, synchronous)
        self.calls = 0
        self.fail_calls = fail_calls
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def append_batch(self, records: Any) -> int:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(10)
        if self.calls in self.fail_calls:
            raise OSError(f"disk I/O error (injected on write {self.calls})")
        return super().append_batch(records)


def run(home: Path, body: Callable[[DecisionRecorder, FaultyLog], Coroutine[Any, Any, Any]],
        fail_calls: set[int] = frozenset(), **config: Any) -> None:  # type: ignore[assignment]
    logs: list[FaultyLog] = []

    def factory(sync: str) -> FaultyLog:
        logs.append(FaultyLog(home / "decisions.db", sync, set(fail_calls)))
        return logs[0]

    async def main() -> None:
        r = DecisionRecorder(factory, RecorderConfig(**config), b"k" * 32, "kid", asyncio.get_running_loop())
        r.start()
        try:
            await r.submit(rec("warm"))  # write 1: the log exists from here on
            await body(r, logs[0])
        finally:
            logs[0].release.set()
            await r.close()

    asyncio.run(main())


def request_ids(home: Path) -> list[str]:
    log = DecisionLog.in_home(home)
    try:
        assert log.verify().ok
        return [e["request_id"] for e in log.entries()]
    finally:
        log.close()


def test_a_failed_write_fails_its_waiters_and_the_writer_keeps_serving(tmp_path: Path, caplog: Any) -> None:
    async def body(r: DecisionRecorder, log: FaultyLog) -> None:
        with pytest.raises(Unavailable):
            await r.submit(rec("lost"))  # write 2 fails
        assert r.failed == 1
        await asyncio.gather(*(r.submit(rec(f"later-{i}")) for i in range(3)))
        assert r.written == 4

    run(tmp_path, body, fail_calls={2})
    assert request_ids(tmp_path) == ["warm", "later-0", "later-1", "later-2"]
    assert "decision log write failed" in caplog.text


def test_a_record_the_log_refuses_fails_its_group_only(tmp_path: Path) -> None:
    """A real refusal from registry/decisions.py (non-finite output): no reply, chain intact, writer alive."""

    async def body(r: DecisionRecorder, log: FaultyLog) -> None:
        with pytest.raises(Unavailable):
            await r.submit(rec("nan", float("nan")))
        await r.submit(rec("after"))

    run(tmp_path, body)
    assert request_ids(tmp_path) == ["warm", "after"]


def test_cancelling_one_caller_does_not_fail_the_others_in_its_group(tmp_path: Path) -> None:
    async def body(r: DecisionRecorder, log: FaultyLog) -> None:
        async def request(i: int) -> int:
            await r.submit(rec(f"c-{i}"))
            return i

        tasks = [asyncio.create_task(request(i)) for i in range(10)]
        await asyncio.sleep(0)
        tasks[0].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert results[1:] == list(range(1, 10)), results

    run(tmp_path, body)


def test_a_failed_part_of_a_split_backlog_fails_the_group(tmp_path: Path) -> None:
    async def body(r: DecisionRecorder, log: FaultyLog) -> None:
        log.entered.clear()
        log.release.clear()
        held = r.submit(rec("held"))  # write 2, held
        assert await asyncio.to_thread(log.entered.wait, 5)
        backlog = [r.submit(rec(f"q-{i}")) for i in range(10)]  # parts of 4, 4, 2: writes 3, 4, 5
        log.release.set()
        await held
        with pytest.raises(Unavailable):
            await backlog[0]  # q-0..q-3 were never written

    run(tmp_path, body, fail_calls={3}, max_group=4)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_log_that_cannot_open_fails_requests_promptly(tmp_path: Path) -> None:
    def factory(sync: str) -> DecisionLog:
        raise OSError("cannot open decisions.db")

    async def main() -> None:
        r = DecisionRecorder(factory, RecorderConfig(), b"k" * 32, "kid", asyncio.get_running_loop())
        r.start()
        try:
            with pytest.raises(Unavailable):
                await asyncio.wait_for(r.submit(rec("a")), 2)
        finally:
            await r.close()

    asyncio.run(main())


def test_submit_after_close_is_unavailable(tmp_path: Path) -> None:
    async def main() -> None:
        r = DecisionRecorder(lambda s: DecisionLog.in_home(tmp_path, None, s), RecorderConfig(), b"k" * 32, "kid",
                             asyncio.get_running_loop())
        r.start()
        await r.close()
        with pytest.raises(Unavailable):
            future = r.submit(rec("late"))
            await asyncio.wait_for(future, 1)  # type: ignore[arg-type]

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
        RecorderConfig(fsync=fsync).synchronous()
