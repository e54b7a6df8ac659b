"""compiler/build.py: compile_model end to end.

Parity per converter family (bare and inside a Pipeline with a ColumnTransformer), the bundle read back and
served through the gateway's own code path, reproducible digests, the manifest's content, and every refusal
compile_model makes, each leaving nothing half-written.
"""

from __future__ import annotations

from pathlib import Path

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    PolynomialFeatures,
    StandardScaler,
)

from compiler.build import CompileOptions, Constraint, compile_model, split_model
from compiler.bundle import CONTENT_FILES, MANIFEST, read_bundle
from compiler.demo.data import FEATURES, LABEL
from compiler.errors import AlreadyExists, InvalidInput, ParityError, Unsupported
from compiler.export.families import _sklearn, default_table
from compiler.export.table import Converter, ConverterTable
from compiler.loading import sample_digest

NUMERIC = [f for f in FEATURES if f != "product_code"]

ESTIMATORS = {
    "logistic": lambda: LogisticRegression(max_iter=500),
    "gbdt": lambda: GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0),
    "hist-gbdt": lambda: HistGradientBoostingClassifier(max_iter=25, random_state=0),
    "forest": lambda: RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0),
    "extra-trees": lambda: ExtraTreesClassifier(n_estimators=8, max_depth=6, random_state=0),
    "lightgbm": lambda: lightgbm.LGBMClassifier(n_estimators=20, num_leaves=15, verbose=-1, random_state=0),
    "xgboost": lambda: xgboost.XGBClassifier(n_estimators=20, max_depth=3, random_state=0),
}
FAMILY = {"logistic": "sklearn-linear", "gbdt": "sklearn-trees", "forest": "sklearn-trees",
          "extra-trees": "sklearn-trees", "hist-gbdt": "sklearn-hist-gbdt", "lightgbm": "lightgbm",
          "xgboost": "xgboost"}
NAN_NATIVE = {"hist-gbdt", "lightgbm", "xgboost"}


def _prep() -> ColumnTransformer:
    return ColumnTransformer([
        ("num", Pipeline([("imp", SimpleImputer(strategy="median")), ("sc", StandardScaler())]), NUMERIC),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["product_code"]),
    ])


def _training_data(credit: pd.DataFrame, name: str, in_pipeline: bool) -> pd.DataFrame:
    data = credit[list(FEATURES)].copy()
    if in_pipeline or name in NAN_NATIVE:
        data.loc[::9, "income"] = np.nan  # NaN in a second column, beyond months_since_delinquency's own
        data.loc[::13, "utilisation"] = np.nan
    else:
        data = data.fillna(-1.0)  # estimators without missing-value support need an imputer or clean data
    return data


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("in_pipeline", [False, True], ids=["bare", "pipeline"])
def test_parity_per_family(name: str, in_pipeline: bool, credit, tmp_path: Path, served_scores) -> None:
    data = _training_data(credit, name, in_pipeline)
    est = ESTIMATORS[name]()
    model = Pipeline([("prep", _prep()), ("est", est)]) if in_pipeline else est
    model.fit(data, credit[LABEL])  # a DataFrame: every model here was trained with feature names
    if not in_pipeline and name in NAN_NATIVE:
        assert data.isna().any().sum() == 3  # NaN reaches the estimator itself
    sample = data.assign(**{LABEL: credit[LABEL]})
    result = compile_model(model, sample, tmp_path / "b", CompileOptions(label=LABEL))

    assert result.parity.passed, result.parity.summary()
    assert result.parity.rows == len(data)
    assert result.parity.max_abs_diff <= 1e-5
    assert result.parity.decision_agreement == 1.0
    assert result.parity.program_max_abs_diff <= 1e-6  # the feature program reproduces sklearn's transform
    assert result.manifest["source"]["family"] == FAMILY[name]
    assert result.manifest["source"]["estimator"] == type(est).__name__
    assert result.manifest["metrics"]["auc"] > 0.6  # a real model, not a constant

    # what the gateway will serve: read back from disk (digests verified), program + ONNX Runtime
    x = data.to_numpy(dtype=np.float64)
    np.testing.assert_allclose(served_scores(tmp_path / "b", x), model.predict_proba(data)[:, 1], atol=1e-5, rtol=0)


