"""The metric set: per model version, latency histograms (route x stage), outcome counts, batch sizes,
shed / expired counts and drift counters — cheap to update, exact, and summed across worker processes.

The request path only queues what it saw (`served`: four ints appended to an int64 array; `batch`: the
computed batch, by reference, to a deque; each one C call, so thread-safe without a lock); a drain turns the
queues into counts with Numba passes over all queued values (batch sizes included). Why: counting each request
as it came (four histogram increments, a status count and a Numba drift call) cost ~25 µs of event-loop time
per request on a busy gateway, mostly per-call overhead, where a drain costs ~2 µs per request. Drains run
under a lock: on the event loop every 50 ms (`drain_on`: ~0.4 ms at the ceiling; a second's worth drained at
once on another thread held the GIL ~5 ms) and in every read (`state`, including the snapshot thread's), so
what a reader sees is exact and complete; the request path drains only if a queue passes PENDING_MAX, and then
only if nobody else is draining. Error counts, shed and expired stay immediate (single writer: the event
loop). A background thread snapshots the counters every second into the run directory
(`<home>/telemetry/<run>/<worker>.snap`, atomic rename); a reader sums its own live counters with the other
workers' latest snapshots, so with `--workers N` every figure covers all workers (other workers' figures are
at most one snapshot interval old). Injected, never global: tests build their own.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from array import array
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from compiler.drift import DriftReference
from compiler.schema import Schema
from server.telemetry import histogram as hist
from server.telemetry.comparison import GRID, ShadowCounters, shadow_summary
from server.telemetry.drift import DriftCounter, DriftLayout, figures, window_counts

STAGES = ("queue", "transform", "infer", "total")
_SNAP_MAGIC, _SNAP_SUFFIX = b"SGSNAP01", ".snap"  # Telemetry.write_snapshot
_ONE_ROW = hist.index(1)
_ARRAYS = ("batch_rows", "slices", "stamps", "total", "score_grid", "shadow_counts", "shadow_delta")  # per version


class RunnerMetrics:
    """One model version's counters in this process."""

    PENDING_MAX = 8_192  # queued entries past which the request path drains (normally the loop's tick does)

    def __init__(self, key: tuple[str, int, str], layout: DriftLayout, clock: Callable[[], float]) -> None:
        self.key = key
        self.layout = layout
        self.drift_counter = DriftCounter(layout, clock)
        self.latency: dict[tuple[str, str], np.ndarray] = {}
        self.status: Counter[tuple[str, str]] = Counter()  # errors (event loop); OK counts are in _ok
        self.batch_rows = np.zeros(hist.N_BUCKETS, dtype=np.int64)
        self.shed_count = 0
        self.expired_count = 0
        self.score_grid = np.zeros(GRID, dtype=np.int64)  # for canary vs champion PSI (comparison.py)
        self.shadow = ShadowCounters()  # when this version runs as a shadow
        self._served: dict[str, array[int]] = {}  # per route: STAGES latencies, four int64 per request
        self._batches: deque[tuple[np.ndarray, np.ndarray]] = deque()  # computed batches: rows, scores
        self._ok: Counter[str] = Counter()  # written by drains only
        self._lock = threading.Lock()  # one drain at a time; never taken blocking on the request path
        layout.count(np.zeros((1, len(layout.names))), np.zeros(1), np.zeros(layout.width, dtype=np.int64))  # compile

    # the request path: queue, drain later ------------------------------------------------------------------
    def served(self, route: str, queue_us: int, transform_us: int, infer_us: int, total_us: int) -> None:
        """One OK request: its stage latencies (STAGES order) and its status."""
        q = self._served.get(route)
        if q is None:
            q = self._served[route] = array("q")
        q.extend((queue_us, transform_us, infer_us, total_us))  # one C call: never seen half-written
        if len(q) > 4 * self.PENDING_MAX:
            self.drain(wait=False)

    def batch(self, x: np.ndarray, scores: np.ndarray) -> None:
        """A computed batch (any thread, never empty), for the batch-size and drift counters; held by reference
        (callers never mutate it afterwards)."""
        q = self._batches
        q.append((x, scores))
        if len(q) > self.PENDING_MAX:
            self.drain(wait=False)

    def count(self, route: str, status: str, n: int = 1) -> None:
        self.status[(route, status)] += n

    def shed(self, n: int = 1) -> None:
        self.shed_count += n

    def expired(self, n: int = 1) -> None:
        self.expired_count += n

    # drains ------------------------------------------------------------------------------------------------
    def drain(self, wait: bool = True) -> None:
        """Count everything queued so far. wait=False: skip if another thread is draining (it will count it)."""
        if not self._lock.acquire(blocking=wait):
            return
        try:
            self._drain_locked()
        finally:
            self._lock.release()

    def _drain_locked(self) -> None:
        self._drain_served()
        self._drain_batches()

    def _drain_batches(self) -> None:
        q = self._batches
        items = [q.popleft() for _ in range(len(q))]  # producers may append meanwhile: the next drain's
        if not items:
            return
        x = items[0][0] if len(items) == 1 else np.concatenate([i[0] for i in items])
        scores = items[0][1] if len(items) == 1 else np.concatenate([i[1] for i in items])
        if scores.shape[0] == len(items):  # as many rows as batches, none empty: every batch one row (single-row
            self.batch_rows[_ONE_ROW] += len(items)  # traffic, the common case): one bucket, no per-batch list
        else:
            hist.record_many(self.batch_rows, np.array([s.shape[0] for _, s in items], dtype=np.int64))
        self.drift_counter.record(x, scores, self.score_grid)

    def _drain_served(self) -> None:
        for route, q in list(self._served.items()):
            n = len(q)
            if not n:
                continue
            rows = np.frombuffer(q[:n], dtype=np.int64).reshape(-1, len(STAGES))
            del q[:n]  # what producers appended meanwhile stays for the next drain
            counts = [self.latency.get((route, stage)) for stage in STAGES]
            if counts[0] is None:
                counts = [self.latency.setdefault((route, stage), np.zeros(hist.N_BUCKETS, dtype=np.int64))
                          for stage in STAGES]
            hist.record_columns(counts, rows)  # type: ignore[arg-type]
            self._ok[route] += rows.shape[0]

    def state(self) -> dict[str, Any]:
        """A copy of every counter, after a drain: exact up to this call."""
        with self._lock:
            self._drain_locked()
            return self._copy()

    def _copy(self) -> dict[str, Any]:
        d = self.drift_counter
        status = {f"{r}|{s}": n for (r, s), n in list(self.status.items())}
        for route, n in list(self._ok.items()):
            status[f"{route}|OK"] = status.get(f"{route}|OK", 0) + n
        return {"latency": {f"{r}|{s}": c.copy() for (r, s), c in list(self.latency.items())},
                "status": status,
                "batch_rows": self.batch_rows.copy(), "shed": self.shed_count, "expired": self.expired_count,
                "slices": d.slices.copy(), "stamps": d.stamps.copy(), "total": d.total.copy(),
                "score_grid": self.score_grid.copy(), "shadow_counts": self.shadow.counts.copy(),
                "shadow_delta": self.shadow.delta.copy()}


