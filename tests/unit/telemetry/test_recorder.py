"""The decision recorder: group commit, modes, the bounded queue, and the graceful-stop flush.

Real SQLite files in tmp_path throughout; the only stand-in is a DecisionLog subclass that can hold the
writer inside a write (so the tests can build a backlog deterministically) and counts its writes.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path
from typing import Any, Callable, Coroutine

import pytest

from compiler.errors import InvalidInput
from registry.decisions import DecisionLog
from registry.records import DecisionRecord, utc_now
from server.errors import Unavailable
from server.telemetry.recorder import DecisionRecorder, RecorderConfig, sampled

KEY, KEY_ID = b"k" * 32, "test-key-id"


def rec(rid: str, output: float | None = 0.5) -> DecisionRecord:
    return DecisionRecord(utc_now(), rid, "card-auth", "cards", 1, "d" * 64, "champion", "e" * 64, output,
                          "negative", "OK", 900)


class GatedLog(DecisionLog):
    """A real DecisionLog that counts its writes and can hold the writer thread inside one."""

    def __init__(self, path: Path, synchronous: str) -> None:
        super().__init__(path, synchronous)
        self.writes = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def append_batch(self, records: Any) -> int:
        self.writes += 1
        self.entered.set()
        assert self.release.wait(10), "test never released the writer"
        return super().append_batch(records)


def run(home: Path, body: Callable[[DecisionRecorder, list[GatedLog]], Coroutine[Any, Any, Any]],
        **config: Any) -> Any:
    """Start a recorder on a fresh loop over home/decisions.db, run body, always close the recorder."""
    logs: list[GatedLog] = []

    def factory(sync: str) -> GatedLog:
        logs.append(GatedLog(home / "decisions.db", sync))
        return logs[0]

    async def main() -> Any:
        r = DecisionRecorder(factory, RecorderConfig(**config), KEY, KEY_ID, asyncio.get_running_loop())
        r.start()
        try:
            return await body(r, logs)
        finally:
            if logs:
                logs[0].release.set()
            await r.close()

    return asyncio.run(main())


def request_ids(home: Path) -> list[str]:
    log = DecisionLog.in_home(home)
    try:
        assert log.verify().ok
        return [e["request_id"] for e in log.entries()]
    finally:
        log.close()


@pytest.mark.parametrize("fsync", ["group", "interval:0.05"])
def test_group_commit_writes_far_fewer_groups_than_records_in_submit_order(tmp_path: Path, fsync: str) -> None:
    async def body(r: DecisionRecorder, logs: list[GatedLog]) -> None:
        async def request(i: int) -> None:
            await r.submit(rec(f"req-{i:04d}"))

        await asyncio.gather(*(request(i) for i in range(1000)))
        assert r.written == 1000 and r.failed == 0 and r.dropped == 0
        assert r.groups == logs[0].writes  # one append_batch per group, never one per record
        assert r.groups <= 100, r.groups

    run(tmp_path, body, fsync=fsync)
    assert request_ids(tmp_path) == [f"req-{i:04d}" for i in range(1000)]


def test_records_submitted_together_share_one_future_and_one_write(tmp_path: Path) -> None:
    async def body(r: DecisionRecorder, logs: list[GatedLog]) -> None:
        logs_ready = r.submit(rec("warm"))
        await logs_ready
        logs[0].entered.clear()
        logs[0].release.clear()
        first = r.submit(rec("hold"))  # the writer takes this one alone and is held inside the write
        assert await asyncio.to_thread(logs[0].entered.wait, 5)
        futures = [r.submit(rec(f"g-{i}")) for i in range(50)]
        assert len({id(f) for f in futures}) == 1  # one shared future for the group being formed
        writes = logs[0].writes
        logs[0].release.set()
        await first
        await futures[0]
        assert logs[0].writes == writes + 1  # the 50 went down in one write

    run(tmp_path, body, fsync="group")
    assert request_ids(tmp_path) == ["warm", "hold"] + [f"g-{i}" for i in range(50)]


def test_sample_mode_keeps_exactly_the_ids_the_hash_selects(tmp_path: Path) -> None:
    ids = [f"req-{i}" for i in range(2000)]

    async def body(r: DecisionRecorder, logs: list[GatedLog]) -> list[str]:
        futures = [r.submit(rec(i)) for i in ids]
        await asyncio.gather(*(f for f in futures if f is not None))
        assert r.sampled_out == sum(f is None for f in futures)
        return [i for i, f in zip(ids, futures) if f is not None]

    kept = run(tmp_path, body, mode="sample:0.25")
    assert kept == [i for i in ids if sampled(i, 0.25)]  # deterministic by request id
    assert request_ids(tmp_path) == kept


def test_sampling_rate_within_tolerance_and_stable() -> None:
    ids = [f"{i:08x}-req" for i in range(20_000)]
    for rate in (0.01, 0.1, 0.5, 0.9):
        n = sum(sampled(i, rate) for i in ids)
        sigma = (20_000 * rate * (1 - rate)) ** 0.5
        assert abs(n - 20_000 * rate) < 5 * sigma, (rate, n)
    assert [sampled(i, 0.3) for i in ids[:500]] == [sampled(i, 0.3) for i in ids[:500]]
    assert all(sampled(i, 1.0) for i in ids[:100])


def test_off_mode_writes_nothing_and_creates_no_file(tmp_path: Path) -> None:
    async def main() -> None:
        r = DecisionRecorder(lambda s: DecisionLog.in_home(tmp_path, None, s), RecorderConfig(mode="off"), KEY,
                             KEY_ID, asyncio.get_running_loop())
        r.start()
        assert r.submit(rec("a")) is None and r.submit_many([rec("b")]) is None
        await r.close()

    asyncio.run(main())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", ["sample:0", "sample:1.5", "sample:abc", "sample:", "every", ""])
def test_bad_mode_is_named(mode: str) -> None:
    with pytest.raises(InvalidInput, match=repr(mode).replace("[", r"\[")):
        RecorderConfig(mode=mode).rate()


@pytest.mark.parametrize("fsync", ["interval:x", "sometimes", "interval:"])
def test_bad_fsync_is_named(fsync: str) -> None:
    with pytest.raises(InvalidInput, match=repr(fsync)):
        RecorderConfig(fsync=fsync).synchronous()


def test_fsync_policy_maps_to_sqlite_synchronous() -> None:
    assert RecorderConfig(fsync="group").synchronous() == ("FULL", 0.0)
    assert RecorderConfig(fsync="interval:2.5").synchronous() == ("NORMAL", 2.5)


def _fill(r: DecisionRecorder, logs: list[GatedLog], n: int) -> Coroutine[Any, Any, Any]:
    """Hold the writer inside a write, then queue n records behind it: the queue is now at n."""

    async def fill() -> Any:
        await r.submit(rec("warm"))
        logs[0].entered.clear()
        logs[0].release.clear()
        held = r.submit(rec("held"))
        assert await asyncio.to_thread(logs[0].entered.wait, 5)
        queued = [r.submit(rec(f"q-{i}")) for i in range(n)]
        assert all(f is not None for f in queued)
        return asyncio.gather(held, *queued)

    return fill()


def test_queue_full_fails_the_request_with_unavailable_and_counts(tmp_path: Path) -> None:
    async def body(r: DecisionRecorder, logs: list[GatedLog]) -> None:
        written = await _fill(r, logs, 8)
        with pytest.raises(Unavailable):
            r.submit(rec("overflow-1"))
        with pytest.raises(Unavailable):
            r.submit_many([rec("overflow-2"), rec("overflow-3")])
        assert r.dropped == 3
        logs[0].release.set()
        await written
        await r.submit(rec("after"))  # room again once the writer drains

    run(tmp_path, body, queue_max=8, on_full="fail")
    assert request_ids(tmp_path) == ["warm", "held"] + [f"q-{i}" for i in range(8)] + ["after"]


def test_queue_full_sample_policy_drops_counts_and_proceeds(tmp_path: Path) -> None:
    async def body(r: DecisionRecorder, logs: list[GatedLog]) -> None:
        written = await _fill(r, logs, 8)
        assert r.submit(rec("overflow-1")) is None and r.submit(rec("overflow-2")) is None
        assert r.dropped == 2
        logs[0].release.set()
        await written

    run(tmp_path, body, queue_max=8, on_full="sample")
    assert "overflow-1" not in request_ids(tmp_path) and len(request_ids(tmp_path)) == 10


def test_close_flushes_pending_records_into_the_main_database_file(tmp_path: Path) -> None:
    futures: list[asyncio.Future] = []

    async def body(r: DecisionRecorder, logs: list[GatedLog]) -> None:
        await r.submit(rec("warm"))
        logs[0].entered.clear()
        logs[0].release.clear()
        futures.append(r.submit(rec("held")))
        assert await asyncio.to_thread(logs[0].entered.wait, 5)
        futures.extend(r.submit(rec(f"p-{i}")) for i in range(300))
        logs[0].release.set()  # close() (in run) must write all 300 and checkpoint before returning

    run(tmp_path, body, fsync="interval:60", max_group=64)
    assert all(f.done() and f.exception() is None for f in futures)
    # Checkpointed: the main file alone (no -wal) holds every record.
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(tmp_path / "decisions.db", copy / "decisions.db")
    assert request_ids(copy) == ["warm", "held"] + [f"p-{i}" for i in range(300)]
