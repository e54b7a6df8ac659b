"""Typed scoring API: protobuf <-> numpy, validated before anything is allocated. No per-feature Python loop:
packed values become an array in one call; raw bytes are viewed in place."""

from __future__ import annotations

import uuid

import numpy as np

from compiler.errors import InvalidInput
from server.api.v1 import scoring_pb2 as pb
from server.errors import TooLarge
from server.types import ModelView, ScoreCall, ScoreResult

_DTYPES = {pb.FP64: np.dtype("<f8"), pb.FP32: np.dtype("<f4")}


def request_id(given: str) -> str:
    return given or uuid.uuid4().hex


def score_rows(req: pb.ScoreRequest, view: ModelView | None) -> np.ndarray:
    """One entity's features as a (1, n) float64 row, from packed values or by name."""
    if req.named_features:
        if len(req.features):
            raise InvalidInput("features and named_features: give one of them, not both")
        if view is None:
            raise InvalidInput("named_features: the model is unknown, cannot resolve names")
        return _named(req.named_features, view.schema.names)
    return np.array(req.features, dtype=np.float64).reshape(1, -1)


def _named(named, names: tuple[str, ...]) -> np.ndarray:  # noqa: ANN001 - protobuf map
    unknown = sorted(set(named) - set(names))
    if unknown:
        raise InvalidInput(f"named_features: unknown feature(s) {unknown[:5]}; expected {list(names)}")
    if len(named) != len(names):
        missing = [n for n in names if n not in named]
        raise InvalidInput(f"named_features: missing feature(s) {missing[:5]}")
    return np.fromiter(map(named.__getitem__, names), dtype=np.float64, count=len(names)).reshape(1, -1)


def batch_rows(req: pb.ScoreBatchRequest, width: int, max_rows: int) -> np.ndarray:
    """(rows, width) float64 from packed `values` or `raw_values`; sizes checked before any copy."""
    rows = req.rows
    if rows <= 0:
        raise InvalidInput(f"rows: expected a positive row count, got {rows}")
    if rows > max_rows:
        raise TooLarge(f"rows: at most {max_rows} rows per call, got {rows}")
    want = rows * width
    if req.raw_values:
        if len(req.values):
            raise InvalidInput("values and raw_values: give one of them, not both")
        dtype = _DTYPES.get(req.dtype)
        if dtype is None:
            raise InvalidInput(f"dtype: expected FP64 or FP32, got {req.dtype}")
        if len(req.raw_values) != want * dtype.itemsize:
            raise InvalidInput(f"raw_values: expected {want * dtype.itemsize} bytes ({rows} rows x {width} "
                               f"features x {dtype.itemsize}), got {len(req.raw_values)}")
        return np.frombuffer(req.raw_values, dtype=dtype).astype(np.float64).reshape(rows, width)
    if len(req.values) != want:
        raise InvalidInput(f"values: expected {want} numbers ({rows} rows x {width} features), got {len(req.values)}")
    return np.array(req.values, dtype=np.float64).reshape(rows, width)


def score_call(model: str, x: np.ndarray, rid: str, entity_key: str, caller: str, deadline: float | None) -> ScoreCall:
    return ScoreCall(model=model, x=x, request_id=rid, entity_key=entity_key, caller=caller, deadline=deadline)


def score_reply(result: ScoreResult) -> pb.ScoreReply:
    return pb.ScoreReply(
        request_id=result.request_id, model=result.model, version=result.version, route=result.route,
        score=float(result.scores[0]), decision=bool(result.decisions[0]), threshold=result.threshold,
        bundle_digest=result.digest,
    )


def batch_reply(result: ScoreResult) -> pb.ScoreBatchReply:
    return pb.ScoreBatchReply(
        request_id=result.request_id, model=result.model, version=result.version, route=result.route,
        scores=result.scores, decisions=result.decisions, threshold=result.threshold, bundle_digest=result.digest,
    )


def model_info(view: ModelView) -> pb.ModelInfo:
    features = [
        pb.FeatureInfo(name=f.name, index=i, kind=f.kind, dtype="float64", min=f.min, max=f.max,
                       nan_allowed=f.nan_allowed, categories=list(f.categories))
        for i, f in enumerate(view.schema.features)
    ]
    return pb.ModelInfo(model=view.name, version=view.version, bundle_digest=view.digest, features=features,
                        threshold=view.schema.threshold, score_name=view.schema.score_name,
                        max_batch_rows=view.max_batch_rows)
