"""`scoregate serve` / `score` / `demo` as subprocesses: graceful stop, workers, config errors, the demo."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
import numpy as np
import pytest

from server.api.v1 import scoring_pb2 as pb
from server.api.v1 import scoring_pb2_grpc

MODEL = "credit-pd"
ROW = "52000,41,0.35,nan,4,1,0.3,9000,60,1"


def _row() -> np.ndarray:
    return np.array([float(v) for v in ROW.split(",")])


def test_score_command(running, run_cli) -> None:
    ok = run_cli("score", "--model", MODEL, "--target", running.target, "--features", ROW)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("credit-pd v1 (champion)  score ")
    bad = run_cli("score", "--model", MODEL, "--target", running.target, "--features", "1,2")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [bad.stderr.strip()]
    assert bad.stderr.startswith("error: INVALID_ARGUMENT: features: expected 10 values")


def test_sigterm_lets_in_flight_requests_finish(home_copy, start_serve) -> None:
    served = start_serve(home_copy, "--max-batch-size", "4096", "--max-queue", "64")
    stub = scoring_pb2_grpc.ScoringStub(grpc.insecure_channel(served.target))
    big = pb.ScoreBatchRequest(model=MODEL, rows=4096, raw_values=np.tile(_row(), 4096).tobytes())
    assert stub.Score(pb.ScoreRequest(model=MODEL, features=_row()), timeout=10).version == 1
    futures = [stub.ScoreBatch.future(big, timeout=60) for _ in range(24)]
    futures[0].result()  # the server is busy and the rest are in flight
    done_before = sum(f.done() for f in futures)
    code = served.terminate()
    outcomes = []
    for f in futures:
        try:
            outcomes.append(len(f.result().scores))
        except grpc.RpcError as exc:
            outcomes.append(exc.code().name)
    assert code == 0
    # requests in flight at SIGTERM completed during the grace period; none failed half-way
    assert outcomes.count(4096) > done_before
    assert set(outcomes) <= {4096, "UNAVAILABLE", "CANCELLED"}


def test_two_workers_share_the_port(home_copy, start_serve) -> None:
    served = start_serve(home_copy, "--workers", "2")
    try:
        errors: list[str] = []

        def client() -> None:
            for _ in range(30):
                stub = scoring_pb2_grpc.ScoringStub(grpc.insecure_channel(served.target))  # a new connection each
                try:
                    assert stub.Score(pb.ScoreRequest(model=MODEL, features=_row()), timeout=10).version == 1
                except grpc.RpcError as exc:
                    errors.append(exc.details())
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        children = Path(f"/proc/{served.process.pid}/task/{served.process.pid}/children").read_text().split()
        assert len(children) == 2
    finally:
        assert served.terminate() == 0


@pytest.mark.parametrize("args,env,message", [
    (["--workers", "0"], {}, "serve setting workers = 0 is invalid; expected 1..64"),
    (["--max-batch-size", "-1"], {}, "serve setting max_batch_size = -1 is invalid; expected a positive integer"),
    (["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"], {},
     "serve setting tls_cert = '/nonexistent.pem' is invalid; expected an existing file"),
    ([], {"SCOREGATE_SERVE_PORT": "abc"}, "serve setting port = 'abc' is invalid; expected int"),
    ([], {"SCOREGATE_SERVE_COLOUR": "blue"}, "environment SCOREGATE_SERVE_COLOUR: unknown setting 'colour'"),
])
def test_bad_settings_are_one_line(home_copy, run_cli, args, env, message) -> None:
    port = [] if "SCOREGATE_SERVE_PORT" in env else ["--port", "0"]  # a flag would override the environment
    r = run_cli("serve", *port, *args, home=home_copy, env=env, timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith(f"error: {message}")


def test_unknown_key_in_config_file(home_copy, run_cli, tmp_path: Path) -> None:
    cfg = tmp_path / "serve.toml"
    cfg.write_text("[serve]\nport = 0\nturbo = true\n")
    r = run_cli("serve", "--config", str(cfg), home=home_copy)
    assert r.returncode != 0 and "unknown setting(s) ['turbo']" in r.stderr and "Traceback" not in r.stderr


def test_serve_without_a_registry(run_cli, tmp_path: Path) -> None:
    r = run_cli("serve", "--port", "0", home=tmp_path / "empty")
    assert r.returncode != 0 and r.stderr.startswith("error: no registry under")


def test_demo_once(run_cli, tmp_path: Path) -> None:
    r = run_cli("demo", "--once", "--port", "0", home=tmp_path / "demo-home", env={"SCOREGATE_ACTOR": "carol"})
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "parity PASSED" in out and "registered credit-pd v1 by carol" in out
    assert "approved by risk-officer" in out and "deployed v1 as champion" in out
    assert out.count("(credit-pd v1, champion)") == 5
    assert "a bad request is refused: INVALID_ARGUMENT: row 0: feature 'age' = 12.0" in out
    # the feedback loop: outcomes joined to the decisions, performance, a retrained challenger in shadow
    assert "outcomes posted over RecordOutcomes: 2000 accepted, 0 duplicates, 0 refused" in out
    assert "v1 champion: 2000 outcomes" in out and "(training 0.7" in out
    assert "registered by carol" in out and "approved by risk-officer (not the person who retrained it)" in out
    assert "shadow v2 vs champion: 2000 compared, decision flips" in out and "[ok]" in out
    assert "next: scoregate rollout start credit-pd --version 2" in out
