"""`scoregate rollout` through a running gateway's admin API: canary, step, promote, rollback, shadow, status;
each change is a ledger entry with the actor; the gateway converges; credentials are enforced."""

from __future__ import annotations

import json
import time
from pathlib import Path

import grpc
import numpy as np

from compiler.build import CompileOptions, compile_model
from compiler.demo.data import LABEL, generate
from compiler.demo.model import CONSTRAINTS, pipeline
from registry.audit import ledger_entries
from registry.service import Registry
from server.api.v1 import scoring_pb2 as pb
from server.api.v1 import scoring_pb2_grpc

MODEL = "credit-pd"
ROW = np.array([52000, 41, 0.35, np.nan, 4, 1, 0.3, 9000, 60, 1], dtype=np.float64)


def _approved_v2(home: Path) -> int:
    df = generate(1500, seed=21)
    model = pipeline().set_params(model__C=0.05).fit(df.drop(columns=[LABEL]), df[LABEL])
    compile_model(model, df, home / "v2", CompileOptions(label=LABEL, constraints=CONSTRAINTS))
    reg = Registry(home)
    try:
        v = reg.register(home / "v2", MODEL, "alice").version
        reg.approve(MODEL, v, "bob")
        return v
    finally:
        reg.close()


def _versions_seen(target: str, keys: range) -> dict[int, int]:
    stub = scoring_pb2_grpc.ScoringStub(grpc.insecure_channel(target))
    seen: dict[int, int] = {}
    for k in keys:
        r = stub.Score(pb.ScoreRequest(model=MODEL, features=ROW, entity_key=f"cust-{k}"), timeout=10)
        seen[r.version] = seen.get(r.version, 0) + 1
    return seen


def _eventually(fn, timeout: float = 5.0):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_rollout_lifecycle(home_copy: Path, run_cli, start_serve, tmp_path: Path) -> None:
    v2 = _approved_v2(home_copy)
    served = start_serve(home_copy)
    admin = ["--target", f"127.0.0.1:{served.admin_port}"]
    try:
        r = run_cli("--actor", "carol", "rollout", "start", MODEL, "--version", str(v2), "--weight", "50",
                    "--reason", "first canary", *admin, home=home_copy)
        assert r.returncode == 0, r.stderr
        assert f"canary v{v2} at 50%" in r.stdout
        assert _eventually(lambda: set(_versions_seen(served.target, range(60))) == {1, v2})
        r = run_cli("--actor", "carol", "rollout", "shadow", MODEL, "--version", "1", "--sample", "0.5", *admin,
                    "--json", home=home_copy)
        assert r.returncode != 0 and "error:" in r.stderr  # the champion cannot also be its own shadow
        r = run_cli("--actor", "carol", "rollout", "promote", MODEL, *admin, "--json", home=home_copy)
        status = json.loads(r.stdout)
        assert (status["champion"], status["canary"]) == (v2, None)
        assert _eventually(lambda: set(_versions_seen(served.target, range(30))) == {v2})
        r = run_cli("rollout", "rollback", MODEL, "--reason", "nothing to roll back", *admin, home=home_copy)
        assert r.returncode != 0 and "has no canary to roll back" in r.stderr
        r = run_cli("rollout", "start", MODEL, "--version", "1", "--weight", "150", *admin, home=home_copy)
        assert r.returncode != 0 and "weight: expected 0 < weight <= 100" in r.stderr
        r = run_cli("rollout", "status", MODEL, *admin, "--token", "wrong", home=home_copy)
        assert r.returncode != 0 and r.stderr.startswith("error: UNAUTHENTICATED")
    finally:
        served.terminate()
    reg = Registry(home_copy)
    try:
        deploys = ledger_entries(reg, MODEL, action="deploy")
        assert any(e.actor == "carol" and e.details.get("reason") == "first canary" for e in deploys)
        assert reg.resolve(MODEL, "champion").version == v2
    finally:
        reg.close()


def test_scoring_token_cannot_call_admin(home_copy: Path, run_cli, start_serve, tmp_path: Path) -> None:
    tokens = tmp_path / "scoring.txt"
    tokens.write_text("scoring-secret\n")
    served = start_serve(home_copy, "--token-file", str(tokens))
    try:
        r = run_cli("rollout", "status", MODEL, "--target", f"127.0.0.1:{served.admin_port}", "--token",
                    "scoring-secret", home=home_copy)
        assert r.returncode != 0 and r.stderr.startswith("error: PERMISSION_DENIED: admin API: scoring credentials")
        r = run_cli("rollout", "status", MODEL, "--target", f"127.0.0.1:{served.admin_port}", home=home_copy)
        assert r.returncode == 0 and "champion v1" in r.stdout
    finally:
        served.terminate()


