"""RecordOutcomes over real gRPC on the admin port of a real gateway: outcomes join the decisions it recorded."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import grpc
import numpy as np
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from registry.outcomes import OutcomeStore
from server.api.v1 import feedback_pb2 as fb
from server.api.v1 import feedback_pb2_grpc
from server.api.v1 import scoring_pb2 as pb

MODEL = "credit-pd"


def _ts(text: str) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(datetime.fromisoformat(text).astimezone(timezone.utc))
    return t


def _outcome(rid: str, label: int | None, when: str | None = "2026-03-01T10:00:00+00:00") -> fb.Outcome:
    o = fb.Outcome(request_id=rid)
    if label is not None:
        o.label = label
    if when is not None:
        o.observed_time.CopyFrom(_ts(when))
    return o


def test_record_outcomes_joins_scored_requests(home, start, rows: np.ndarray, tmp_path) -> None:
    (tmp_path / "tokens.txt").write_text("scoring-token\n")
    running = start(home, token_file=str(tmp_path / "tokens.txt"))
    try:
        scoring, md = running.stub(), [("authorization", "Bearer scoring-token")]
        for i in range(3):
            scoring.Score(pb.ScoreRequest(model=MODEL, request_id=f"req-{i}", features=rows[i]), timeout=10,
                          metadata=md)
        scoring.ScoreBatch(pb.ScoreBatchRequest(model=MODEL, request_id="batch-1", rows=4,
                                                values=rows[3:7].ravel()), timeout=10, metadata=md)
        token = (running.home / "admin.token").read_text().strip().splitlines()[0]
        auth = [("authorization", f"Bearer {token}"), ("x-scoregate-actor", "collections-job")]
        stub = feedback_pb2_grpc.FeedbackStub(grpc.insecure_channel(f"127.0.0.1:{running.gateway.admin_port}"))

        first = stub.RecordOutcomes(fb.RecordOutcomesRequest(outcomes=[
            _outcome("req-0", 1), _outcome("req-1", 0), _outcome("batch-1/2", 1), _outcome("never-scored", 1),
            _outcome("req-2", 7), _outcome("batch-1/3", None), _outcome("batch-1/0", 0, when=None),
        ]), timeout=10, metadata=auth)
        assert (first.accepted, first.duplicates, first.stored) == (3, 0, True)
        errors = {e.index: (e.kind, e.request_id, e.message) for e in first.errors}
        assert errors[3] == ("unknown", "never-scored", "request_id 'never-scored': no decision record has this request id")
        assert errors[4] == ("invalid", "req-2", "outcomes[4].label: expected 0 or 1, got 7")
        assert errors[5] == ("invalid", "batch-1/3", "outcomes[5].label: required (0 or 1)")
        assert errors[6][0] == "invalid" and errors[6][2].startswith("outcomes[6].observed_at: required")

        again = stub.RecordOutcomes(fb.RecordOutcomesRequest(
            outcomes=[_outcome("req-0", 1), _outcome("req-1", 1), _outcome("req-2", 0)], source="chargebacks-03"),
            timeout=10, metadata=auth)
        assert (again.accepted, again.duplicates) == (1, 1)
        assert [(e.index, e.kind) for e in again.errors] == [(1, "conflict")]
        assert "conflicts with the recorded label 0" in again.errors[0].message

        store = OutcomeStore(home)
        try:
            assert store.outcome("req-1")["label"] == 0  # the conflicting label did not replace it
            assert store.outcome("req-0")["source"] == "rpc:collections-job"
            assert store.outcome("req-2")["source"] == "chargebacks-03"
            assert store.outcome("req-0")["observed_at"] == "2026-03-01T10:00:00.000000+00:00"
            joined = store.joined(MODEL)
            assert sorted(r[4] for r in joined) == [0, 0, 1, 1]
            assert {(r[0], r[1]) for r in joined} == {(1, "champion")}
        finally:
            store.close()

        for metadata, code in ((None, grpc.StatusCode.UNAUTHENTICATED),
                               ([("authorization", "Bearer wrong")], grpc.StatusCode.UNAUTHENTICATED),
                               (md, grpc.StatusCode.PERMISSION_DENIED)):  # scoring credentials cannot write truth
            with pytest.raises(grpc.RpcError) as info:
                stub.RecordOutcomes(fb.RecordOutcomesRequest(outcomes=[_outcome("req-0", 1)]), timeout=10,
                                    metadata=metadata)
            assert info.value.code() == code
        for request, field in ((fb.RecordOutcomesRequest(), "outcomes"),
                               (fb.RecordOutcomesRequest(outcomes=[_outcome("req-0", 1)], source="\n"), "source"),
                               (fb.RecordOutcomesRequest(outcomes=[_outcome(f"x{i}", 1) for i in range(10_001)]),
                                "outcomes")):
            with pytest.raises(grpc.RpcError) as info:
                stub.RecordOutcomes(request, timeout=10, metadata=auth)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert info.value.details().startswith(f"{field}:")

        reflect = reflection_pb2_grpc.ServerReflectionStub(grpc.insecure_channel(f"127.0.0.1:{running.gateway.admin_port}"))
        replies = list(reflect.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                    timeout=5))
        assert "scoregate.feedback.v1.Feedback" in {s.name for s in replies[0].list_services_response.service}
    finally:
        running.stop()


def test_the_gateway_judges_outcomes_posted_over_grpc(home, start, rows: np.ndarray) -> None:
    """Labels that say the scores are noise: worker 0's watch degrades the version, one ledger entry, once."""
    from registry.audit import ledger_entries
    from registry.service import Registry

    running = start(home, performance_check_s=0.2)
    try:
        scoring = running.stub()
        ids = []
        for k in range(8):
            batch = rows[np.arange(k * 100, k * 100 + 100) % len(rows)]
            scoring.ScoreBatch(pb.ScoreBatchRequest(model=MODEL, rows=100, raw_values=batch.astype("<f8").tobytes(),
                                                    request_id=f"noise-{k}"), timeout=10)
            ids += [f"noise-{k}/{i}" for i in range(100)]
        token = (home / "admin.token").read_text().split()[0]
        stub = feedback_pb2_grpc.FeedbackStub(grpc.insecure_channel(f"127.0.0.1:{running.gateway.admin_port}"))
        labels = np.random.default_rng(3).integers(0, 2, len(ids))
        reply = stub.RecordOutcomes(fb.RecordOutcomesRequest(outcomes=[_outcome(r, int(y)) for r, y in zip(ids, labels)]),
                                    metadata=[("authorization", f"Bearer {token}")], timeout=30)
        assert reply.accepted == 800 and not reply.errors
        watch = running.gateway._performance
        deadline = time.monotonic() + 10
        entries: list = []
        while time.monotonic() < deadline and not entries:
            reg = Registry(home)
            try:
                entries = ledger_entries(reg, MODEL, action="performance")
            finally:
                reg.close()
            time.sleep(0.05)
        assert [(e.action, e.version) for e in entries] == [("performance.degraded", 1)]
        assert entries[0].actor.startswith("gateway@") and entries[0].details["count"] == 800
        assert watch.check() == []  # nothing new: no second entry
    finally:
        running.stop()
