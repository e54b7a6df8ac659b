"""Guarded rollouts on a real gateway: automatic rollback on errors and on shifted scores, automatic steps
to promotion, shadows that fail without the caller noticing, and the comparison figures in the admin API."""

from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf import struct_pb2
from google.protobuf.json_format import MessageToDict

from compiler.build import CompileOptions, Constraint, compile_model
from compiler.demo.data import FEATURES, LABEL, generate
from compiler.demo.model import CONSTRAINTS, pipeline, train
from registry.service import Registry
from server.api.v1 import admin_pb2, admin_pb2_grpc
from server.api.v1 import scoring_pb2 as pb

MODEL = "credit-pd"


def _add(home: Path, name: str, model: Any, constraints: dict = CONSTRAINTS, columns=FEATURES) -> int:
    df = generate(2000, seed=77)
    compile_model(model, df[[*columns, LABEL]], home / name, CompileOptions(label=LABEL, constraints={
        k: v for k, v in constraints.items() if k in columns}))
    reg = Registry(home)
    try:
        v = reg.register(home / name, MODEL, "alice", description=name).version
        reg.approve(MODEL, v, "bob")
        return v
    finally:
        reg.close()


@pytest.fixture(scope="module")
def rollout_home(template_home: Path, tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """The demo home plus four approved candidates: healthy, failing, shifted, and narrower (9 features)."""
    home = tmp_path_factory.mktemp("rollout") / "home"
    shutil.copytree(template_home, home)
    df = generate(2000, seed=77)
    narrow = [f for f in FEATURES if f != "tenure_months"]
    versions = {
        # trained on other data: a legitimately new model, close to the champion
        "healthy": _add(home, "healthy", train(rows=20_000, seed=8)),
        # a schema mistake: its validation rejects every real applicant's income
        "failing": _add(home, "failing", train(), {**CONSTRAINTS, "income": Constraint(0.0, 1000.0)}),
        # retrained with balanced class weights: its scores move far up
        "shifted": _add(home, "shifted", pipeline().set_params(model__class_weight="balanced").fit(
            df[list(FEATURES)], df[LABEL])),
        # built for a feature set the callers do not send: every shadow copy fails
        "narrow": _add(home, "narrow", pipeline_without(narrow).fit(df[narrow], df[LABEL]), columns=narrow),
    }
    return home, versions


def pipeline_without(columns: list[str]):  # noqa: ANN201
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("prep", ColumnTransformer([("all", Pipeline([
        ("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), columns)])),
        ("model", LogisticRegression(max_iter=1000))])


@pytest.fixture
def rhome(rollout_home, tmp_path: Path) -> tuple[Path, dict[str, int]]:
    home, versions = rollout_home
    dst = tmp_path / "home"
    shutil.copytree(home, dst)
    return dst, versions


class Admin:
    def __init__(self, running: Any) -> None:
        token = (running.home / "admin.token").read_text().strip().splitlines()[0]
        self._md = [("authorization", f"Bearer {token}"), ("x-scoregate-actor", "carol")]
        self._stub = admin_pb2_grpc.AdminStub(grpc.insecure_channel(f"127.0.0.1:{running.gateway.admin_port}"))

    def __call__(self, method: str, request: Any) -> dict[str, Any]:
        reply = getattr(self._stub, method)(request, timeout=10, metadata=self._md)
        return MessageToDict(reply, preserving_proto_field_name=True)

    def start(self, version: int, weight: float, **settings: Any) -> dict[str, Any]:
        steps = settings.pop("steps", [])
        step_after = settings.pop("step_after", "")
        g = struct_pb2.Struct()
        g.update(settings)
        return self("StartRollout", admin_pb2.StartRolloutRequest(
            model=MODEL, version=version, weight=weight, steps=steps, step_after=step_after,
            guardrails=g))["status"]

    def status(self) -> dict[str, Any]:
        return self("GetRollout", admin_pb2.ModelAction(model=MODEL))["status"]


class Traffic:
    """Callers with distinct customer ids, recording every reply (or error) they see."""

    def __init__(self, running: Any, rows: np.ndarray) -> None:
        self.stub = running.stub()
        self.rows = rows
        self.replies: list[tuple[str, int, str, float]] = []  # (route, version, customer, score)
        self.errors: list[str] = []
        self._next = 0
        self._lock = threading.Lock()

    def one(self) -> None:
        with self._lock:
            i = self._next
            self._next += 1
        try:
            r = self.stub.Score(pb.ScoreRequest(model=MODEL, features=self.rows[i % len(self.rows)],
                                                entity_key=f"customer-{i}", request_id=f"r{i}"), timeout=10)
            with self._lock:
                self.replies.append((r.route, r.version, f"customer-{i}", r.score))
        except grpc.RpcError as exc:
            with self._lock:
                self.errors.append(f"{exc.code().name}: {exc.details()}")

    def run(self, n: int, threads: int = 4) -> None:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda _: self.one(), range(n)))

    def until(self, done, limit: int, batch: int = 50, threads: int = 4) -> None:  # noqa: ANN001
        sent = 0
        while not done():
            assert sent < limit, f"not done after {sent} requests"
            self.run(batch, threads)
            sent += batch


@pytest.fixture(scope="module")
def traffic_rows() -> np.ndarray:
    return generate(3000, seed=99)[list(FEATURES)].to_numpy(dtype=np.float64)


def _entries(home: Path) -> list[Any]:
    from registry.audit import ledger_entries

    reg = Registry(home)
    try:
        return list(ledger_entries(reg))
    finally:
        reg.close()


def test_a_canary_failing_every_request_is_rolled_back_after_a_handful_of_errors(rhome, start, traffic_rows) -> None:
    home, v = rhome
    running = start(home, guard_interval_s=0.5)
    try:
        admin = Admin(running)
        admin.start(v["failing"], 10)
        traffic = Traffic(running, traffic_rows)
        traffic.until(lambda: admin.status()["rollout"]["state"] == "rolled_back", limit=3000)
        traffic.run(500)  # after the rollback: nobody is sent to the broken version any more
        assert 10 <= len(traffic.errors) <= 20, traffic.errors
        assert all(e.startswith("INVALID_ARGUMENT: row 0: feature 'income'") for e in traffic.errors), traffic.errors[:3]
        assert all(route == "champion" for route, *_ in traffic.replies[-500:])
        status = admin.status()
        assert status["canary_weight"] == 0 and int(status["canary"]) == v["failing"]
        (breach,) = status["rollout"]["breaches"]
        assert breach["rule"] == "error_rate" and breach["canary"] == 1.0 and breach["champion"] == 0.0
        entry = [e for e in _entries(home) if e.action == "deploy" and e.actor == "scoregate-guard"]
        assert len(entry) == 1
        evidence = entry[0].details["evidence"]
        assert evidence["breaches"][0]["rule"] == "error_rate" and "threshold" in evidence["breaches"][0]
        # a rolled-back rollout does not move again without a new start
        with pytest.raises(grpc.RpcError) as err:
            admin("StepRollout", admin_pb2.StepRolloutRequest(model=MODEL, weight=50))
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "rolled back" in err.value.details()
    finally:
        running.stop()


def test_a_canary_with_shifted_scores_is_rolled_back_on_psi(rhome, start, traffic_rows) -> None:
    home, v = rhome
    running = start(home, guard_interval_s=0.1)
    try:
        admin = Admin(running)
        admin.start(v["shifted"], 30, min_requests=150, p99_floor_us=1e6)
        traffic = Traffic(running, traffic_rows)
        traffic.until(lambda: admin.status()["rollout"]["state"] == "rolled_back", limit=4000)
        assert not traffic.errors
        (breach,) = admin.status()["rollout"]["breaches"]
        assert breach["rule"] == "score_psi" and breach["psi"] > 0.25 and breach["threshold"] == 0.25
        assert breach["canary_scored"] >= 150 and breach["champion_scored"] >= 150
        traffic.run(300)
        assert {route for route, *_ in traffic.replies[-300:]} == {"champion"}
    finally:
        running.stop()


def test_a_healthy_canary_steps_to_full_traffic_and_is_promoted(rhome, start, traffic_rows) -> None:
    home, v = rhome
    running = start(home, guard_interval_s=0.1)
    try:
        admin = Admin(running)
        # p99 under load on a 2-core CI box is noise, not the subject here: the floor keeps it out
        admin.start(v["healthy"], 20, steps=[20, 50, 100], step_after="100req", min_requests=100,
                    p99_floor_us=1e6)
        traffic = Traffic(running, traffic_rows)
        traffic.until(lambda: admin.status()["rollout"]["state"] == "promoted", limit=6000)
        assert not traffic.errors
        status = admin.status()
        assert int(status["champion"]) == v["healthy"] and not status.get("canary")
        entries = [e for e in _entries(home) if e.actor == "scoregate-guard"]
        weights = [e.details["deployment"]["canary_weight"] for e in entries if e.action == "deploy"]
        assert weights == [50.0, 100.0, 0.0], [e.details for e in entries]
        assert all(e.details["evidence"]["canary_requests"] >= 100 for e in entries if e.action == "deploy")
        reg = Registry(home)
        try:
            assert reg.resolve(MODEL, "champion").version == v["healthy"]
        finally:
            reg.close()
        traffic.run(100)
        assert {(route, version) for route, version, *_ in traffic.replies[-100:]} == {("champion", v["healthy"])}
    finally:
        running.stop()


def test_customers_stay_on_their_arm_and_replies_name_it(rhome, start, traffic_rows) -> None:
    home, v = rhome
    running = start(home)
    try:
        Admin(running).start(v["healthy"], 10)
        time.sleep(0.3)
        traffic = Traffic(running, traffic_rows)
        for i in range(400):
            traffic._next = i % 200  # every customer twice
            traffic.one()
        arms: dict[str, set[tuple[str, int]]] = {}
        for route, version, customer, _ in traffic.replies:
            arms.setdefault(customer, set()).add((route, version))
        assert all(len(a) == 1 for a in arms.values())
        canary = sum(1 for a in arms.values() if a == {("canary", v["healthy"])})
        assert 5 <= canary <= 40  # about 10 % of 200 customers
    finally:
        running.stop()


def test_a_shadow_that_fails_every_copy_changes_nothing_for_callers(rhome, start, traffic_rows, offline) -> None:
    home, v = rhome
    running = start(home)
    try:
        admin = Admin(running)
        admin("SetShadow", admin_pb2.SetShadowRequest(model=MODEL, version=v["narrow"], sample=1.0))
        deadline = time.monotonic() + 5
        while not running.gateway.core.table.lanes() and time.monotonic() < deadline:
            time.sleep(0.02)
        traffic = Traffic(running, traffic_rows)
        traffic.run(300)
        assert not traffic.errors and len(traffic.replies) == 300
        for (route, version, customer, score) in traffic.replies[:50]:
            i = int(customer.split("-")[1])
            assert (route, version) == ("champion", 1)
            assert score == float(offline(traffic_rows[i % len(traffic_rows)])[0])
        (lane,) = running.gateway.core.table.lanes()
        deadline = time.monotonic() + 5
        while lane.counters.failed + lane.counters.dropped < 300 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lane.counters.failed + lane.counters.dropped == 300 and lane.counters.scored == 0
        running.gateway.telemetry.write_snapshot()
        stats = admin("GetStats", admin_pb2.StatsRequest(model=MODEL))["stats"]
        (shadow,) = [s for s in stats["versions"] if int(s["version"]) == v["narrow"]]
        assert int(shadow["shadow"]["failed"]) == lane.counters.failed
    finally:
        running.stop()


def test_a_healthy_shadow_is_compared_and_reported(rhome, start, traffic_rows) -> None:
    home, v = rhome
    running = start(home, guard_interval_s=0.1)
    try:
        admin = Admin(running)
        admin("SetShadow", admin_pb2.SetShadowRequest(model=MODEL, version=v["shifted"], sample=1.0))
        time.sleep(0.3)
        traffic = Traffic(running, traffic_rows)
        traffic.run(400)
        deadline = time.monotonic() + 10
        guard = {}
        while time.monotonic() < deadline:
            guard = admin.status().get("guard", {})
            shadows = guard.get("shadows") or [{}]
            if shadows[0].get("state") == "breach":
                break
            time.sleep(0.1)
        (sh,) = guard["shadows"]
        # balanced class weights move many applicants over the threshold: the flip rule reports it
        assert sh["state"] == "breach" and sh["flip_rate"] > 0.2 and int(sh["scored"]) >= 200
        assert not traffic.errors
        assert [e for e in _entries(home) if e.action == "gateway.guardrail.shadow_breach"]
    finally:
        running.stop()