def test_guarded_rollout_with_automatic_steps_from_the_cli(home_copy: Path, run_cli, start_serve) -> None:
    v2 = _approved_v2(home_copy)
    served = start_serve(home_copy)
    admin = ["--target", f"127.0.0.1:{served.admin_port}"]
    try:
        r = run_cli("rollout", "start", MODEL, "--version", str(v2), "--weight", "25", "--steps", "25,50",
                    "--step-after", "40req", "--guardrail", "min_requests=40", "--guardrail", "p99_floor_us=1e6",
                    "--guardrail", "auto_promote=false", *admin, home=home_copy)
        assert r.returncode == 0, r.stderr
        assert f"rollout of v{v2}: running" in r.stdout and "automatic steps 25%, 50%, each held 40 canary requests" \
            in r.stdout and "then promotion" not in r.stdout

        def stepped() -> bool:
            _versions_seen(served.target, range(60))
            status = json.loads(run_cli("rollout", "status", MODEL, *admin, "--json", home=home_copy).stdout)
            return status["canary_weight"] == 50

        assert _eventually(stepped, timeout=30)
        r = run_cli("rollout", "status", MODEL, *admin, home=home_copy)
        assert "canary vs champion: requests" in r.stdout and "score PSI" in r.stdout
        r = run_cli("stats", MODEL, *admin, home=home_copy)
        assert f"{MODEL} rollout: running" in r.stdout and "canary vs champion" in r.stdout
        # the operator's own settings are checked before anything changes
        r = run_cli("rollout", "start", MODEL, "--version", str(v2), "--weight", "5", "--guardrail", "max_psi=0.2",
                    *admin, home=home_copy)
        assert r.returncode != 0 and r.stderr.startswith("error: INVALID_ARGUMENT: guardrails: unknown setting")
        r = run_cli("rollout", "start", MODEL, "--version", str(v2), "--weight", "5", "--steps", "5,25", *admin,
                    home=home_copy)
        assert r.returncode != 0 and "automatic steps need a hold per step" in r.stderr
    finally:
        served.terminate()
    reg = Registry(home_copy)
    try:
        auto = [e for e in ledger_entries(reg, MODEL, action="deploy") if e.actor == "scoregate-guard"]
        assert [e.details["deployment"]["canary_weight"] for e in auto] == [50.0]
        assert auto[0].details["evidence"]["canary_requests"] >= 40
    finally:
        reg.close()


def test_two_workers_a_failing_canary_is_rolled_back_on_both(home_copy: Path, run_cli, start_serve) -> None:
    """Worker 0 guards on the counters of both workers; after the rollback neither sends anyone to the canary."""
    from compiler.build import Constraint

    df = generate(1500, seed=21)
    model = pipeline().fit(df.drop(columns=[LABEL]), df[LABEL])
    compile_model(model, df, home_copy / "bad", CompileOptions(label=LABEL, constraints={
        **CONSTRAINTS, "income": Constraint(0.0, 1000.0)}))  # rejects every real applicant's income
    reg = Registry(home_copy)
    try:
        bad = reg.register(home_copy / "bad", MODEL, "alice").version
        reg.approve(MODEL, bad, "bob")
    finally:
        reg.close()
    served = start_serve(home_copy, "--workers", "2")
    admin = ["--target", f"127.0.0.1:{served.admin_port}"]
    try:
        r = run_cli("rollout", "start", MODEL, "--version", str(bad), "--weight", "20", *admin, home=home_copy)
        assert r.returncode == 0, r.stderr
        time.sleep(0.5)  # both workers converge on the canary
        # several connections: SO_REUSEPORT spreads them over both workers
        stubs = [scoring_pb2_grpc.ScoringStub(grpc.insecure_channel(served.target, options=[
            ("grpc.use_local_subchannel_pool", 1)])) for _ in range(8)]
        errors = 0

        def rolled_back() -> bool:
            status = json.loads(run_cli("rollout", "status", MODEL, *admin, "--json", home=home_copy).stdout)
            return status["rollout"]["state"] == "rolled_back"

        k = 0
        while not rolled_back():
            assert k < 3000, "no rollback"
            for _ in range(50):
                try:
                    stubs[k % 8].Score(pb.ScoreRequest(model=MODEL, features=ROW, entity_key=f"c-{k}"), timeout=10)
                except grpc.RpcError as exc:
                    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
                    errors += 1
                k += 1
        time.sleep(0.5)  # the other worker follows within its poll interval
        seen = [stubs[i % 8].Score(pb.ScoreRequest(model=MODEL, features=ROW, entity_key=f"c-{k + i}"),
                                   timeout=10).version for i in range(400)]
        assert set(seen) == {1}
        # worker 0 sees its own failures at once and worker 1's within a snapshot interval (1 s)
        assert 10 <= errors <= 150, errors
    finally:
        served.terminate()
    reg = Registry(home_copy)
    try:
        auto = [e for e in ledger_entries(reg, MODEL, action="deploy") if e.actor == "scoregate-guard"]
        assert len(auto) == 1 and auto[0].details["evidence"]["breaches"][0]["rule"] == "error_rate"
    finally:
        reg.close()
