"""Decision-log append rate (records/s per batch size), the chainer's rate on a journal, and chain verify rate
(entries/s), on real files.

Run: `python -m benchmarks.ledger_throughput [--records N] [--synchronous NORMAL|FULL]`. Uses a fresh
temporary directory; prints a small table. Numbers are single-process, single-core wall-clock rates.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

from registry.audit import verify_ledger
from registry.decisions import DecisionLog
from registry.ledger import append_entry
from registry.records import DecisionRecord, utc_now
from registry.service import Registry


def records(n: int) -> list[DecisionRecord]:
    now = utc_now()
    digest = hashlib.sha256(b"bundle").hexdigest()
    return [DecisionRecord(now, f"req-{i:012d}", "card-auth", "cards", 3, digest, "champion",
                           hashlib.sha256(str(i).encode()).hexdigest(), (i % 1000) / 1000.0, "bad", "OK", 850 + i % 97)
            for i in range(n)]


def append_rate(path: Path, batch: int, total: int, synchronous: str) -> float:
    log = DecisionLog(path, synchronous=synchronous)
    recs = records(total)
    batches = [recs[i:i + batch] for i in range(0, total, batch)]
    t0 = time.perf_counter()
    for b in batches:
        log.append_batch(b)
    dt = time.perf_counter() - t0
    log.close()
    return total / dt


def chain_rate(home: Path, total: int, binary: bool) -> float:
    """The chainer's rate (records/s) on a journal of one-row records: binary ones as the gateway's one-call
    writer frames them, or marshal frames as the general path writes them."""
    import numpy as np

    from registry.chainer import JournalChainer
    from registry.journal import JournalWriter, encode
    from server.telemetry.hash_kernels import keyed_states, new_work
    from server.telemetry.record_writer import route_tail, write_record
    from server.telemetry.recorder import RowDigest

    key, key_id, digest = b"k" * 32, "0123456789ab", hashlib.sha256(b"bundle").hexdigest()
    keys, work = keyed_states(key), new_work()
    tail, hmac = route_tail(key_id, "cards", digest, "champion", "OK"), RowDigest(key, key_id)
    writer, x = JournalWriter(home, "decisions"), np.linspace(0.0, 1.0, 10).reshape(1, 10)
    for i in range(total):
        if binary:
            writer.append_in_place(write_record, x, keys, work, time.time_ns(), 3, 850, 0.5, True,
                                   f"req-{i:012d}".encode(), b"card-auth", tail)
        else:
            writer.append(encode([(time.time_ns(), f"req-{i:012d}", "card-auth", "cards", 3, digest, "champion",
                                   hmac(x.tobytes()), 0.5, "positive", "OK", 850)]))
    log = DecisionLog.in_home(home)
    chainer = JournalChainer(log, writer.path)
    t0 = time.perf_counter()
    n = chainer.step()
    dt = time.perf_counter() - t0
    writer.close()
    log.close()
    if n != total:
        raise SystemExit(f"chained {n} of {total} records")
    return total / dt


def verify_rate(path: Path) -> tuple[float, int]:
    log = DecisionLog(path)
    t0 = time.perf_counter()
    report = log.verify()
    dt = time.perf_counter() - t0
    log.close()
    if not report.ok:
        raise SystemExit(f"verify failed: {report.reason}")
    return report.entries / dt, report.entries


def lifecycle_rates(home: Path, n: int) -> tuple[float, float]:
    """Lifecycle ledger: verify rate (entries/s) over n entries, and the gateway's routing-revision poll (calls/s)."""
    reg = Registry(home, synchronous="NORMAL")

    def fill(tx) -> None:
        for i in range(n):
            append_entry(tx, "bench", "drift.alert", "cards", 1, None, {"feature": f"f{i % 30}", "psi": i / n})

    reg.store.write(fill)
    t0 = time.perf_counter()
    report = verify_ledger(reg)
    verify = report.entries / (time.perf_counter() - t0)
    polls = 20_000
    t0 = time.perf_counter()
    for _ in range(polls):
        reg.routing_revision()
    poll = polls / (time.perf_counter() - t0)
    reg.close()
    if not report.ok:
        raise SystemExit(f"verify failed: {report.reason}")
    return verify, poll


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=100_000, help="records per batch-size run (batch 1 uses 1/10)")
    ap.add_argument("--synchronous", default="NORMAL", choices=["NORMAL", "FULL"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="scoregate-bench-") as tmp:
        rows = []
        for batch in (1, 64, 512):
            total = max(args.records // 10, 1000) if batch == 1 else args.records
            rate = append_rate(Path(tmp) / f"decisions-b{batch}.db", batch, total, args.synchronous)
            rows.append((f"append batch={batch}", total, rate))
        for binary in (True, False):
            rate = chain_rate(Path(tmp) / f"chain-{binary}", args.records, binary)
            rows.append((f"chain {'binary' if binary else 'marshal'}", args.records, rate))
        vrate, n = verify_rate(Path(tmp) / "decisions-b512.db")
        rows.append(("verify decisions", n, vrate))
        lrate, prate = lifecycle_rates(Path(tmp) / "home", args.records // 2)
        rows.append(("verify ledger", args.records // 2, lrate))
        rows.append(("routing_revision()", 20_000, prate))
    print(f"synchronous={args.synchronous}")
    print(f"{'operation':<20} {'entries':>9} {'per second':>12}")
    for name, n, rate in rows:
        print(f"{name:<20} {n:>9} {rate:>12,.0f}")


if __name__ == "__main__":
    main()
