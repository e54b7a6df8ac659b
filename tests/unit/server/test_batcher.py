"""The batching contract, checked with a counting compute function on a real event loop."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from server.batching.batcher import BatchConfig, Batcher, Timed
from server.errors import DeadlineExceeded, Overloaded, Unavailable


class Compute:
    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[np.ndarray] = []
        self.delay = delay

    def __call__(self, x: np.ndarray) -> Timed:
        self.batches.append(x.copy())
        if self.delay:
            time.sleep(self.delay)
        return Timed((x[:, 0] * 2).astype(np.float32), 0.0, 0.0)


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(coro)


def test_each_request_gets_its_own_rows_back() -> None:
    async def main() -> None:
        compute = Compute(delay=0.002)
        b = Batcher(compute, BatchConfig(max_batch_size=64, inline_max_rows=0), None)
        b.start()
        xs = [np.full((1 + i % 3, 2), float(i)) for i in range(200)]
        results = await asyncio.gather(*(b.submit(x) for x in xs))
        for x, r in zip(xs, results):
            np.testing.assert_array_equal(r.scores, x[:, 0] * 2)
        assert len(compute.batches) < 200  # requests were batched
        assert max(len(bx) for bx in compute.batches) <= 64
        await b.close()
    run(main())


def test_window_waits_for_more_requests() -> None:
    async def main() -> None:
        compute = Compute()
        b = Batcher(compute, BatchConfig(max_batch_size=8, max_wait_us=50_000, inline_max_rows=0), None)
        b.start()
        first = asyncio.ensure_future(b.submit(np.ones((1, 2))))
        await asyncio.sleep(0.005)
        rest = [asyncio.ensure_future(b.submit(np.ones((1, 2)))) for _ in range(7)]
        await asyncio.gather(first, *rest)
        assert [len(x) for x in compute.batches] == [8]  # closed by size, inside the window
        await b.close()
    run(main())


def test_expired_requests_are_never_executed_and_cancelled_are_dropped() -> None:
    async def main() -> None:
        compute = Compute(delay=0.05)
        b = Batcher(compute, BatchConfig(inline_max_rows=0), None)
        b.start()
        blocker = asyncio.ensure_future(b.submit(np.full((1, 2), 1.0)))
        await asyncio.sleep(0.01)  # the blocker is computing; the next ones queue
        expired = asyncio.ensure_future(b.submit(np.full((1, 2), 2.0), deadline=time.monotonic() + 0.01))
        cancelled = asyncio.ensure_future(b.submit(np.full((1, 2), 3.0)))
        alive = asyncio.ensure_future(b.submit(np.full((1, 2), 4.0)))
        await asyncio.sleep(0)
        cancelled.cancel()
        with pytest.raises(DeadlineExceeded, match="not run"):
            await expired
        assert (await alive).scores[0] == 8.0
        await blocker
        seen = np.concatenate(compute.batches)[:, 0].tolist()
        assert 2.0 not in seen and 3.0 not in seen and 4.0 in seen
        await b.close()
    run(main())


def test_full_queue_sheds_immediately() -> None:
    async def main() -> None:
        b = Batcher(Compute(delay=0.05), BatchConfig(max_queue=2, inline_max_rows=0), None)
        b.start()
        running = asyncio.ensure_future(b.submit(np.ones((1, 2))))
        await asyncio.sleep(0.01)
        queued = [asyncio.ensure_future(b.submit(np.ones((1, 2)))) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(Overloaded, match="queue full"):
            await b.submit(np.ones((1, 2)))
        await asyncio.gather(running, *queued)
        await b.close()
    run(main())


def test_close_drains_then_refuses() -> None:
    async def main() -> None:
        compute = Compute(delay=0.01)
        b = Batcher(compute, BatchConfig(inline_max_rows=0), None)
        b.start()
        pending = [asyncio.ensure_future(b.submit(np.ones((1, 2)))) for _ in range(5)]
        await asyncio.sleep(0)
        await b.close()
        assert all(p.done() and not p.exception() for p in pending)
        with pytest.raises(Unavailable):
            await b.submit(np.ones((1, 2)))
    run(main())


def test_compute_failure_fails_that_batch_only() -> None:
    async def main() -> None:
        calls = {"n": 0}

        def flaky(x: np.ndarray) -> Timed:
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("boom")
            return Timed(x[:, 0].astype(np.float32), 0.0, 0.0)

        b = Batcher(flaky, BatchConfig(inline_max_rows=0), None)
        b.start()
        with pytest.raises(RuntimeError):
            await b.submit(np.ones((1, 2)))
        assert (await b.submit(np.full((1, 2), 5.0))).scores[0] == 5.0
        await b.close()
    run(main())


def test_idle_tiny_request_computes_inline() -> None:
    async def main() -> None:
        compute = Compute()
        b = Batcher(compute, BatchConfig(inline_max_rows=16), None)
        b.start()
        r = await b.submit(np.full((2, 2), 3.0))
        assert r.scores.tolist() == [6.0, 6.0] and r.queue_s == 0.0
        await b.close()
    run(main())
