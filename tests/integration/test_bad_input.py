"""Every bad input gets its status code and a message naming the field; the server keeps serving."""

from __future__ import annotations

import math
import threading

import grpc
import numpy as np
import pytest

from server.api.v1 import scoring_pb2 as pb

MODEL = "credit-pd"
AGE, INCOME, PRODUCT = 1, 0, 9


def _err(fn, req, **kw) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn(req, timeout=kw.pop("timeout", 5), **kw)
    return info.value


def _with(row: np.ndarray, col: int, value: float) -> np.ndarray:
    out = row.copy()
    out[col] = value
    return out


CASES = [
    ("unknown model", lambda r: pb.ScoreRequest(model="nope", features=r), grpc.StatusCode.NOT_FOUND,
     "model 'nope' is not served here; served models: credit-pd"),
    ("empty model", lambda r: pb.ScoreRequest(features=r), grpc.StatusCode.NOT_FOUND, "a model name is required"),
    ("too few features", lambda r: pb.ScoreRequest(model=MODEL, features=r[:9]), grpc.StatusCode.INVALID_ARGUMENT,
     "features: expected 10 values in schema order (income, age"),
    ("too many features", lambda r: pb.ScoreRequest(model=MODEL, features=np.append(r, 1.0)),
     grpc.StatusCode.INVALID_ARGUMENT, "got 11"),
    ("NaN not allowed", lambda r: pb.ScoreRequest(model=MODEL, features=_with(r, AGE, math.nan)),
     grpc.StatusCode.INVALID_ARGUMENT, "feature 'age' = nan is NaN, which this feature does not allow"),
    ("infinite", lambda r: pb.ScoreRequest(model=MODEL, features=_with(r, INCOME, math.inf)),
     grpc.StatusCode.INVALID_ARGUMENT, "feature 'income' = inf is infinite"),
    ("below range", lambda r: pb.ScoreRequest(model=MODEL, features=_with(r, AGE, 12)),
     grpc.StatusCode.INVALID_ARGUMENT, "feature 'age' = 12.0 is below the allowed minimum (expected 18 <= value <= 120)"),
    ("unknown category", lambda r: pb.ScoreRequest(model=MODEL, features=_with(r, PRODUCT, 7)),
     grpc.StatusCode.INVALID_ARGUMENT, "feature 'product_code' = 7.0 is not one of the known category codes"),
    ("named missing", lambda r: pb.ScoreRequest(model=MODEL, named_features={"income": 1.0}),
     grpc.StatusCode.INVALID_ARGUMENT, "named_features: missing feature(s) ['age'"),
    ("named unknown", lambda r: pb.ScoreRequest(model=MODEL, named_features={"salary": 1.0}),
     grpc.StatusCode.INVALID_ARGUMENT, "named_features: unknown feature(s) ['salary']"),
    ("both forms", lambda r: pb.ScoreRequest(model=MODEL, features=r, named_features={"income": 1.0}),
     grpc.StatusCode.INVALID_ARGUMENT, "give one of them, not both"),
]


@pytest.mark.parametrize("name,build,code,message", CASES, ids=[c[0] for c in CASES])
def test_score_rejects(gateway, rows, name, build, code, message) -> None:
    stub = gateway.stub()
    err = _err(stub.Score, build(rows[0]))
    assert err.code() == code, err.details()
    assert message in err.details()
    assert stub.Score(pb.ScoreRequest(model=MODEL, features=rows[0]), timeout=5).version == 1  # still serving


BATCH_CASES = [
    ("zero rows", dict(rows=0, values=[]), grpc.StatusCode.INVALID_ARGUMENT, "rows: expected a positive row count, got 0"),
    ("values length", dict(rows=2, values=[1.0] * 19), grpc.StatusCode.INVALID_ARGUMENT,
     "values: expected 20 numbers (2 rows x 10 features), got 19"),
    ("raw length", dict(rows=2, raw_values=b"\0" * 159), grpc.StatusCode.INVALID_ARGUMENT,
     "raw_values: expected 160 bytes (2 rows x 10 features x 8), got 159"),
    ("bad dtype", dict(rows=1, raw_values=b"\0" * 80, dtype=7), grpc.StatusCode.INVALID_ARGUMENT,
     "dtype: expected FP64 or FP32, got 7"),
    ("too many rows", dict(rows=5000, values=[0.0]), grpc.StatusCode.RESOURCE_EXHAUSTED,
     "rows: at most 4096 rows per call, got 5000"),
]


