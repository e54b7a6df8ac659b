"""compiler/onnx_session.py: explicit threads, a readable error for a bad graph, and scores that do not depend on
their batch-mates (dynamic batching puts one request into batches of any size)."""

from __future__ import annotations

from pathlib import Path

import lightgbm
import numpy as np
import pytest
import xgboost
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from compiler.build import compile_model
from compiler.bundle import read_bundle
from compiler.demo.data import FEATURES, LABEL, generate
from compiler.errors import BundleError
from compiler.onnx_session import open_session, predict_scores

MODELS = {
    "demo-pipeline": None,
    "logistic": lambda: LogisticRegression(max_iter=300),
    "hist-gbdt": lambda: HistGradientBoostingClassifier(max_iter=20),
    "forest": lambda: RandomForestClassifier(n_estimators=10, random_state=0),
    "lightgbm": lambda: lightgbm.LGBMClassifier(n_estimators=20, verbose=-1),
    "xgboost": lambda: xgboost.XGBClassifier(n_estimators=20),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_score_does_not_depend_on_its_batch(name: str, demo_model, tmp_path: Path) -> None:
    df = generate(1200, seed=8)
    data = df[list(FEATURES)].fillna(0.0) if name in ("logistic", "forest") else df[list(FEATURES)]
    model = demo_model if MODELS[name] is None else MODELS[name]().fit(data, df[LABEL])
    compile_model(model, data, tmp_path / "b")
    b = read_bundle(tmp_path / "b")
    session = open_session(b.onnx_bytes)
    features = b.program.transform(data.to_numpy(dtype=np.float64)[:300])

    def scores(batch: int) -> np.ndarray:
        return np.concatenate([predict_scores(session, features[i:i + batch], "input", "probabilities", 1)
                               for i in range(0, len(features), batch)])

    reference = scores(300)
    assert reference.dtype == np.float32 and reference.shape == (300,)
    for batch in (1, 2, 3, 7, 64):
        np.testing.assert_array_equal(scores(batch), reference, err_msg=f"batch size {batch}")


def test_session_threads_are_explicit(demo_bundle) -> None:
    session = open_session(read_bundle(demo_bundle).onnx_bytes, intra_op_threads=1)
    opts = session.get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
    assert session.get_providers() == ["CPUExecutionProvider"]


@pytest.mark.parametrize("data", [b"", b"not an onnx model", b"\x08\x07\x12\x00"], ids=["empty", "text", "tiny"])
def test_a_bad_graph_is_a_bundle_error(data: bytes) -> None:
    with pytest.raises(BundleError, match=r"^model.onnx cannot be loaded by ONNX Runtime \(\w+\)$"):
        open_session(data)
