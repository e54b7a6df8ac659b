"""Parity per converter family: the compiled bundle (feature program + ONNX Runtime) reproduces the source
model's probabilities, read back from disk through the same code the gateway serves with."""

from __future__ import annotations

from pathlib import Path

import lightgbm
import numpy as np
import pytest
import xgboost
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (ExtraTreesClassifier, GradientBoostingClassifier, HistGradientBoostingClassifier,
                              RandomForestClassifier)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from compiler.build import CompileOptions, compile_model
from compiler.bundle import read_bundle
from compiler.demo.data import FEATURES, LABEL
from compiler.onnx_session import open_session, predict_scores

NUMERIC = [f for f in FEATURES if f != "product_code"]


def _served_scores(path: Path, x: np.ndarray) -> np.ndarray:
    b = read_bundle(path)
    return predict_scores(open_session(b.onnx_bytes), b.program.transform(x), b.schema.onnx_input,
                          b.schema.onnx_output, b.schema.positive_index)


def _prep():
    return ColumnTransformer([
        ("num", Pipeline([("imp", SimpleImputer(strategy="median")), ("sc", StandardScaler())]), NUMERIC),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["product_code"]),
    ])


ESTIMATORS = {
    "logistic": lambda: LogisticRegression(max_iter=500),
    "gbdt": lambda: GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0),
    "hist-gbdt": lambda: HistGradientBoostingClassifier(max_iter=25, random_state=0),
    "forest": lambda: RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0),
    "extra-trees": lambda: ExtraTreesClassifier(n_estimators=8, max_depth=6, random_state=0),
    "lightgbm": lambda: lightgbm.LGBMClassifier(n_estimators=20, num_leaves=15, verbose=-1, random_state=0),
    "xgboost": lambda: xgboost.XGBClassifier(n_estimators=20, max_depth=3, random_state=0),
}
NAN_NATIVE = {"hist-gbdt", "lightgbm", "xgboost"}


@pytest.mark.parametrize("family", sorted(ESTIMATORS))
@pytest.mark.parametrize("in_pipeline", [False, True], ids=["bare", "pipeline"])
def test_parity_per_family(family: str, in_pipeline: bool, credit, tmp_path: Path) -> None:
    data = credit[list(FEATURES)]
    if not in_pipeline and family not in NAN_NATIVE:
        data = data.fillna(-1.0)  # estimators without missing-value support need an imputer or clean data
    model = Pipeline([("prep", _prep()), ("est", ESTIMATORS[family]())]) if in_pipeline else ESTIMATORS[family]()
    model.fit(data, credit[LABEL])
    sample = data.assign(**{LABEL: credit[LABEL]})
    result = compile_model(model, sample, tmp_path / "b", CompileOptions(label=LABEL))
    assert result.parity.passed
    assert result.parity.max_abs_diff <= 1e-5
    assert result.parity.decision_agreement == 1.0
    assert result.manifest["metrics"]["auc"] > 0.5
    x = data.to_numpy(dtype=np.float64)
    source = model.predict_proba(data)[:, 1]
    np.testing.assert_allclose(_served_scores(tmp_path / "b", x), source, atol=1e-5, rtol=0)


def test_nan_native_family_accepts_nan_and_matches(credit, tmp_path: Path) -> None:
    data = credit[list(FEATURES)].copy()
    data.loc[::7, "income"] = np.nan
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(data, credit[LABEL])
    result = compile_model(model, data, tmp_path / "b")
    assert result.parity.passed
    schema = read_bundle(tmp_path / "b").schema
    assert {f.name: f.nan_allowed for f in schema.features}["income"]
    np.testing.assert_allclose(_served_scores(tmp_path / "b", data.to_numpy()), model.predict_proba(data)[:, 1],
                               atol=1e-5)


def test_numpy_trained_model_uses_sample_column_order(credit, tmp_path: Path) -> None:
    data = credit[list(FEATURES)].fillna(0.0)
    model = LogisticRegression(max_iter=500).fit(data.to_numpy(), credit[LABEL])
    result = compile_model(model, data, tmp_path / "b")
    assert result.manifest["sample"]["columns"] == list(FEATURES)
    np.testing.assert_allclose(_served_scores(tmp_path / "b", data.to_numpy()),
                               model.predict_proba(data.to_numpy())[:, 1], atol=1e-5)