def test_nan_passes_through_the_program_to_a_nan_native_estimator(credit, tmp_path: Path, served_scores) -> None:
    """HistGradientBoosting behind a ColumnTransformer whose remainder passes NaN columns straight through."""
    data = credit[list(FEATURES)].copy()
    data.loc[::5, "income"] = np.nan
    prep = ColumnTransformer([("sc", StandardScaler(), ["age", "tenure_months"])], remainder="passthrough")
    model = Pipeline([("prep", prep), ("est", HistGradientBoostingClassifier(max_iter=20, random_state=0))])
    model.fit(data, credit[LABEL])
    result = compile_model(model, data, tmp_path / "b")
    assert result.parity.passed and result.parity.max_abs_diff <= 1e-5
    features = read_bundle(tmp_path / "b").program.transform(data.to_numpy())
    assert np.isnan(features).sum() == data.isna().sum().sum()  # NaN kept, not imputed
    np.testing.assert_allclose(served_scores(tmp_path / "b", data.to_numpy()), model.predict_proba(data)[:, 1],
                               atol=1e-5, rtol=0)


def test_numpy_trained_model_takes_the_sample_column_order(credit, tmp_path: Path, served_scores) -> None:
    data = credit[list(FEATURES)].fillna(0.0)
    model = LogisticRegression(max_iter=500).fit(data.to_numpy(), credit[LABEL])
    result = compile_model(model, data, tmp_path / "b")
    assert result.manifest["sample"]["columns"] == list(FEATURES)
    np.testing.assert_allclose(served_scores(tmp_path / "b", data.to_numpy()),
                               model.predict_proba(data.to_numpy())[:, 1], atol=1e-5, rtol=0)


def test_string_class_labels_score_the_second_class(credit, tmp_path: Path, served_scores) -> None:
    data = credit[list(FEATURES)].fillna(0.0)
    y = np.where(credit[LABEL] == 1, "bad", "good")  # classes_ sorted: ("bad", "good"): the score is P(good)
    model = LogisticRegression(max_iter=500).fit(data, y)
    result = compile_model(model, data, tmp_path / "b")
    assert result.manifest["schema"]["classes"] == ["bad", "good"]
    np.testing.assert_allclose(served_scores(tmp_path / "b", data.to_numpy()), model.predict_proba(data)[:, 1],
                               atol=1e-5, rtol=0)


def test_split_model() -> None:
    lr = LogisticRegression()
    assert split_model(lr) == ([], lr)
    pipe = Pipeline([("sc", StandardScaler()), ("lr", lr)])
    pre, est = split_model(pipe)
    assert est is lr and [n for n, _ in pre] == ["sc"]


# --- reproducibility --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["logistic", "gbdt", "hist-gbdt", "forest", "lightgbm", "xgboost"])
def test_same_model_and_sample_give_the_same_digest(name: str, credit, tmp_path: Path) -> None:
    data = _training_data(credit, name, in_pipeline=False).iloc[:600]
    model = ESTIMATORS[name]().fit(data, credit[LABEL].iloc[:600])
    first = compile_model(model, data, tmp_path / "one")
    second = compile_model(model, data, tmp_path / "two")
    assert first.digest == second.digest
    for f in (*CONTENT_FILES, MANIFEST):
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes(), f
    other = compile_model(model, data.iloc[:-1], tmp_path / "three")  # one row fewer
    assert other.digest != first.digest
    assert other.manifest["sample"]["digest"] != first.manifest["sample"]["digest"]


def test_the_demo_digest_is_reproducible_and_sample_sensitive(demo_model, credit, demo_bundle, tmp_path: Path) -> None:
    from compiler.demo.model import CONSTRAINTS

    opts = CompileOptions(label=LABEL, constraints=CONSTRAINTS)
    assert compile_model(demo_model, credit, tmp_path / "again", opts).digest == read_bundle(demo_bundle).digest
    changed = credit.copy()
    changed.loc[0, "income"] += 0.01
    assert compile_model(demo_model, changed, tmp_path / "changed", opts).digest != read_bundle(demo_bundle).digest


def test_the_manifest_records_source_sample_parity_and_preprocessing(demo_bundle, credit) -> None:
    b = read_bundle(demo_bundle)
    m = b.manifest
    assert m["source"]["model"] == "Pipeline" and m["source"]["estimator"] == "LogisticRegression"
    assert {"python", "numpy", "scikit-learn", "skl2onnx", "onnxruntime", "numba"} <= set(m["source"]["libraries"])
    assert m["opset"] == {"ai.onnx": 15, "ai.onnx.ml": 3}
    x = credit[list(FEATURES)].to_numpy(dtype=np.float64)
    assert m["sample"] == {"digest": sample_digest(list(FEATURES), x), "rows": len(credit),
                           "columns": list(FEATURES), "label": LABEL}
    assert m["parity"]["passed"] is True and m["parity"]["rows"] == len(credit)
    assert m["parity"]["max_abs_diff"] <= m["parity"]["tolerance"] == 1e-5
    assert 0.6 < m["metrics"]["auc"] < 1.0 and m["metrics"]["rows"] == len(credit)
    assert m["preprocessing"]["in_onnx_graph"] == []
    assert m["preprocessing"]["program_width"] == b.program.width == 20  # 2+2+2+6 age bands+3+5 products
    assert any("OneHotEncoder" in s for s in m["preprocessing"]["feature_program"])
    assert m["schema"] == {"inputs": 10, "threshold": 0.5, "classes": ["0", "1"]}


