"""One converter per estimator family, and the default table that holds them.

Every converter emits the estimator alone (the feature program does the preprocessing), with one float32
input named "input", an explicit opset, and class probabilities as a plain tensor (no ZipMap).
"""

from __future__ import annotations

import copy
from typing import Any

from compiler.export.table import ML_OPSET, ONNX_OPSET, Converter, ConverterTable

SKLEARN_OPTIONS = {"zipmap": False}


def _stable_bytes(onx: Any) -> bytes:
    """Serialize with run-specific fields fixed: converters name the graph with a random UUID, which would
    give the same model a new digest on every compile."""
    onx.graph.name = "scoregate"
    return onx.SerializeToString(deterministic=True)


def _sklearn(estimator: Any, n_features: int) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    onx = convert_sklearn(
        estimator, initial_types=[("input", FloatTensorType([None, n_features]))],
        target_opset={"": ONNX_OPSET, "ai.onnx.ml": ML_OPSET}, options={id(estimator): SKLEARN_OPTIONS},
    )
    return _stable_bytes(onx)


def _lightgbm(estimator: Any, n_features: int) -> bytes:
    from onnxmltools.convert import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    onx = convert_lightgbm(estimator, initial_types=[("input", FloatTensorType([None, n_features]))],
                           target_opset=ONNX_OPSET, zipmap=False)
    return _stable_bytes(onx)


def _xgboost(estimator: Any, n_features: int) -> bytes:
    from onnxmltools.convert import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    # The converter reads feature ids from the tree dump and needs the positional "f0, f1, ..." names;
    # a model trained on a DataFrame dumps column names instead, so convert a copy without them.
    estimator = copy.deepcopy(estimator)
    estimator.get_booster().feature_names = None
    onx = convert_xgboost(estimator, initial_types=[("input", FloatTensorType([None, n_features]))],
                          target_opset=ONNX_OPSET)
    return _stable_bytes(onx)


FLOAT32_TREES = (
    "ONNX tree ensembles compare float32 inputs with float32 thresholds; a value within one float32 ulp of "
    "a split can take the other branch, so tolerance stays at 1e-5 and decision agreement is reported"
)

CONVERTERS = (
    Converter("sklearn-linear", ("sklearn.linear_model.LogisticRegression",), _sklearn,
              nan_native=False, tolerance=1e-5),
    Converter("sklearn-trees", ("sklearn.ensemble.GradientBoostingClassifier",
                                "sklearn.ensemble.RandomForestClassifier",
                                "sklearn.ensemble.ExtraTreesClassifier"), _sklearn,
              nan_native=False, tolerance=1e-5, tolerance_note=FLOAT32_TREES),
    Converter("sklearn-hist-gbdt", ("sklearn.ensemble.HistGradientBoostingClassifier",), _sklearn,
              nan_native=True, tolerance=1e-5, tolerance_note=FLOAT32_TREES),
    Converter("lightgbm", ("lightgbm.LGBMClassifier",), _lightgbm,
              nan_native=True, tolerance=1e-5, tolerance_note=FLOAT32_TREES),
    Converter("xgboost", ("xgboost.XGBClassifier",), _xgboost,
              nan_native=True, tolerance=1e-5, tolerance_note=FLOAT32_TREES),
)


def default_table() -> ConverterTable:
    table = ConverterTable()
    for conv in CONVERTERS:
        table.register(conv)
    return table
