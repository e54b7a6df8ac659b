"""Hot reload under load: champion changes apply with no failed request and no stale answers afterwards;
a version that fails to load leaves the current one serving, on the record."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc

from compiler.build import CompileOptions, compile_model
from compiler.demo.data import LABEL, generate
from compiler.demo.model import CONSTRAINTS, pipeline
from registry.audit import ledger_entries
from registry.service import Registry
from server.api.v1 import scoring_pb2 as pb

MODEL = "credit-pd"


def _second_version(home: Path) -> int:
    """A differently trained model (other seed and C), registered by alice and approved by bob."""
    df = generate(2000, seed=77)
    model = pipeline().set_params(model__C=0.05).fit(df.drop(columns=[LABEL]), df[LABEL])
    compile_model(model, df, home / "v2", CompileOptions(label=LABEL, constraints=CONSTRAINTS))
    reg = Registry(home)
    try:
        v = reg.register(home / "v2", MODEL, "alice").version
        reg.approve(MODEL, v, "bob")
        return v
    finally:
        reg.close()


def _wait_version(stub, version: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stub.GetModelInfo(pb.ModelInfoRequest(model=MODEL), timeout=5).version == version:
            return
        time.sleep(0.01)
    raise AssertionError(f"version {version} was not applied within {timeout}s")


def test_twenty_champion_changes_under_load(home: Path, start, rows) -> None:
    v2 = _second_version(home)
    running = start(home, poll_interval_ms=20)
    stop = threading.Event()
    log: list[tuple[float, float, int]] = []  # (sent, answered, version)
    failures: list[str] = []

    def load() -> None:
        stub = running.stub()
        i = 0
        while not stop.is_set():
            try:
                sent = time.monotonic()  # routing happens after this moment
                r = stub.Score(pb.ScoreRequest(model=MODEL, features=rows[i % len(rows)]), timeout=5)
                log.append((sent, time.monotonic(), r.version))
            except grpc.RpcError as exc:
                failures.append(f"{exc.code().name}: {exc.details()}")
            i += 1

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    reg = Registry(home)
    stub = running.stub()
    applied: list[tuple[float, int]] = []
    changes: list[float] = []
    try:
        for k in range(20):
            version = v2 if k % 2 == 0 else 1
            changes.append(time.monotonic())
            reg.set_deployment(MODEL, "bob", f"flip {k}", champion=version)
            _wait_version(stub, version)
            applied.append((time.monotonic(), version))
            time.sleep(0.05)
        changes.append(float("inf"))
    finally:
        stop.set()
        for t in threads:
            t.join()
        reg.close()
        running.stop()
    assert failures == []
    assert len(log) > 100
    # a request sent after a change was applied and answered before the next change was written was routed
    # between the two, so it must be answered by the new version (one answered later may have been routed
    # after the next change: a client thread can stall between stamping `sent` and the server routing it)
    for (t_applied, version), next_change in zip(applied, changes[1:]):
        window = [v for sent, answered, v in log if t_applied < sent and answered < next_change]
        assert window and set(window) == {version}, (version, set(window))


def test_a_bundle_that_fails_to_load_keeps_the_current_version(home: Path, start, rows, caplog) -> None:
    v2 = _second_version(home)
    reg = Registry(home)
    digest = reg.version(MODEL, v2).digest
    onnx = home / "artefacts" / digest / "model.onnx"
    onnx.chmod(0o644)
    data = bytearray(onnx.read_bytes())
    data[100] ^= 0xFF
    onnx.write_bytes(bytes(data))
    running = start(home, poll_interval_ms=20)
    try:
        with caplog.at_level("ERROR", logger="scoregate.control"):
            reg.set_deployment(MODEL, "bob", "deploy the damaged one", champion=v2)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and running.gateway._watcher.applied_revision < reg.routing_revision():
                time.sleep(0.02)
        reply = running.stub().Score(pb.ScoreRequest(model=MODEL, features=rows[0]), timeout=5)
        assert reply.version == 1  # the current version keeps serving
        assert any("failed to load" in r.getMessage() for r in caplog.records)
        entries = ledger_entries(reg, MODEL, action="gateway.load_failed")
        assert len(entries) == 1 and entries[0].version == v2 and "error" in entries[0].details
    finally:
        reg.close()
        running.stop()


def test_canary_split_is_sticky(home: Path, start, rows, offline) -> None:
    v2 = _second_version(home)
    reg = Registry(home)
    reg.set_deployment(MODEL, "bob", "canary 30%", canary=v2, canary_weight=30.0)
    reg.close()
    running = start(home)
    try:
        stub = running.stub()
        routes = {}
        for k in range(400):
            r = stub.Score(pb.ScoreRequest(model=MODEL, features=rows[k % len(rows)], entity_key=f"cust-{k}"), timeout=5)
            routes[f"cust-{k}"] = (r.route, r.version)
        share = sum(1 for route, _ in routes.values() if route == "canary") / len(routes)
        assert 0.2 < share < 0.4
        assert all(v == (v2 if route == "canary" else 1) for route, v in routes.values())
        for k in range(0, 400, 37):  # sticky: the same customer gets the same arm again
            r = stub.Score(pb.ScoreRequest(model=MODEL, features=rows[0], entity_key=f"cust-{k}"), timeout=5)
            assert (r.route, r.version) == routes[f"cust-{k}"]
    finally:
        running.stop()


def test_shadow_scores_a_copy_and_never_answers(home: Path, start, rows, offline) -> None:
    v2 = _second_version(home)
    reg = Registry(home)
    reg.set_deployment(MODEL, "bob", "shadow v2", shadows=[{"version": v2, "sample_rate": 1.0}])
    reg.close()
    running = start(home)
    try:
        stub = running.stub()
        for k in range(60):
            r = stub.Score(pb.ScoreRequest(model=MODEL, features=rows[k % len(rows)], request_id=f"q{k}"), timeout=5)
            assert (r.version, r.route) == (1, "champion") and r.score == float(offline(rows[k % len(rows)])[0])
        (lane,) = running.gateway.core.table.lanes()
        deadline = time.monotonic() + 5
        while lane.counters.scored < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lane.runner.key.version == v2
        assert lane.counters.scored == 60 and lane.counters.dropped == 0 and lane.counters.failed == 0
        assert 0 <= lane.counters.flip_rate() <= 1 and int(lane.counters.delta.sum()) == 60
    finally:
        running.stop()