def test_threshold_and_tolerance_options_are_recorded(numeric_frame, tmp_path: Path) -> None:
    x, y = numeric_frame()
    model = LogisticRegression().fit(x, y)
    result = compile_model(model, x, tmp_path / "b", CompileOptions(threshold=0.2, tolerance=1e-4,
                                                                     description="card limits"))
    b = read_bundle(tmp_path / "b")
    assert b.schema.threshold == 0.2 and b.manifest["parity"]["threshold"] == 0.2
    assert result.parity.tolerance == 1e-4 and b.manifest["description"] == "card limits"


def test_a_zero_tolerance_is_honoured_not_replaced_by_the_default(numeric_frame, tmp_path: Path) -> None:
    """float32 ONNX scores differ from float64 sklearn in the last bits: a 0 tolerance must refuse them."""
    x, y = numeric_frame()
    model = LogisticRegression().fit(x, y)
    with pytest.raises(ParityError, match=r"\(tolerance 0\)"):
        compile_model(model, x, tmp_path / "b", CompileOptions(tolerance=0.0))


# --- refusals: one clear message, nothing half-written ----------------------------------------------------


@pytest.fixture
def fitted(numeric_frame):
    x, y = numeric_frame()
    return LogisticRegression().fit(x, y), x


def test_unknown_estimator_is_named_and_the_supported_ones_listed(numeric_frame, tmp_path: Path,
                                                                  nothing_written) -> None:
    x, y = numeric_frame()
    out = tmp_path / "b"
    with pytest.raises(Unsupported) as err:
        compile_model(KNeighborsClassifier().fit(x, y), x, out)
    msg = str(err.value)
    assert msg.startswith("estimator KNeighborsClassifier is not supported; supported: ")
    for supported in ("LogisticRegression", "GradientBoostingClassifier", "HistGradientBoostingClassifier",
                      "RandomForestClassifier", "LGBMClassifier", "XGBClassifier"):
        assert supported in msg
    assert "\n" not in msg
    nothing_written(out)
    # a regressor of a supported library is just as unknown, also at the end of a pipeline
    with pytest.raises(Unsupported, match="LinearRegression is not supported"):
        compile_model(Pipeline([("sc", StandardScaler()), ("lr", LinearRegression())]).fit(x, y), x, out)
    nothing_written(out)


def test_subclass_of_a_supported_estimator_is_not_silently_accepted(numeric_frame, tmp_path: Path,
                                                                    nothing_written) -> None:
    class Tweaked(LogisticRegression):
        def predict_proba(self, X):  # noqa: N803 - sklearn's name
            return super().predict_proba(X) ** 2

    x, y = numeric_frame()
    with pytest.raises(Unsupported, match="Tweaked is not supported"):
        compile_model(Tweaked().fit(x, y), x, tmp_path / "b")
    nothing_written(tmp_path / "b")


@pytest.mark.parametrize("step,match", [
    (PolynomialFeatures(2), r"preprocessing step 'poly' \(PolynomialFeatures\) cannot be compiled.*supported: "),
    (FunctionTransformer(np.sqrt), r"preprocessing step 'poly': FunctionTransformer\(sqrt\) cannot be compiled"),
], ids=["polynomial", "sqrt"])
def test_unsupported_preprocessing_step_is_named(step, match: str, numeric_frame, tmp_path: Path,
                                                 nothing_written) -> None:
    x, y = numeric_frame()
    model = Pipeline([("poly", step), ("lr", LogisticRegression())]).fit(x.abs(), y)
    with pytest.raises(Unsupported, match=match) as err:
        compile_model(model, x.abs(), tmp_path / "b")
    assert "\n" not in str(err.value)
    nothing_written(tmp_path / "b")


def test_non_binary_classifier_is_refused(numeric_frame, tmp_path: Path, nothing_written) -> None:
    x, _ = numeric_frame()
    multi = LogisticRegression(max_iter=300).fit(x, x["c"].astype(int))
    with pytest.raises(Unsupported, match=r"only binary classifiers are supported; LogisticRegression has classes "
                                          r"\('0', '1', '2', '3'\)"):
        compile_model(multi, x, tmp_path / "b")
    nothing_written(tmp_path / "b")


def test_unfitted_model_is_refused_as_such(tmp_path: Path, numeric_frame, nothing_written) -> None:
    x, _ = numeric_frame()
    with pytest.raises(InvalidInput, match="LogisticRegression is not fitted"):
        compile_model(Pipeline([("sc", StandardScaler()), ("lr", LogisticRegression())]), x, tmp_path / "b")
    nothing_written(tmp_path / "b")


