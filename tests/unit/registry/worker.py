"""A writer process for the crash and concurrency tests: prints one line per acknowledged write, flushed.

    worker.py crash HOME ID            loop forever: a deployment change, then a batch of 50 decisions
    worker.py concurrent HOME ID N BUNDLE...   N writes: a registration every 20th write while bundles last,
                                               otherwise a deployment change
Lines: "L <routing revision>" (deployment committed), "D <last seq> <first request id>" (batch committed),
"V <version>" (registration committed).
"""

from __future__ import annotations

import sys
from pathlib import Path

from registry.decisions import DecisionLog
from registry.records import DecisionRecord, utc_now
from registry.service import Registry


def ack(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def crash(home: Path, wid: str) -> None:
    reg = Registry(home)
    log = DecisionLog.in_home(home)
    i = 0
    while True:
        i += 1
        d = reg.set_deployment("cards", f"w{wid}", f"step {i}", champion=1 + i % 2)
        ack(f"L {d.revision}")
        batch = [DecisionRecord(utc_now(), f"{wid}-{i}-{k}", "c", "cards", 1, "d" * 64, "champion", "e" * 64,
                                k / 50, None, "OK", k) for k in range(50)]
        ack(f"D {log.append_batch(batch)} {wid}-{i}-0")


def concurrent(home: Path, wid: str, n: int, bundles: list[str]) -> None:
    reg = Registry(home, synchronous="NORMAL")
    for i in range(n):
        if i % 20 == 0 and bundles:
            ack(f"V {reg.register(bundles.pop(0), 'cards', f'w{wid}').version}")
        else:
            ack(f"L {reg.set_deployment('cards', f'w{wid}', f'{wid}-{i}', champion=1 + i % 2).revision}")


if __name__ == "__main__":
    mode, home, wid = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    if mode == "crash":
        crash(home, wid)
    else:
        concurrent(home, wid, int(sys.argv[4]), sys.argv[5:])
