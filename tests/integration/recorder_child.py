"""A stand-in gateway for the decision-record crash test: records, awaits, then "replies" on stdout.

Usage: python recorder_child.py HOME FSYNC PRODUCERS. Each of PRODUCERS coroutines loops: submit a record,
await its group's future, print the request id (flushed) — the print is the reply, sent only after the
record was handed to the OS. The test SIGKILLs this process mid-stream and checks every printed id is in
the log.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from registry.decisions import DecisionLog
from registry.records import DecisionRecord, utc_now
from server.telemetry.recorder import DecisionRecorder, RecorderConfig


async def producer(r: DecisionRecorder, p: int) -> None:
    out = sys.stdout
    for i in range(10_000_000):
        rid = f"p{p}-{i}"
        await r.submit(DecisionRecord(utc_now(), rid, "crash-test", "cards", 1, "d" * 64, "champion",
                                      "kid:" + "0" * 64, 0.5, "negative", "OK", 100))
        out.write(rid + "\n")
        out.flush()


async def main(home: Path, fsync: str, producers: int) -> None:
    r = DecisionRecorder(lambda s: DecisionLog.in_home(home, "w0", s), RecorderConfig(fsync=fsync), b"k" * 32,
                         "kid", asyncio.get_running_loop())
    r.start()
    await asyncio.gather(*(producer(r, p) for p in range(producers)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
