"""Scoring over real gRPC: every API answers from the deployed version, exactly as the bundle computes."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from compiler.bundle import read_bundle
from server.api.v1 import scoring_pb2 as pb

MODEL = "credit-pd"


def test_score_reply_matches_the_bundle(gateway, rows, offline) -> None:
    stub = gateway.stub()
    digest = read_bundle(gateway.home / "demo" / "bundle").digest
    for i, row in enumerate(rows[:8]):
        reply = stub.Score(pb.ScoreRequest(model=MODEL, features=row, request_id=f"r{i}", entity_key="c1"), timeout=5)
        assert reply.score == pytest.approx(float(offline(row)[0]), abs=0, rel=0)
        assert (reply.request_id, reply.model, reply.version, reply.route) == (f"r{i}", MODEL, 1, "champion")
        assert reply.bundle_digest == digest
        assert reply.decision == (reply.score >= 0.5) and reply.threshold == 0.5
    generated = stub.Score(pb.ScoreRequest(model=MODEL, features=rows[0]), timeout=5).request_id
    assert len(generated) == 32


def test_named_features(gateway, rows, offline) -> None:
    stub = gateway.stub()
    info = stub.GetModelInfo(pb.ModelInfoRequest(model=MODEL), timeout=5)
    named = {f.name: float(v) for f, v in zip(info.features, rows[3])}
    reply = stub.Score(pb.ScoreRequest(model=MODEL, named_features=named), timeout=5)
    assert reply.score == float(offline(rows[3])[0])


def test_model_info_describes_the_schema(gateway) -> None:
    info = gateway.stub().GetModelInfo(pb.ModelInfoRequest(model=MODEL), timeout=5)
    assert info.version == 1 and info.threshold == 0.5 and info.max_batch_rows == 4096
    by_name = {f.name: f for f in info.features}
    assert [f.index for f in info.features] == list(range(10))
    assert by_name["age"].min == 18 and by_name["age"].max == 120 and not by_name["age"].nan_allowed
    assert list(by_name["product_code"].categories) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("form", ["values", "fp64", "fp32"])
def test_score_batch(gateway, rows, offline, form: str) -> None:
    x = rows[:50]
    if form == "values":
        req = pb.ScoreBatchRequest(model=MODEL, rows=50, values=x.ravel())
        expected = offline(x)
    else:
        dtype = "<f8" if form == "fp64" else "<f4"
        req = pb.ScoreBatchRequest(model=MODEL, rows=50, raw_values=x.astype(dtype).tobytes(),
                                   dtype=pb.FP64 if form == "fp64" else pb.FP32)
        expected = offline(x.astype(dtype).astype(np.float64))
    reply = gateway.stub().ScoreBatch(req, timeout=10)
    np.testing.assert_array_equal(np.array(reply.scores, dtype=np.float32), expected)
    assert list(reply.decisions) == list(expected >= 0.5)
    assert reply.version == 1 and reply.route == "champion"


def test_score_stream_in_order_and_survives_a_bad_request(gateway, rows, offline) -> None:
    requests = [pb.ScoreRequest(model=MODEL, features=row, request_id=f"s{i}") for i, row in enumerate(rows[:30])]
    requests[10] = pb.ScoreRequest(model=MODEL, features=rows[10][:3], request_id="s10")
    replies = list(gateway.stub().ScoreStream(iter(requests), timeout=20))
    assert [r.request_id for r in replies] == [f"s{i}" for i in range(30)]
    assert replies[10].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "expected 10 values" in replies[10].error.message
    for i, r in enumerate(replies):
        if i != 10:
            assert not r.HasField("error") and r.score == float(offline(rows[i])[0])
