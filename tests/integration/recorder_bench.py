"""Throughput of the decision recorder on real files (not a test: run it, read the numbers).

    .venv/bin/python tests/integration/recorder_bench.py [SECONDS]

Prints records/s for 1 sequential producer (submit, await, repeat: the c=1 request path) and for 64
concurrent producers, per fsync policy, and the cost of submit() and digest() on the event loop in µs.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from registry.decisions import DecisionLog
from registry.records import DecisionRecord, utc_now
from server.telemetry.recorder import DecisionRecorder, RecorderConfig


def rec(rid: str) -> DecisionRecord:
    return DecisionRecord(utc_now(), rid, "bench", "cards", 1, "d" * 64, "champion", "kid:" + "0" * 64, 0.5,
                          "negative", "OK", 100)


async def producers(fsync: str, n: int, seconds: float) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as home:
        r = DecisionRecorder(lambda s: DecisionLog.in_home(Path(home), None, s), RecorderConfig(fsync=fsync),
                             b"k" * 32, "kid", asyncio.get_running_loop())
        r.start()
        stop = time.perf_counter() + seconds

        async def one(p: int) -> None:
            i = 0
            while time.perf_counter() < stop:
                await r.submit(rec(f"{p}-{i}"))
                i += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(one(p) for p in range(n)))
        elapsed = time.perf_counter() - t0
        await r.close()
        return r.written / elapsed, r.written / max(r.groups, 1)


async def submit_cost(n: int = 50_000) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as home:
        r = DecisionRecorder(lambda s: DecisionLog.in_home(Path(home), None, s), RecorderConfig(fsync="interval:1"),
                             b"k" * 32, "kid", asyncio.get_running_loop())
        r.start()
        records = [rec(f"s-{i}") for i in range(n)]
        t0 = time.perf_counter()
        futures = [r.submit(x) for x in records]
        per_submit = (time.perf_counter() - t0) / n * 1e6
        row = np.random.default_rng(0).normal(size=30)
        t0 = time.perf_counter()
        for _ in range(n):
            r.digest(row)
        per_digest = (time.perf_counter() - t0) / n * 1e6
        await asyncio.gather(*futures)
        await r.close()
        return per_submit, per_digest


async def main(seconds: float) -> None:
    for fsync in ("group", "interval:1"):
        for n in (1, 64):
            rate, per_group = await producers(fsync, n, seconds)
            print(f"fsync={fsync:<11} producers={n:<3} {rate:>9,.0f} records/s  {per_group:>6.1f} records/group")
    per_submit, per_digest = await submit_cost()
    print(f"submit(): {per_submit:.2f} µs   digest(30 floats): {per_digest:.2f} µs")


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0))
