"""Interleaved A/B of scoregate configurations: several servers (serve flags and environment differ), load
rounds in turn (the others paused with SIGSTOP), so drift on a shared machine hits every configuration alike.
Start two or three servers of each kind: on this 2-core VM one server process can run ~10% faster than
an identical one for its whole life.

    python -m benchmarks.ab --config off='--decision-log off' --config on= [--copies 3] [--rounds 3]
        [--config 'probe=SOME_ENV=1 --decision-log off']   # NAME=value words set the environment
        [--seconds 3] [--rate 2000]      # --rate: open loop at that rate (compare CPU per request)
        [--pause-children on]            # that config's children (the chainer) stay paused in its rounds

`--pause-children LABEL` measures what the children's CPU costs the gateway: in LABEL's rounds they stay
SIGSTOPped; after every round (of any configuration) the children of the server just loaded run alone
until they are idle, so no configuration's catch-up lands in another's round.

Prints per configuration: rps, p99 per round, and CPU per request split into the gateway process (user,
sys) and its children (the decision chainer). Not part of the suite: a tool for open performance work.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def _ticks(pid: int) -> tuple[int, int, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12]), int(fields[7])  # utime, stime in clock ticks; minor faults


def _rounds(servers: list, labels: list[str], args: argparse.Namespace) -> dict[str, list[tuple[float, ...]]]:
    """Each round loads every server in turn (the others paused): rps, p99 ms, and CPU seconds per request
    of the gateway (user, sys) and of its children."""
    from benchmarks import payloads
    from benchmarks.loadgen import ClientPool, LoadSpec, proc_cpu_seconds
    from benchmarks.targets import sample_rows

    hz = os.sysconf("SC_CLK_TCK")
    results: dict[str, list[tuple[float, ...]]] = {label: [] for label in labels}
    with ClientPool(2) as pool:
        rows = sample_rows(4096)
        for _ in range(args.rounds):
            for label, target in servers:
                pause = label in args.pause_children
                for _, other in servers:
                    for pid in other.pids:
                        os.kill(pid, signal.SIGCONT if other is target else signal.SIGSTOP)
                main_pid, *kids = target.pids  # one read of /proc: the server, then its children
                for pid in kids if pause else []:
                    os.kill(pid, signal.SIGSTOP)
                spec = LoadSpec(target=target.address, method=payloads.METHODS["score"],
                                payloads=payloads.build("score", rows, 1, count=64),
                                mode="open" if args.rate else "closed", concurrency=args.concurrency,
                                rate=args.rate, duration_s=args.seconds, warmup_s=0.5, processes=2,
                                rows_per_request=1, timeout_s=5.0)
                u0, k0, w0 = _ticks(main_pid), proc_cpu_seconds(kids), time.perf_counter()
                out = pool.run(spec, target.pids)
                wall = time.perf_counter() - w0
                u1 = _ticks(main_pid)
                n = out.rps * wall
                for pid in kids if pause else []:
                    os.kill(pid, signal.SIGCONT)
                k1 = _settle(kids)  # the children's catch-up after the round is charged to its configuration
                results[label].append((out.rps, out.summary()["p99_us"] / 1000, (u1[0] - u0[0]) / hz / n,
                                       (u1[1] - u0[1]) / hz / n, (k1 - k0) / n, (u1[2] - u0[2]) / n))
    return results


def _settle(pids: list[int], quiet_s: float = 0.3, timeout_s: float = 60.0) -> float:
    """Wait until the processes use under 2% of a core over `quiet_s`; return their CPU seconds then."""
    from benchmarks.loadgen import proc_cpu_seconds

    deadline, last = time.monotonic() + timeout_s, proc_cpu_seconds(pids)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = proc_cpu_seconds(pids)
        if now - last < 0.02 * quiet_s:
            return now
        last = now
    return last


def main(argv: list[str] | None = None) -> None:
    from benchmarks.targets import _start, prepare_home

    ap = argparse.ArgumentParser(prog="python -m benchmarks.ab")
    ap.add_argument("--config", action="append", required=True, help="LABEL=SERVE FLAGS (repeatable)")
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--rate", type=float, default=0.0, help="open loop at this rate; 0 = closed loop")
    ap.add_argument("--pause-children", action="append", default=[], metavar="LABEL",
                    help="keep this configuration's child processes paused during its rounds (repeatable)")
    args = ap.parse_args(argv)
    configs = [(c.split("=", 1)[0], shlex.split(c.split("=", 1)[1] if "=" in c else "")) for c in args.config]
    with tempfile.TemporaryDirectory(prefix="scoregate-ab-") as tmp:
        base = prepare_home(Path(tmp) / "home")
        servers = []
        for copy in range(args.copies):
            for label, flags in configs:
                home = Path(tmp) / f"{label}-{copy}"
                shutil.copytree(base, home)
                env = dict(f.split("=", 1) for f in flags if _ENV.match(f))  # NAME=value words: environment
                argv_ = [sys.executable, "-m", "server.cli", "--home", str(home), "serve", "--port", "0",
                         "--admin-port", "0", "--metrics-port", "0", "--log-level", "WARNING",
                         *(f for f in flags if not _ENV.match(f))]
                servers.append((label, _start(label, argv_, env)))
        try:
            results = _rounds(servers, [label for label, _ in configs], args)
        finally:
            for _, target in servers:
                for pid in target.pids:
                    try:
                        os.kill(pid, signal.SIGCONT)
                    except OSError:
                        pass
                target.stop()
    ref = float(np.mean([r[0] for r in results[configs[0][0]]]))
    for label, rs in results.items():
        a = np.asarray(rs)
        print(f"{label:16s} rps {a[:, 0].mean():7.0f} ({a[:, 0].mean() / ref:4.2f}x)  p99 ms "
              f"{[round(float(x), 1) for x in a[:, 1]]}  CPU per request: gateway user {a[:, 2].mean() * 1e6:4.0f} us, "
              f"sys {a[:, 3].mean() * 1e6:3.0f} us, children {a[:, 4].mean() * 1e6:3.0f} us; "
              f"gateway page faults {a[:, 5].mean():.2f}")


if __name__ == "__main__":  # the client pool spawns processes: this module must not run on import
    main()