@pytest.mark.parametrize("name,fields,code,message", BATCH_CASES, ids=[c[0] for c in BATCH_CASES])
def test_batch_rejects(gateway, name, fields, code, message) -> None:
    err = _err(gateway.stub().ScoreBatch, pb.ScoreBatchRequest(model=MODEL, **fields))
    assert err.code() == code and message in err.details(), err.details()


def test_bad_row_in_a_batch_names_the_row(gateway, rows) -> None:
    x = rows[:5].copy()
    x[3, AGE] = 200
    err = _err(gateway.stub().ScoreBatch, pb.ScoreBatchRequest(model=MODEL, rows=5, values=x.ravel()))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "row 3: feature 'age' = 200.0 is above the allowed maximum" in err.details()


def test_message_over_the_size_cap(home, start, rows) -> None:
    running = start(home, max_message_bytes=4096)
    try:
        x = np.zeros((100, 10))
        err = _err(running.stub().ScoreBatch, pb.ScoreBatchRequest(model=MODEL, rows=100, raw_values=x.tobytes()))
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert running.stub().Score(pb.ScoreRequest(model=MODEL, features=rows[0]), timeout=5).version == 1
    finally:
        running.stop()


def test_deadline_passes_while_queued(home, start, rows) -> None:
    running = start(home, inline_max_rows=0, max_batch_size=4096)
    try:
        big = pb.ScoreBatchRequest(model=MODEL, rows=4096, values=np.tile(rows[0], 4096))
        stub = running.stub()
        futures = [stub.ScoreBatch.future(big, timeout=30) for _ in range(4)]
        small = [stub.Score.future(pb.ScoreRequest(model=MODEL, features=rows[0]), timeout=0.002) for _ in range(20)]
        codes = []
        for f in small:
            try:
                f.result()
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as exc:
                codes.append(exc.code())
        assert grpc.StatusCode.DEADLINE_EXCEEDED in codes
        assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED}
        assert all(len(f.result().scores) == 4096 for f in futures)
        assert stub.Score(pb.ScoreRequest(model=MODEL, features=rows[0]), timeout=5).version == 1
    finally:
        running.stop()


def test_model_without_servable_champion(home, start, rows) -> None:
    from registry.service import Registry

    reg = Registry(home)
    reg.register(home / "demo" / "bundle", "other-model", "alice")  # registered, never approved or deployed
    reg.close()
    running = start(home)
    try:
        err = _err(running.stub().Score, pb.ScoreRequest(model="other-model", features=rows[0]))
        assert err.code() == grpc.StatusCode.NOT_FOUND and "served models: credit-pd" in err.details()
    finally:
        running.stop()


def test_full_queue_sheds_with_resource_exhausted(home, start, rows) -> None:
    running = start(home, max_queue=1, inline_max_rows=0, max_batch_size=4096)
    try:
        big = pb.ScoreBatchRequest(model=MODEL, rows=4096, values=np.tile(rows[0], 4096))
        codes: list[grpc.StatusCode] = []
        lock = threading.Lock()

        def hammer() -> None:
            stub = running.stub()
            for _ in range(6):
                try:
                    stub.ScoreBatch(big, timeout=30)
                    code = grpc.StatusCode.OK
                except grpc.RpcError as exc:
                    code = exc.code()
                    assert "queue full (1 requests waiting)" in exc.details()
                with lock:
                    codes.append(code)
        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes and grpc.StatusCode.OK in codes
        assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
        assert running.stub().Score(pb.ScoreRequest(model=MODEL, features=rows[0]), timeout=5).version == 1
    finally:
        running.stop()


def test_failures_stay_alone_among_concurrent_good_requests(gateway, rows, offline) -> None:
    errors: list[str] = []

    def worker(k: int) -> None:
        stub = gateway.stub()
        for i in range(40):
            row = rows[(k * 40 + i) % len(rows)]
            if i % 3 == 0:
                try:
                    stub.Score(pb.ScoreRequest(model=MODEL, features=_with(row, AGE, -1)), timeout=5)
                    errors.append("bad request accepted")
                except grpc.RpcError as exc:
                    if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
                        errors.append(exc.details())
            else:
                reply = stub.Score(pb.ScoreRequest(model=MODEL, features=row), timeout=5)
                if reply.score != float(offline(row)[0]):
                    errors.append(f"wrong score for row {i}")
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
