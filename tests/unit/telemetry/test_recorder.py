"""The decision recorder: journal on the request path, chain by the chainer process, modes, the bound, the
graceful-stop flush.

Real parts throughout: the journal in tmp_path, a real `python -m registry.chainer` child, real SQLite. A
backlog is built deterministically by pausing the chainer with SIGSTOP.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Coroutine, Iterator

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


def run(home: Path, body: Callable[[DecisionRecorder], Coroutine[Any, Any, Any]], **config: Any) -> Any:
    """Start a recorder (chain `decisions`) on a fresh loop, run body, always close the recorder."""

    async def main() -> Any:
        r = DecisionRecorder(home, "decisions", RecorderConfig(**config), KEY, KEY_ID, asyncio.get_running_loop())
        r.start()
        try:
            return await body(r)
        finally:
            await r.close()

    return asyncio.run(main())


async def submit(r: DecisionRecorder, record: DecisionRecord) -> None:
    future = r.submit(record)
    if future is not None:
        await future


def request_ids(home: Path) -> list[str]:
    log = DecisionLog.in_home(home)
    try:
        assert log.verify().ok
        return [e["request_id"] for e in log.entries()]
    finally:
        log.close()


@contextmanager
def paused(r: DecisionRecorder) -> Iterator[None]:
    pid = r._chainer._proc.pid  # type: ignore[union-attr]
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.mark.parametrize("fsync", ["group", "interval:0.05"])
def test_records_reach_the_chain_in_submit_order_in_few_transactions(tmp_path: Path, fsync: str) -> None:
    async def body(r: DecisionRecorder) -> None:
        await asyncio.gather(*(submit(r, rec(f"req-{i:04d}")) for i in range(1000)))
        assert r.journaled == 1000 and r.failed == 0 and r.dropped == 0
        assert await r.caught_up()
        assert r.written == 1000 and r.backlog == 0
        assert r.groups <= 50, r.groups  # group commit: one transaction per read of the journal

    run(tmp_path, body, fsync=fsync)
    assert request_ids(tmp_path) == [f"req-{i:04d}" for i in range(1000)]
    assert not list((tmp_path / "journals").glob("*/*")), "a graceful stop leaves no journal behind"


def test_interval_policy_needs_no_wait_and_group_policy_shares_one_sync(tmp_path: Path) -> None:
    async def interval(r: DecisionRecorder) -> None:
        assert r.submit(rec("a")) is None  # handed to the OS on return: nothing to await

    run(tmp_path / "i", interval, fsync="interval:1")

    async def group(r: DecisionRecorder) -> None:
        futures = [r.submit(rec(f"g-{i}")) for i in range(50)]  # no loop turn between them: one sync covers all
        assert len({id(f) for f in futures}) == 1
        await futures[0]

    run(tmp_path / "g", group, fsync="group")
    assert request_ids(tmp_path / "g") == [f"g-{i}" for i in range(50)]


def test_batch_rows_are_one_record_each_named_by_row(tmp_path: Path) -> None:
    import numpy as np

    async def body(r: DecisionRecorder) -> None:
        x = np.arange(12.0).reshape(3, 4)
        assert r.record("b", "c", "cards", 2, "d", "canary", x, np.array([0.1, np.nan, 0.9]),
                        np.array([False, False, True]), "OK", 50) is None
        assert r.record("bad", "c", "cards", 0, "", "", None, None, None, "INVALID_ARGUMENT", 7) is None

    run(tmp_path, body)
    log = DecisionLog.in_home(tmp_path)
    rows = [(e["request_id"], e["output"], e["decision"], e["route"], e["status"]) for e in log.entries()]
    log.close()
    assert rows == [("b/0", 0.1, "negative", "canary", "OK"), ("b/1", None, "negative", "canary", "OK"),
                    ("b/2", 0.9, "positive", "canary", "OK"), ("bad", None, None, "", "INVALID_ARGUMENT")]


def test_sample_mode_keeps_exactly_the_ids_the_hash_selects(tmp_path: Path) -> None:
    ids = [f"req-{i}" for i in range(2000)]

    async def body(r: DecisionRecorder) -> list[str]:
        kept = [i for i in ids if r.keep(i)]
        for i in kept:
            r.submit_many([rec(i)])
        assert r.sampled_out == len(ids) - len(kept)
        return kept

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
        r = DecisionRecorder(tmp_path, "decisions", RecorderConfig(mode="off"), KEY, KEY_ID,
                             asyncio.get_running_loop())
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
        RecorderConfig(fsync=fsync).durability()


def test_fsync_policy_maps_to_durability() -> None:
    assert RecorderConfig(fsync="group").durability() == (True, 1.0)
    assert RecorderConfig(fsync="interval:2.5").durability() == (False, 2.5)


def test_queue_full_fails_the_request_with_unavailable_and_counts(tmp_path: Path) -> None:
    async def body(r: DecisionRecorder) -> None:
        await submit(r, rec("warm"))
        assert await r.caught_up()
        with paused(r):  # the chainer is stopped: journaled records are not chained
            for i in range(8):
                r.submit(rec(f"q-{i}"))
            with pytest.raises(Unavailable, match="cannot keep up"):
                r.submit(rec("overflow-1"))
            with pytest.raises(Unavailable):
                r.submit_many([rec("overflow-2"), rec("overflow-3")])
            assert r.dropped == 3 and r.backlog == 8
        assert await r.caught_up()
        r.submit(rec("after"))  # room again once the chainer caught up

    run(tmp_path, body, queue_max=8, on_full="fail")
    assert request_ids(tmp_path) == ["warm"] + [f"q-{i}" for i in range(8)] + ["after"]


def test_queue_full_sample_policy_drops_counts_and_proceeds(tmp_path: Path) -> None:
    async def body(r: DecisionRecorder) -> None:
        with paused(r):
            for i in range(8):
                r.submit(rec(f"q-{i}"))
            assert r.submit(rec("overflow-1")) is None and r.submit(rec("overflow-2")) is None
            assert r.dropped == 2

    run(tmp_path, body, queue_max=8, on_full="sample")
    assert request_ids(tmp_path) == [f"q-{i}" for i in range(8)]


def test_close_chains_everything_journaled_and_checkpoints(tmp_path: Path) -> None:
    async def body(r: DecisionRecorder) -> None:
        with paused(r):
            for i in range(300):
                r.submit(rec(f"p-{i}"))
        # close() must chain all 300 and checkpoint before returning

    run(tmp_path, body, fsync="interval:60", max_group=64)
    copy = tmp_path / "copy"  # checkpointed: the main file alone (no -wal) holds every record
    copy.mkdir()
    shutil.copy(tmp_path / "decisions.db", copy / "decisions.db")
    assert request_ids(copy) == [f"p-{i}" for i in range(300)]
