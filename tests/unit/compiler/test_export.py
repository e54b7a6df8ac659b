"""compiler/export/table.py and families.py: the converter table (explicit, no silent overwrite) and what every
converter emits (one float32 input named "input", probabilities as a plain tensor, explicit opset, stable bytes)."""

from __future__ import annotations

import lightgbm
import numpy as np
import onnx
import pytest
import xgboost
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from compiler.errors import AlreadyExists, Unsupported
from compiler.export.families import CONVERTERS, default_table
from compiler.export.table import ML_OPSET, ONNX_OPSET, Converter, ConverterTable
from compiler.onnx_session import open_session

FITTED = {
    "LogisticRegression": lambda: LogisticRegression(),
    "GradientBoostingClassifier": lambda: GradientBoostingClassifier(n_estimators=5, max_depth=2),
    "RandomForestClassifier": lambda: RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0),
    "HistGradientBoostingClassifier": lambda: HistGradientBoostingClassifier(max_iter=5),
    "LGBMClassifier": lambda: lightgbm.LGBMClassifier(n_estimators=5, verbose=-1),
    "XGBClassifier": lambda: xgboost.XGBClassifier(n_estimators=5, max_depth=2),
}


def test_the_default_table_has_one_family_per_library() -> None:
    assert default_table().families() == ["lightgbm", "sklearn-hist-gbdt", "sklearn-linear", "sklearn-trees",
                                          "xgboost"]


def test_register_refuses_a_duplicate_class_and_keeps_the_first() -> None:
    table = default_table()
    impostor = Converter("mine", ("sklearn.linear_model.LogisticRegression",), lambda e, n: b"", False, 1.0)
    with pytest.raises(AlreadyExists, match=r"sklearn.linear_model.LogisticRegression already has a converter "
                                            r"\(family 'sklearn-linear'\); refusing to overwrite"):
        table.register(impostor)
    assert table.lookup(LogisticRegression()).family == "sklearn-linear"
    with pytest.raises(AlreadyExists):
        table.register(CONVERTERS[0])  # the very same converter twice is still a duplicate


def test_a_refused_registration_registers_none_of_its_classes() -> None:
    table = ConverterTable()
    table.register(Converter("a", ("sklearn.svm.SVC",), lambda e, n: b"", False, 1.0))
    both = Converter("b", ("sklearn.linear_model.LogisticRegression", "sklearn.svm.SVC"), lambda e, n: b"", False, 1.0)
    with pytest.raises(AlreadyExists):
        table.register(both)
    with pytest.raises(Unsupported):
        table.lookup(LogisticRegression())
    assert table.lookup(SVC()).family == "a"


def test_lookup_is_by_exact_type_and_unknown_names_the_supported() -> None:
    table = default_table()
    for name, make in FITTED.items():
        assert table.lookup(make()).family, name

    class Sub(LogisticRegression):
        pass

    with pytest.raises(Unsupported) as err:
        table.lookup(Sub())
    assert str(err.value) == (
        "estimator Sub is not supported; supported: ExtraTreesClassifier, GradientBoostingClassifier, "
        "HistGradientBoostingClassifier, LGBMClassifier, LogisticRegression, RandomForestClassifier, XGBClassifier")
    with pytest.raises(Unsupported, match="estimator str is not supported"):
        table.lookup("LogisticRegression")


def test_a_converter_for_a_missing_library_never_matches() -> None:
    table = ConverterTable()
    table.register(Converter("ghost", ("not_a_real_library.Model", "sklearn.linear_model.NoSuchClass"),
                             lambda e, n: b"", False, 1.0))
    with pytest.raises(Unsupported, match="supported: Model, NoSuchClass"):
        table.lookup(LogisticRegression())


def test_tolerances_are_the_issue_target() -> None:
    assert all(c.tolerance == 1e-5 for c in CONVERTERS)
    assert {c.family for c in CONVERTERS if c.nan_native} == {"sklearn-hist-gbdt", "lightgbm", "xgboost"}


@pytest.mark.parametrize("name", sorted(FITTED))
def test_each_converter_emits_a_plain_probability_tensor(name: str, numeric_frame) -> None:
    x, y = numeric_frame()
    est = FITTED[name]().fit(x, y)
    conv = default_table().lookup(est)
    onx = conv.convert(est, 4)
    assert conv.convert(est, 4) == onx  # deterministic bytes: a reproducible digest
    model = onnx.load_from_string(onx)
    assert model.graph.name == "scoregate"
    assert [i.name for i in model.graph.input] == ["input"]
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert "probabilities" in [o.name for o in model.graph.output]
    assert not any(n.op_type == "ZipMap" for n in model.graph.node)
    # the table's opsets are targets: converters import the lowest version that has their ops
    target = {"": ONNX_OPSET, "ai.onnx": ONNX_OPSET, "ai.onnx.ml": ML_OPSET}
    assert all(o.version <= target[o.domain] for o in model.opset_import), model.opset_import
    session = open_session(onx)
    (probs,) = session.run(["probabilities"], {"input": x.to_numpy(np.float32)})
    assert probs.shape == (len(x), 2) and probs.dtype == np.float32
    np.testing.assert_allclose(probs[:, 1], est.predict_proba(x)[:, 1], atol=1e-5)


def test_xgboost_with_feature_names_converts_without_touching_the_model(numeric_frame) -> None:
    x, y = numeric_frame()
    est = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)
    assert est.get_booster().feature_names == ["a", "b", "c", "d"]
    default_table().lookup(est).convert(est, 4)
    assert est.get_booster().feature_names == ["a", "b", "c", "d"]  # converted a copy
