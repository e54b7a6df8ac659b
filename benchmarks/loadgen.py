"""A gRPC load generator: closed loop (N requests in flight) or open loop (fixed arrival rate), spread over
several client processes so the client is not the bottleneck it measures.

Requests are pre-serialized bytes sent through a raw unary method (no client-side protobuf work), so the
same generator drives scoregate and every baseline. In open loop, latency is measured from each request's
*intended* send time, so queueing at an overloaded server shows up instead of being hidden (coordinated
omission). Every run is bounded by a request count and a duration.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LoadSpec:
    target: str  # host:port on loopback
    method: str  # full method name, e.g. /scoregate.v1.Scoring/Score
    payloads: tuple[bytes, ...]  # cycled through; several distinct requests defeat caching effects
    mode: str = "closed"  # "closed" | "open" | "stream" (bidirectional streams, `concurrency` in flight each)
    concurrency: int = 1  # closed loop: requests in flight (total over processes)
    rate: float = 0.0  # open loop: requests/s (total over processes)
    duration_s: float = 3.0
    warmup_s: float = 0.5
    max_requests: int = 1_000_000
    processes: int = 1
    timeout_s: float = 5.0
    rows_per_request: int = 1
    metadata: tuple[tuple[str, str], ...] = ()


@dataclass
class LoadResult:
    spec: LoadSpec
    latencies_us: np.ndarray  # successful requests only
    errors: dict[str, int] = field(default_factory=dict)  # status code name -> count
    wall_s: float = 0.0
    client_cpu: float = 0.0  # cores busy in the client processes (1.0 = one core)
    server_cpu: float = 0.0  # cores busy in the server processes

    @property
    def ok(self) -> int:
        return int(self.latencies_us.size)

    @property
    def rps(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_us
        pct = (lambda q: float(np.percentile(lat, q))) if lat.size else (lambda q: float("nan"))
        return {
            "mode": self.spec.mode, "concurrency": self.spec.concurrency, "rate": self.spec.rate,
            "rows_per_request": self.spec.rows_per_request, "ok": self.ok, "errors": dict(self.errors),
            "rps": round(self.rps, 1), "rows_per_s": round(self.rps * self.spec.rows_per_request, 1),
            "p50_us": round(pct(50), 1), "p90_us": round(pct(90), 1), "p99_us": round(pct(99), 1),
            "p999_us": round(pct(99.9), 1), "wall_s": round(self.wall_s, 3),
            "client_cpu": round(self.client_cpu, 3), "server_cpu": round(self.server_cpu, 3),
        }


def merge(results: list[LoadResult]) -> LoadResult:
    """Several runs of one configuration as one: latencies pooled, errors summed, rates over the total time."""
    first = results[0]
    errors: Counter = Counter()
    for r in results:
        errors.update(r.errors)
    wall = sum(r.wall_s for r in results)
    weight = [r.wall_s / wall if wall else 1 / len(results) for r in results]
    return LoadResult(first.spec, np.concatenate([r.latencies_us for r in results]), dict(errors), wall,
                      sum(w * r.client_cpu for w, r in zip(weight, results)),
                      sum(w * r.server_cpu for w, r in zip(weight, results)))


async def _client(spec: LoadSpec, index: int, start_at: float) -> tuple[np.ndarray, Counter, float, float]:
    import grpc

    share_conc = max(1, spec.concurrency // spec.processes + (1 if index < spec.concurrency % spec.processes else 0))
    max_req = spec.max_requests // spec.processes
    lat: list[float] = []
    errors: Counter = Counter()
    payloads = spec.payloads
    async with grpc.aio.insecure_channel(spec.target, options=[("grpc.max_receive_message_length", 64 << 20),
                                                             ("grpc.max_send_message_length", 64 << 20)]) as channel:
        call = channel.unary_unary(spec.method)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        t0 = time.perf_counter()
        measure_from = t0 + spec.warmup_s
        end = measure_from + spec.duration_s
        counter = [index * 7919]

        async def one(intended: float) -> None:
            i = counter[0] = counter[0] + 1
            try:
                await call(payloads[i % len(payloads)], timeout=spec.timeout_s, metadata=spec.metadata or None)
                done = time.perf_counter()
                if intended >= measure_from:
                    lat.append((done - intended) * 1e6)
            except grpc.aio.AioRpcError as exc:
                if intended >= measure_from:
                    errors[exc.code().name] += 1

        cpu0, w0 = time.process_time(), time.perf_counter()
        if spec.mode == "stream":
            await _streams(channel, spec, share_conc, end, measure_from, lat, errors)
        elif spec.mode == "closed":
            async def loop() -> None:
                while (now := time.perf_counter()) < end and len(lat) < max_req:
                    await one(now)
            await asyncio.gather(*(loop() for _ in range(share_conc)))
        else:
            rate = spec.rate / spec.processes
            tasks: set[asyncio.Task] = set()
            k = 0
            while True:
                intended = t0 + k / rate
                if intended >= end or k >= max_req:
                    break
                delay = intended - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.ensure_future(one(intended))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                k += 1
            if tasks:
                await asyncio.wait(tasks, timeout=spec.timeout_s + 1)
        wall = time.perf_counter() - measure_from
        cpu = (time.process_time() - cpu0) / max(time.perf_counter() - w0, 1e-9)
    return np.asarray(lat, dtype=np.float64), errors, wall, cpu


async def _streams(channel: Any, spec: LoadSpec, window: int, end: float, measure_from: float, lat: list[float],
                   errors: Counter) -> None:
    """One bidirectional stream per client process with `window` requests in flight; replies come in order."""
    import grpc

    call = channel.stream_stream(spec.method)()
    sent: asyncio.Queue[float] = asyncio.Queue(maxsize=window)
    payloads = spec.payloads

    async def writer() -> None:
        i = 0
        while time.perf_counter() < end:
            await sent.put(time.perf_counter())
            await call.write(payloads[i % len(payloads)])
            i += 1
        await call.done_writing()

    task = asyncio.ensure_future(writer())
    try:
        async for _reply in call:
            t = sent.get_nowait()
            if t >= measure_from:
                lat.append((time.perf_counter() - t) * 1e6)
    except grpc.aio.AioRpcError as exc:
        errors[exc.code().name] += 1
    await task


def _process_task(spec: LoadSpec, index: int, start_at: float) -> tuple[bytes, dict, float, float]:
    lat, errors, wall, cpu = asyncio.run(_client(spec, index, start_at))
    return lat.tobytes(), dict(errors), wall, cpu


def proc_cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the given processes (Linux /proc), in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


class ClientPool:
    """Client processes started once (spawned: no inherited gRPC state) and reused for every run."""

    def __init__(self, processes: int = 2) -> None:
        self.processes = processes
        self._pool = mp.get_context("spawn").Pool(processes)
        self._pool.map(abs, range(processes))  # wait until every interpreter is up

    def run(self, spec: LoadSpec, server_pids: list[int] | None = None) -> LoadResult:
        if spec.processes > self.processes:
            raise ValueError(f"spec wants {spec.processes} client processes, the pool has {self.processes}")
        start_at = time.time() + 0.3
        pending = [self._pool.apply_async(_process_task, (spec, i, start_at)) for i in range(spec.processes)]
        time.sleep(max(0.0, start_at - time.time() + spec.warmup_s))
        s0, w0 = proc_cpu_seconds(server_pids or []), time.perf_counter()
        results = [p.get(timeout=spec.warmup_s + spec.duration_s + spec.timeout_s + 60) for p in pending]
        s1, w1 = proc_cpu_seconds(server_pids or []), time.perf_counter()
        lat = np.concatenate([np.frombuffer(r[0], dtype=np.float64) for r in results])
        errors: Counter = Counter()
        for r in results:
            errors.update(r[1])
        wall = max(r[2] for r in results)
        return LoadResult(spec, lat, dict(errors), wall, sum(r[3] for r in results), (s1 - s0) / max(w1 - w0, 1e-9))

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()

    def __enter__(self) -> ClientPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_load(spec: LoadSpec, server_pids: list[int] | None = None) -> LoadResult:
    """One run with its own client processes (the suite keeps a ClientPool instead)."""
    with ClientPool(spec.processes) as pool:
        return pool.run(spec, server_pids)
