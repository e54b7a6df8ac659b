"""A stand-in gateway for the decision-record crash test: records, then "replies" on stdout.

Usage: python recorder_child.py HOME FSYNC PRODUCERS. Each of PRODUCERS coroutines loops: record a decision
through the gateway's own path (DecisionRecorder.record, awaiting only what it returns), then print the
request id (flushed): the print is the reply, sent only after the record was handed to the OS. The test
SIGKILLs this process (alone, or with its chainer) mid-stream and checks every printed id is in the chain.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np

from server.telemetry.recorder import DecisionRecorder, RecorderConfig


async def producer(r: DecisionRecorder, p: int) -> None:
    out = sys.stdout
    x, score, flag = np.array([[0.5, float(p)]]), np.array([0.5]), np.array([False])
    for i in range(10_000_000):
        rid = f"p{p}-{i}"
        future = r.record(rid, "crash-test", "cards", 1, "d" * 64, "champion", x, score, flag, "OK", 100)
        if future is not None:
            await future
        else:
            await asyncio.sleep(0)  # let the other producers run, as a gateway's loop would
        out.write(rid + "\n")
        out.flush()


async def main(home: Path, fsync: str, producers: int) -> None:
    r = DecisionRecorder(home, "decisions-w0", RecorderConfig(fsync=fsync), b"k" * 32, "kid",
                         asyncio.get_running_loop())
    r.start()
    await asyncio.gather(*(producer(r, p) for p in range(producers)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
