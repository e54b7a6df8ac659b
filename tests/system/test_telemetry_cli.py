"""Telemetry end to end: figures summed over workers, decision records that survive SIGKILL, no raw values."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import numpy as np

from registry.decisions import DecisionLog
from server.api.v1 import scoring_pb2 as pb
from server.api.v1 import scoring_pb2_grpc

MODEL = "credit-pd"
ROW = np.array([52000, 41, 0.35, np.nan, 4, 1, 0.3, 9000, 60, 1], dtype=np.float64)




def test_stats_cover_both_workers(home_copy: Path, run_cli, start_serve, tmp_path: Path) -> None:
    served = start_serve(home_copy, "--workers", "2")
    try:
        n = 120
        for i in range(n):  # a new connection each time, so both workers get traffic
            stub = scoring_pb2_grpc.ScoringStub(grpc.insecure_channel(served.target))
            stub.Score(pb.ScoreRequest(model=MODEL, features=ROW, request_id=f"w{i}"), timeout=10)
        time.sleep(2.5)  # > one snapshot interval
        decisions = sum(DecisionLog(p).count() for p in home_copy.glob("decisions-*.db"))
        assert decisions == n
        stats = run_cli("stats", MODEL, "--json", "--target", f"127.0.0.1:{served.admin_port}", home=home_copy)
        assert stats.returncode == 0, stats.stderr
        (version,) = json.loads(stats.stdout)["versions"]
        assert version["requests"] == {"champion|OK": n}  # both workers' counts, from either worker
        total = next(x for x in version["latency"] if x["stage"] == "total")
        assert total["count"] == n
        drift = run_cli("drift", MODEL, "--json", "--target", f"127.0.0.1:{served.admin_port}", home=home_copy)
        figures = json.loads(drift.stdout)["versions"][0]["figures"]
        assert {f["name"] for f in figures} >= {"income", "score"} and all(f["count"] == n for f in figures)
        body = urllib.request.urlopen(f"http://127.0.0.1:{served.metrics_port}/metrics", timeout=5).read().decode()
        assert f'scoregate_requests_total{{code="OK",model="{MODEL}",route="champion",version="1"}} {float(n)}' in body
        denied = run_cli("stats", "--target", f"127.0.0.1:{served.admin_port}", "--token", "nope", home=home_copy)
        assert denied.returncode != 0 and denied.stderr.startswith("error: UNAUTHENTICATED")
        assert len(list(home_copy.glob("decisions-*.db"))) == 2  # one chain per worker
    finally:
        assert served.terminate() == 0
    audit = run_cli("audit", "verify", home=home_copy)
    assert audit.returncode == 0 and audit.stdout.count("OK") >= 3, audit.stdout


def test_no_raw_feature_values_are_stored(home_copy: Path, start_serve) -> None:
    served = start_serve(home_copy)
    marker_income, marker_loan = 987654.321, 13579.2468
    row = ROW.copy()
    row[0], row[7] = marker_income, marker_loan
    try:
        stub = scoring_pb2_grpc.ScoringStub(grpc.insecure_channel(served.target))
        for i in range(5):
            stub.Score(pb.ScoreRequest(model=MODEL, features=row, request_id=f"m{i}"), timeout=10)
        stub.ScoreBatch(pb.ScoreBatchRequest(model=MODEL, rows=2, values=np.tile(row, 2)), timeout=10)
    finally:
        served.terminate()
    needles = [repr(marker_income).encode(), repr(marker_loan).encode(), b"987654.3", b"13579.2468",
               np.float64(marker_income).tobytes(), np.float32(marker_income).tobytes(),
               np.float64(marker_loan).tobytes()]
    checked = 0
    for path in home_copy.rglob("*"):
        if path.is_file() and "artefacts" not in path.parts and "demo" not in path.parts:
            data = path.read_bytes()
            checked += 1
            for needle in needles:
                assert needle not in data, (path, needle)
    assert checked >= 3


CLIENT = """
import sys, grpc, numpy as np
from server.api.v1 import scoring_pb2 as pb, scoring_pb2_grpc
stub = scoring_pb2_grpc.ScoringStub(grpc.insecure_channel(sys.argv[1]))
row = np.array([52000, 41, 0.35, np.nan, 4, 1, 0.3, 9000, 60, 1])
for i in range(100000):
    try:
        r = stub.Score(pb.ScoreRequest(model="credit-pd", features=row, request_id=f"k{i}"), timeout=5)
    except grpc.RpcError:
        break
    print(r.request_id, flush=True)
"""


def test_sigkill_never_loses_the_record_of_an_answered_request(home_copy: Path, start_serve) -> None:
    for round_ in range(2):
        served = start_serve(home_copy)
        client = subprocess.Popen([sys.executable, "-c", CLIENT, served.target], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        answered: list[str] = []
        deadline = time.monotonic() + 30
        while len(answered) < 200 + 150 * round_ and time.monotonic() < deadline:
            answered.append(client.stdout.readline().strip())
        served.process.send_signal(signal.SIGKILL)
        served.process.wait()
        rest, _ = client.communicate(timeout=30)
        answered += [line for line in rest.splitlines() if line]
        recorded = set()
        for db in home_copy.glob("decisions-*.db"):
            log = DecisionLog(db)
            assert log.verify().ok, db
            recorded |= {e["request_id"] for e in log.entries()}
            log.close()
        assert answered and set(answered) <= recorded, set(answered) - recorded