def _read_snapshot(raw: bytes) -> list[dict[str, Any]]:
    """The counters in one worker's snapshot (Telemetry.write_snapshot's layout), one dict per version."""
    if raw[:8] != _SNAP_MAGIC:
        raise ValueError("not a telemetry snapshot")
    start = 16 + int.from_bytes(raw[8:16], "little")
    meta, data = json.loads(raw[16:start]), np.frombuffer(raw, dtype=np.int64, offset=start)
    out, at = [], 0
    for item in meta:
        arrays = []
        for shape in item["shapes"]:
            size = int(np.prod(shape))
            arrays.append(data[at:at + size].reshape(shape))
            at += size
        names = item["latency"]
        out.append({"key": tuple(item["key"]), "latency": dict(zip(names, arrays)), "status": item["status"],
                    "shed": item["shed"], "expired": item["expired"], **dict(zip(_ARRAYS, arrays[len(names):]))})
    if at != data.size:
        raise ValueError("telemetry snapshot: the index does not match the data")
    return out


@dataclass
class Aggregate:
    """One model version's counters summed over every worker."""

    key: tuple[str, int, str]
    latency: dict[str, np.ndarray] = field(default_factory=dict)
    status: Counter = field(default_factory=Counter)
    batch_rows: np.ndarray = field(default_factory=lambda: np.zeros(hist.N_BUCKETS, dtype=np.int64))
    shed: int = 0
    expired: int = 0
    drift: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)  # per worker
    score_grid: np.ndarray = field(default_factory=lambda: np.zeros(GRID, dtype=np.int64))
    shadow_counts: np.ndarray = field(default_factory=lambda: np.zeros(len(ShadowCounters.FIELDS), dtype=np.int64))
    shadow_delta: np.ndarray = field(default_factory=lambda: np.zeros(hist.N_BUCKETS, dtype=np.int64))

    def add(self, s: dict[str, Any]) -> None:
        for k, c in s["latency"].items():
            self.latency[k] = self.latency.get(k, 0) + c
        self.status.update(s["status"])
        self.batch_rows = self.batch_rows + s["batch_rows"]
        self.shed += int(s["shed"])
        self.expired += int(s["expired"])
        self.drift.append((s["slices"], s["stamps"], s["total"]))
        self.score_grid = self.score_grid + s["score_grid"]
        self.shadow_counts = self.shadow_counts + s["shadow_counts"]
        self.shadow_delta = self.shadow_delta + s["shadow_delta"]

    def requests(self, route: str) -> tuple[int, int]:
        """(requests, errors) served on `route`: every status counted, errors are the non-OK ones."""
        n = err = 0
        for key, count in self.status.items():
            r, status = key.split("|") if isinstance(key, str) else key
            if r == route:
                n += int(count)
                err += int(count) if status != "OK" else 0
        return n, err

    def drift_counts(self, window: str, now: float) -> np.ndarray:
        return sum(window_counts(sl, st, tot, window, now) for sl, st, tot in self.drift)


