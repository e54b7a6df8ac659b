"""ONNX Runtime sessions and score extraction, shared by parity checking and the gateway's runners.

Parity is proven through exactly the code the gateway serves with, so "verified" means what it says.
Threads are always explicit: ORT's default (one per core, per session) oversubscribes a server that holds
champion, canary and shadow sessions at once.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from compiler.errors import BundleError


def open_session(onnx_bytes: bytes, intra_op_threads: int = 1) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(onnx_bytes, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises several unrelated types for a bad graph
        raise BundleError(f"model.onnx cannot be loaded by ONNX Runtime ({type(exc).__name__})") from exc


def predict_scores(session: ort.InferenceSession, features: np.ndarray, input_name: str, output_name: str,
                   positive_index: int) -> np.ndarray:
    """float32 (rows, width) -> float32 scores (rows,): P(positive class).

    A score must not depend on its batch-mates (dynamic batching puts a request in batches of any size).
    ONNX Runtime's linear ops take a matrix-vector path for exactly one row and a matrix-matrix path for
    more, which differ in the last bit; so one row is computed as two (itself twice) and every request
    goes through the same kernel, whatever batch it lands in. Tree ensembles are batch-invariant anyway.
    """
    if features.shape[0] == 1:
        (probs,) = session.run([output_name], {input_name: np.repeat(features, 2, axis=0)})
        return np.ascontiguousarray(probs[:1, positive_index])
    (probs,) = session.run([output_name], {input_name: features})
    return np.ascontiguousarray(probs[:, positive_index])
