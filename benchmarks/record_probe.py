"""Where the decision records' cost goes: one real `scoregate serve`, closed loop at c=64, then the decision
log's group figures from GetStats (records per group), optionally with a py-spy profile of the server.

    python -m benchmarks.record_probe [--profile prof.txt] [-- extra serve flags, e.g. --decision-log off]

Not part of the suite: a tool for the open work on the decision records' throughput cost.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    import grpc
    from google.protobuf.json_format import MessageToDict

    from benchmarks import payloads
    from benchmarks.loadgen import ClientPool, LoadSpec
    from benchmarks.targets import prepare_home, sample_rows, start_scoregate
    from server.api.v1 import admin_pb2, admin_pb2_grpc

    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", help="write a py-spy raw profile (GIL holders only) of the server here")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("serve", nargs="*", help="extra `scoregate serve` flags (after --)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scoregate-probe-") as tmp:
        home = prepare_home(Path(tmp) / "home")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        admin = s.getsockname()[1]
        s.close()
        target = start_scoregate(home, 1, ["--admin-port", str(admin), *args.serve])
        try:
            prof = None
            if args.profile:
                spy = str(Path(sys.executable).with_name("py-spy"))  # installed beside the interpreter
                prof = subprocess.Popen([spy, "record", "-d", str(int(args.seconds)),
                                         "-r", "250", "-f", "raw", "-o", args.profile, "--pid",
                                         str(target.process.pid), "--threads", "--gil"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with ClientPool(2) as pool:
                spec = LoadSpec(target=target.address, method=payloads.METHODS["score"],
                                payloads=payloads.build("score", sample_rows(4096), 1, count=64), mode="closed",
                                concurrency=64, rate=0.0, duration_s=args.seconds, warmup_s=1.0, processes=2,
                                rows_per_request=1, timeout_s=5.0)
                result = pool.run(spec, target.pids)
            if prof is not None:
                prof.wait()
            token = (home / "admin.token").read_text().split()[0]
            stub = admin_pb2_grpc.AdminStub(grpc.insecure_channel(f"127.0.0.1:{admin}"))
            stats = MessageToDict(stub.GetStats(admin_pb2.StatsRequest(), timeout=10,
                                                metadata=[("authorization", f"Bearer {token}")]).stats)
            log = stats.get("decision_log", {})
            groups = max(1.0, float(log.get("groups", 1)))
            print(f"rps {result.rps:.0f}, server CPU {result.server_cpu:.2f} cores, p99 "
                  f"{result.summary()['p99_us'] / 1000:.1f} ms; decision log {log or 'off'}"
                  + (f", {float(log.get('written', 0)) / groups:.1f} records per group" if log else ""))
        finally:
            target.stop()


if __name__ == "__main__":  # the client pool spawns processes: this module must not run on import
    main()