class Telemetry:
    DRAIN_S = 0.05

    def __init__(self, run_dir: Path | None, worker: str, clock: Callable[[], float] = time.time,
                 snapshot_interval_s: float = 1.0) -> None:
        self.run_dir = run_dir
        self.worker = worker
        self.clock = clock
        self.runners: dict[tuple[str, int, str], RunnerMetrics] = {}
        self._interval = snapshot_interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def runner(self, key: tuple[str, int, str], schema: Schema, ref: DriftReference) -> RunnerMetrics:
        metrics = self.runners.get(key)
        if metrics is None:
            metrics = self.runners[key] = RunnerMetrics(key, DriftLayout.build(schema, ref), self.clock)
        return metrics

    def drain_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """Drain the request-path queues on the event loop every DRAIN_S: a few hundred entries, well under a
        millisecond each time. Left to the snapshot thread, a second's worth drained at once held the GIL
        for milliseconds, a stall every request in flight then waited out (the snapshot and readers still
        drain what is left, exactly)."""

        def tick() -> None:
            if self._stop.is_set():
                return
            for m in list(self.runners.values()):
                m.drain(wait=False)
            loop.call_later(self.DRAIN_S, tick)

        loop.call_later(self.DRAIN_S, tick)

    # -- snapshots ---------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.run_dir is not None:
            self._thread = threading.Thread(target=self._loop, name="scoregate-telemetry", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.write_snapshot()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.write_snapshot()

    def write_snapshot(self) -> None:
        """Every counter of this process in one file (`<worker>.snap`, replaced atomically): a JSON index, then
        every counter array end to end as one int64 array. Why not np.savez: its zip bookkeeping, CRCs and
        copies held the GIL ~1 ms each second (a stall for every request in flight); here the GIL is held for
        one concatenation (~0.1 ms) and the write is one system call."""
        if self.run_dir is None:
            return
        meta, parts = [], []
        for key, st in [(list(key), m.state()) for key, m in list(self.runners.items())]:
            names = sorted(st["latency"])
            arrays = [st["latency"][n] for n in names] + [st[p] for p in _ARRAYS]
            meta.append({"key": key, "latency": names, "status": st["status"], "shed": st["shed"],
                         "expired": st["expired"], "shapes": [list(a.shape) for a in arrays]})
            parts += [a.ravel() for a in arrays]
        data = np.concatenate(parts).astype(np.int64, copy=False) if parts else np.zeros(0, dtype=np.int64)
        index = json.dumps(meta).encode()
        index += b" " * (-len(index) % 8)  # the data starts 8-byte aligned
        tmp = self.run_dir / f".{self.worker}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.writev(fd, [_SNAP_MAGIC + len(index).to_bytes(8, "little") + index, memoryview(data).cast("B")])
        finally:
            os.close(fd)
        os.replace(tmp, self.run_dir / f"{self.worker}{_SNAP_SUFFIX}")

    def _others(self) -> list[dict[str, Any]]:
        out = []
        if self.run_dir is None:
            return out
        for path in sorted(self.run_dir.glob(f"*{_SNAP_SUFFIX}")):
            if path.stem == self.worker:
                continue
            try:
                out += _read_snapshot(path.read_bytes())
            except (OSError, ValueError, KeyError):  # a snapshot being replaced: next read sees it
                continue
        return out

    def aggregates(self) -> dict[tuple[str, int, str], Aggregate]:
        aggs: dict[tuple[str, int, str], Aggregate] = {}
        for key, m in list(self.runners.items()):
            aggs.setdefault(key, Aggregate(key)).add(m.state())
        for st in self._others():
            key = st["key"]
            aggs.setdefault(key, Aggregate(key)).add(st)
        return aggs

    # -- views -------------------------------------------------------------------------------------------
    def stats(self, model: str | None = None) -> dict[str, Any]:
        out = []
        for key, a in sorted(self.aggregates().items()):
            if model and key[0] != model:
                continue
            lat = []
            for name, counts in sorted(a.latency.items()):
                route, stage = name.split("|")
                lat.append({"route": route, "stage": stage, "count": int(counts.sum()),
                            **{f"p{q}_us": hist.quantile(counts, q / 100 if q < 100 else 0.999)
                               for q in (50, 90, 99)},
                            "p999_us": hist.quantile(counts, 0.999), "mean_us": hist.mean(counts)})
            out.append({"model": key[0], "version": key[1], "digest": key[2], "latency": lat,
                        "requests": {k: int(v) for k, v in sorted(a.status.items())},
                        "batches": int(a.batch_rows.sum()), "batch_rows_p50": hist.quantile(a.batch_rows, 0.5),
                        "shed": a.shed, "expired": a.expired})
            if a.shadow_counts.any():
                out[-1]["shadow"] = shadow_summary(a.shadow_counts, a.shadow_delta)
        return {"versions": out}

    def drift_report(self, model: str, window: str = "5m") -> dict[str, Any]:
        now = self.clock()
        versions = []
        for key, a in sorted(self.aggregates().items()):
            local = self.runners.get(key)
            if key[0] != model or local is None:
                continue
            versions.append({"version": key[1], "digest": key[2], "window": window,
                             "figures": figures(local.layout, a.drift_counts(window, now))})
        return {"model": model, "window": window, "versions": versions}
