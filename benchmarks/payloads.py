"""Pre-serialized requests for each API the suite drives (built once, outside the timed loop)."""

from __future__ import annotations

import numpy as np

from benchmarks.targets import MODEL

METHODS = {
    "score": "/scoregate.v1.Scoring/Score",
    "stream": "/scoregate.v1.Scoring/ScoreStream",
    "batch": "/scoregate.v1.Scoring/ScoreBatch",
    "oip": "/inference.GRPCInferenceService/ModelInfer",
}


def build(kind: str, rows: np.ndarray, batch_rows: int = 1, count: int = 64) -> tuple[bytes, ...]:
    """`count` distinct requests of one kind; batch requests carry `batch_rows` rows each."""
    from server.api.v1 import scoring_pb2 as pb

    n = len(rows)
    if kind in ("score", "stream"):
        return tuple(pb.ScoreRequest(model=MODEL, features=rows[i % n], entity_key=f"customer-{i}",
                                     request_id=f"bench-{i}").SerializeToString() for i in range(count))
    if kind == "batch":
        out = []
        for i in range(count):
            idx = (np.arange(batch_rows) + i * batch_rows) % n
            out.append(pb.ScoreBatchRequest(model=MODEL, rows=batch_rows, entity_key=f"customer-{i}",
                                            raw_values=rows[idx].astype("<f8").tobytes(),
                                            dtype=pb.FP64).SerializeToString())
        return tuple(out)
    if kind == "oip":
        from server.api.oip import grpc_predict_v2_pb2 as oip

        out = []
        for i in range(count):
            req = oip.ModelInferRequest(model_name=MODEL, id=f"bench-{i}")
            tensor = req.inputs.add()
            tensor.name, tensor.datatype = "input", "FP64"
            tensor.shape.extend([1, rows.shape[1]])
            req.raw_input_contents.append(rows[i % n].astype("<f8").tobytes())
            out.append(req.SerializeToString())
        return tuple(out)
    raise ValueError(f"unknown request kind {kind!r}")
