"""The per-runner dynamic batcher (asyncio side) feeding the shared compute executor.

Contract (written down because callers depend on it):
- A batch closes when it holds `max_batch_size` rows, or `max_wait_us` after its first request was queued,
  or at once when `max_wait_us` is 0 ("natural" batching: whatever queued while the previous batch
  computed goes next, so an idle gateway adds no wait and a busy one batches by itself).
- The queue is bounded: a request that finds `max_queue` requests waiting is shed at once (Overloaded),
  never queued into a deadline it cannot meet.
- A request whose deadline has passed when its batch forms is never executed (DeadlineExceeded); a
  cancelled one is dropped. Neither affects its batch-mates.
- Rows are concatenated in queue order and each request gets back exactly its own slice of the scores.
- Small work stays on the event loop: a batch of at most `inline_max_rows` rows computes inline (the thread
  hop to the executor costs several times the ~15 us a one-row batch takes), and a request that finds the
  batcher idle with natural batching skips the queue entirely (its batch would hold only itself anyway).
  Larger batches go to the shared executor, where Numba and ONNX Runtime run with the GIL released.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from server.errors import DeadlineExceeded, Overloaded, Unavailable


@dataclass(frozen=True)
class BatchConfig:
    max_batch_size: int = 256  # rows per compute call
    max_wait_us: int = 0  # window after the first queued request; 0 = natural batching
    max_queue: int = 2048  # requests waiting before new ones are shed
    inline_max_rows: int = 16  # batches this small compute on the event loop (skips a thread hop); 0 = never


class Timed(NamedTuple):
    """What compute returns for a batch: the scores and the time of each compute stage."""

    scores: np.ndarray
    transform_s: float
    infer_s: float


class Served(NamedTuple):
    """What one request gets back: its own slice of the scores and how long each stage took for it."""

    scores: np.ndarray
    queue_s: float
    transform_s: float
    infer_s: float


class _Item:
    __slots__ = ("x", "future", "deadline", "queued_at")

    def __init__(self, x: np.ndarray, future: asyncio.Future, deadline: float | None, queued_at: float) -> None:
        self.x = x
        self.future = future
        self.deadline = deadline
        self.queued_at = queued_at


class Batcher:
    def __init__(self, compute: Callable[[np.ndarray], Timed], config: BatchConfig,
                 executor: Executor | None) -> None:
        self._compute = compute
        self._config = config
        self._executor = executor
        self._queue: deque[_Item] = deque()
        self._queued_rows = 0
        self._wake = asyncio.Event()
        self._closing = False
        self._busy = False  # a batch is computing
        self._task: asyncio.Task | None = None

    @property
    def depth(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def submit(self, x: np.ndarray, deadline: float | None = None) -> Served:
        if self._closing:
            raise Unavailable("model version is being unloaded; retry")
        if len(self._queue) >= self._config.max_queue:
            raise Overloaded(f"queue full ({self._config.max_queue} requests waiting); retry with backoff")
        if (not self._busy and not self._queue and self._config.max_wait_us == 0
                and x.shape[0] <= self._config.inline_max_rows):
            return self._compute_now(x)
        future = asyncio.get_running_loop().create_future()
        self._queue.append(_Item(x, future, deadline, time.monotonic()))
        self._queued_rows += x.shape[0]
        self._wake.set()
        return await future

    async def close(self) -> None:
        """Stop taking requests, finish the queued ones, then end the worker (draining an old version)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            while not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
            if self._config.max_wait_us > 0:
                await self._fill_window()
            items = self._take()
            if items:
                await self._execute(items)

    async def _fill_window(self) -> None:
        close_at = self._queue[0].queued_at + self._config.max_wait_us / 1e6
        while self._queued_rows < self._config.max_batch_size and not self._closing:
            remaining = close_at - time.monotonic()
            if remaining <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                return

    def _take(self) -> list[_Item]:
        """Pop up to max_batch_size rows (always at least one request); drop cancelled and expired ones."""
        now = time.monotonic()
        items: list[_Item] = []
        rows = 0
        while self._queue and (not items or rows + self._queue[0].x.shape[0] <= self._config.max_batch_size):
            item = self._queue.popleft()
            self._queued_rows -= item.x.shape[0]
            if item.future.done():  # cancelled by the caller
                continue
            if item.deadline is not None and item.deadline <= now:
                item.future.set_exception(DeadlineExceeded("deadline passed while queued; the request was not run"))
                continue
            items.append(item)
            rows += item.x.shape[0]
        return items

    def _compute_now(self, x: np.ndarray) -> Served:
        timed = self._compute(x)
        return Served(timed.scores, 0.0, timed.transform_s, timed.infer_s)

    async def _execute(self, items: list[_Item]) -> None:
        x = items[0].x if len(items) == 1 else np.concatenate([it.x for it in items])
        started = time.monotonic()
        self._busy = True
        try:
            if x.shape[0] <= self._config.inline_max_rows:
                timed = self._compute(x)
            else:
                timed = await asyncio.get_running_loop().run_in_executor(self._executor, self._compute, x)
        except Exception as exc:  # noqa: BLE001 - the batch's requests all get the (incident-mapped) error
            for it in items:
                if not it.future.done():
                    it.future.set_exception(exc)
            return
        finally:
            self._busy = False
        offset = 0
        scores = timed.scores
        for it in items:
            n = it.x.shape[0]
            if not it.future.done():
                it.future.set_result(Served(scores[offset:offset + n], started - it.queued_at, timed.transform_s,
                                            timed.infer_s))
            offset += n
