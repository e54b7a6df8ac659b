"""The baselines scoregate is measured against, each a small gRPC server speaking the same Score method:

- echo:    bare grpcio (aio) returning the request bytes untouched: the floor no Python gRPC server beats.
- sklearn: what a bank team writes by hand: parse the request, `predict_proba` on the sklearn pipeline.
- onnx:    the same, calling ONNX Runtime (plus the feature program) per request, without batching.

Run one: `python -m benchmarks.baselines KIND --home DIR --port 0` (prints "listening on PORT").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import grpc  # noqa: E402

METHOD = "/scoregate.v1.Scoring/Score"


def _handler(kind: str, home: Path):  # noqa: ANN202
    if kind == "echo":
        return lambda request, context: request  # bytes in, bytes out: no protobuf, no compute
    from server.api.v1 import scoring_pb2 as pb

    if kind == "sklearn":
        import joblib
        import numpy as np

        model = joblib.load(home / "demo_model.joblib")
        names = list(model.feature_names_in_)
        import pandas as pd

        def predict(raw: bytes, context) -> bytes:  # noqa: ANN001
            req = pb.ScoreRequest.FromString(raw)
            frame = pd.DataFrame(np.array(req.features, dtype=np.float64).reshape(1, -1), columns=names)
            score = float(model.predict_proba(frame)[0, 1])
            return pb.ScoreReply(request_id=req.request_id, model=req.model, score=score,
                                 decision=score >= 0.5).SerializeToString()
        return predict
    if kind == "onnx":
        import numpy as np

        from compiler.bundle import read_bundle
        from compiler.onnx_session import open_session, predict_scores

        bundle = read_bundle(home / "demo" / "bundle")
        session = open_session(bundle.onnx_bytes, 1)

        def infer(raw: bytes, context) -> bytes:  # noqa: ANN001
            req = pb.ScoreRequest.FromString(raw)
            x = np.array(req.features, dtype=np.float64).reshape(1, -1)
            score = float(predict_scores(session, bundle.program.transform(x), "input", "probabilities", 1)[0])
            return pb.ScoreReply(request_id=req.request_id, model=req.model, score=score,
                                 decision=score >= 0.5).SerializeToString()
        return infer
    raise SystemExit(f"unknown baseline {kind!r}; expected echo, sklearn or onnx")


async def serve(kind: str, home: Path, port: int) -> None:
    fn = _handler(kind, home)

    async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return fn(request, context)

    handler = grpc.method_handlers_generic_handler("scoregate.v1.Scoring", {
        "Score": grpc.unary_unary_rpc_method_handler(unary),  # no (de)serializers: raw bytes
    })
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    sys.stdout.write(f"listening on 127.0.0.1:{bound}\n")
    sys.stdout.flush()
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("echo", "sklearn", "onnx"))
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.kind, args.home, args.port))


if __name__ == "__main__":
    main()