@pytest.mark.parametrize("change,match", [
    (lambda x: x.drop(columns=["b", "d"]), r"^sample is missing column\(s\) \['b', 'd'\]; the model expects "
                                           r"\['a', 'b', 'c', 'd'\]$"),
    (lambda x: x.assign(outcome=1.0), r"^sample has extra column\(s\) \['outcome'\] the model does not use "
                                      r"\(pass --label NAME if one of them is the outcome\)$"),
    (lambda x: x.assign(b=["7.5"] * (len(x) - 1) + ["n/a"]),
     r"^sample column 'b' holds non-numeric data \(e.g. 'n/a'\); expected numbers$"),
    (lambda x: x.iloc[:0], r"^sample has no rows; parity and drift need at least one$"),
], ids=["missing", "extra", "non-numeric", "empty"])
def test_bad_samples(fitted, tmp_path: Path, change, match: str, nothing_written) -> None:
    model, x = fitted
    with pytest.raises(InvalidInput, match=match):
        compile_model(model, change(x), tmp_path / "b")
    nothing_written(tmp_path / "b")


def test_label_must_exist_and_is_not_an_input(fitted, tmp_path: Path, nothing_written) -> None:
    model, x = fitted
    with pytest.raises(InvalidInput, match="^sample has no label column 'y'$"):
        compile_model(model, x, tmp_path / "b", CompileOptions(label="y"))
    nothing_written(tmp_path / "b")
    result = compile_model(model, x.assign(y=(x["a"] > 0).astype(int)), tmp_path / "b", CompileOptions(label="y"))
    assert result.manifest["sample"]["columns"] == ["a", "b", "c", "d"]


def test_output_dir_not_empty_is_left_untouched(fitted, tmp_path: Path, nothing_written) -> None:
    model, x = fitted
    out = tmp_path / "b"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises((InvalidInput, AlreadyExists), match=r"output directory .*b is not empty"):
        compile_model(model, x, out)
    nothing_written(out, before=["keep.txt"])
    assert (out / "keep.txt").read_text() == "mine"


def test_an_existing_empty_output_dir_is_used(fitted, tmp_path: Path) -> None:
    model, x = fitted
    (tmp_path / "b").mkdir()
    compile_model(model, x, tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted([*CONTENT_FILES, MANIFEST])


def test_bad_threshold_and_unknown_constraint(fitted, tmp_path: Path, nothing_written) -> None:
    model, x = fitted
    with pytest.raises(InvalidInput, match=r"threshold must lie in \[0, 1\], got 1.5"):
        compile_model(model, x, tmp_path / "b", CompileOptions(threshold=1.5))
    with pytest.raises(InvalidInput, match=r"tolerance must be a finite number >= 0, got -1e-06"):
        compile_model(model, x, tmp_path / "b", CompileOptions(tolerance=-1e-6))
    with pytest.raises(InvalidInput, match=r"constraints name unknown feature\(s\) \['zz'\]"):
        compile_model(model, x, tmp_path / "b", CompileOptions(constraints={"zz": Constraint(0, 1)}))
    nothing_written(tmp_path / "b")


def _impostor_table(x: pd.DataFrame, y: np.ndarray) -> ConverterTable:
    """A table whose LogisticRegression converter emits ONNX for a *different* fitted model."""
    impostor = LogisticRegression().fit(x, 1 - y)
    table = ConverterTable()
    table.register(Converter("wrong", ("sklearn.linear_model.LogisticRegression",),
                             lambda est, n: _sklearn(impostor, n), nan_native=False, tolerance=1e-5))
    return table


def test_parity_failure_raises_with_the_numbers_and_writes_nothing(numeric_frame, tmp_path: Path,
                                                                   nothing_written) -> None:
    x, y = numeric_frame()
    model = LogisticRegression().fit(x, y)
    with pytest.raises(ParityError) as err:
        compile_model(model, x, tmp_path / "b", table=_impostor_table(x, y))
    msg = str(err.value)
    assert msg.startswith("parity FAILED: 400 rows, max |diff| ")
    assert "(tolerance 1e-05), decision agreement " in msg and msg.endswith("; no bundle written")
    worst = float(msg.split("max |diff| ")[1].split(" ")[0])
    assert worst > 0.5  # an inverted model disagrees grossly
    nothing_written(tmp_path / "b")


def test_default_table_is_used_when_none_is_given(numeric_frame, tmp_path: Path) -> None:
    x, y = numeric_frame()
    model = LogisticRegression().fit(x, y)
    assert compile_model(model, x, tmp_path / "b", table=default_table()).parity.passed
