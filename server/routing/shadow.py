"""Shadow traffic: a copy of (a sampled share of) primary requests scored by another version, off the
critical path.

The caller never waits for a shadow and never sees its output: `offer` is O(1) and non-blocking, a full
lane drops the copy and counts it, and the lane computes on its own low-priority thread (never inline on
the event loop, never in the primary executor's queue), one batch at a time, gathering copies for up to
100 ms so each batch is large: every batch costs the event loop and the GIL a little, whatever its size.
Its array work runs on that thread too, and it rests in proportion to its work (at most 25% busy), so a
slow shadow drops copies (counted) rather than take cores from primary traffic. Each shadow score is
compared with the primary's: the score delta and whether the decision at the threshold flipped.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from concurrent.futures import Executor
from typing import Callable

import numpy as np

from server.runtime.runner import ModelRunner
from server.telemetry.comparison import Comparison, ShadowCounters, compare


def sampled(request_id: str, rate: float) -> bool:
    """Deterministic per request id, so every worker and replica shadows the same requests."""
    if rate >= 1.0:
        return True
    h = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / float(1 << 64) < rate


class ShadowLane:
    LINGER_S = 0.1  # a shadow is never urgent: gather copies into fewer, larger batches
    MAX_DUTY = 0.25  # a shadow computes at most this share of the time; beyond, its queue fills and drops
    MAX_BATCH = 64  # rows per shadow batch: short bursts, so a slow shadow never holds a core for long

    def __init__(self, runner: ModelRunner, sample_rate: float, executor: Executor, capacity: int = 1024,
                 max_batch: int = 256, on_result: Callable[[ModelRunner, np.ndarray, np.ndarray], None] | None = None,
                 linger_s: float | None = None) -> None:
        self.runner = runner
        self.sample_rate = sample_rate
        # the version's telemetry counters when attached (snapshotted, summed across workers), else local ones
        metrics = runner.metrics
        self.counters: ShadowCounters = metrics.shadow if metrics is not None else ShadowCounters()
        self._executor = executor
        self._capacity = capacity
        self._max_batch = max_batch
        self._on_result = on_result
        self._linger = self.LINGER_S if linger_s is None else linger_s
        self._queue: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def offer(self, request_id: str, x: np.ndarray, primary: np.ndarray, decisions: np.ndarray) -> None:
        if self._closing or not sampled(request_id, self.sample_rate):
            return
        rows = x.shape[0]
        self.counters.add("offered", rows)
        if len(self._queue) >= self._capacity:
            self.counters.add("dropped", rows)
            return
        self._queue.append((x, primary, decisions))
        self._wake.set()

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    def _score(self, items: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[int, Comparison | None]:
        """On the shadow thread: the batch's arrays, the shadow's scores and the comparison, so the event
        loop only pops copies and folds in counts."""
        x = np.concatenate([it[0] for it in items])
        try:
            self.runner.check_rows(x)  # the shadow's schema may not accept what the primary did: a failure
            scores = self.runner.run_timed(x).scores
        except Exception:  # noqa: BLE001 - a failing shadow changes nothing the caller sees; it is counted
            return x.shape[0], None
        primary = np.concatenate([it[1] for it in items])
        decisions = np.concatenate([it[2] for it in items])
        # each model decides at its own threshold; a flip is a different decision for the same request
        ours = scores.astype(np.float64) >= self.runner.threshold
        if self._on_result is not None:
            self._on_result(self.runner, scores, primary)
        return x.shape[0], compare(scores, primary, ours, decisions)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
            if self._linger and not self._closing and len(self._queue) < self._max_batch:
                await asyncio.sleep(self._linger)  # each batch costs the event loop and the GIL a little
            items = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
            started = loop.time()
            rows, result = await loop.run_in_executor(self._executor, self._score, items)
            if result is None:
                self.counters.add("failed", rows)
            else:
                self.counters.record(result)
            # a slow shadow rests in proportion to its work, leaving the cores to primary traffic
            busy = loop.time() - started
            if busy > 0.001 and not self._closing:
                await asyncio.sleep(busy * (1.0 / self.MAX_DUTY - 1.0))
