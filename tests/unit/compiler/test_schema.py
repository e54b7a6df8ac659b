"""compiler/schema.py and the schema compile_model derives: kinds, categories, ranges and the NaN policy."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm
import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder, StandardScaler

from compiler.build import CompileOptions, Constraint, compile_model
from compiler.bundle import read_bundle
from compiler.demo.data import FEATURES, LABEL
from compiler.digest import pretty_json
from compiler.errors import BundleError
from compiler.schema import FeatureSpec, Schema

INF = float("inf")


def _policy(path: Path) -> dict[str, bool]:
    return {f.name: f.nan_allowed for f in read_bundle(path).schema.features}


def test_demo_schema(demo_bundle, credit) -> None:
    schema = read_bundle(demo_bundle).schema
    assert schema.names == tuple(FEATURES) and schema.threshold == 0.5 and schema.classes == ("0", "1")
    spec = {f.name: f for f in schema.features}
    product = spec["product_code"]
    assert product.kind == "categorical" and product.categories == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert not product.nan_allowed  # handle_unknown="error" and NaN is not a known code
    assert spec["months_since_delinquency"].nan_allowed  # imputed (with an indicator) in the pipeline
    assert spec["income"].nan_allowed and spec["loan_amount"].nan_allowed  # imputed
    for name in ("age", "utilisation", "debt_to_income", "open_accounts", "inquiries_6m", "tenure_months"):
        assert not spec[name].nan_allowed, name  # no imputer in front of a LogisticRegression
    assert all(f.kind == "numeric" for f in schema.features if f.name != "product_code")
    assert (spec["age"].min, spec["age"].max) == (18.0, 120.0)  # from CONSTRAINTS
    assert (product.min, product.max) == (-INF, INF)  # no constraint given
    assert spec["income"].observed_min == credit["income"].min()
    assert spec["months_since_delinquency"].observed_max == np.nanmax(credit["months_since_delinquency"])
    assert all(f.to_dict()["dtype"] == "float64" for f in schema.features)


def test_logistic_regression_without_imputer_allows_no_nan(credit, tmp_path: Path) -> None:
    data = credit[list(FEATURES)].fillna(0.0)
    compile_model(LogisticRegression(max_iter=500).fit(data, credit[LABEL]), data, tmp_path / "bare")
    assert not any(_policy(tmp_path / "bare").values())
    model = Pipeline([("sc", StandardScaler()), ("lr", LogisticRegression(max_iter=500))]).fit(data, credit[LABEL])
    compile_model(model, data, tmp_path / "scaled")  # a scaler passes NaN on; the regression cannot take it
    assert not any(_policy(tmp_path / "scaled").values())


@pytest.mark.parametrize("est", [lambda: HistGradientBoostingClassifier(max_iter=10),
                                 lambda: lightgbm.LGBMClassifier(n_estimators=10, verbose=-1)], ids=["hgb", "lgbm"])
def test_nan_native_estimators_allow_nan_on_passthrough_columns(est, credit, tmp_path: Path) -> None:
    data = credit[list(FEATURES)]
    compile_model(est().fit(data, credit[LABEL]), data, tmp_path / "bare")
    assert all(_policy(tmp_path / "bare").values())
    prep = ColumnTransformer([("kb", KBinsDiscretizer(n_bins=4, encode="ordinal"), ["age"]),
                              ("sc", StandardScaler(), ["income"])], remainder="passthrough")
    compile_model(Pipeline([("prep", prep), ("est", est())]).fit(data, credit[LABEL]), data, tmp_path / "pipe")
    policy = _policy(tmp_path / "pipe")
    assert policy.pop("age") is False  # KBinsDiscretizer refuses NaN, even in front of a NaN-native model
    assert all(policy.values())  # scaled or passed through: NaN reaches the trees, which handle it


def test_nan_native_is_not_enough_for_a_random_forest(credit, tmp_path: Path) -> None:
    data = credit[list(FEATURES)].fillna(-1.0)
    compile_model(RandomForestClassifier(n_estimators=3, max_depth=3).fit(data, credit[LABEL]), data, tmp_path / "b")
    assert not any(_policy(tmp_path / "b").values())


def test_constraints_can_forbid_but_not_permit_nan(credit, tmp_path: Path) -> None:
    data = credit[list(FEATURES)]
    prep = ColumnTransformer([("imp", SimpleImputer(), ["income"])], remainder=SimpleImputer(strategy="median"))
    model = Pipeline([("prep", prep), ("lr", LogisticRegression(max_iter=500))]).fit(data, credit[LABEL])
    cons = {"income": Constraint(nan_allowed=False), "age": Constraint(18, 120, nan_allowed=True)}
    compile_model(model, data, tmp_path / "a", CompileOptions(constraints=cons))
    policy = _policy(tmp_path / "a")
    assert policy["income"] is False and policy["age"] is True and policy["tenure_months"] is True
    data = data.fillna(0.0)
    bare = LogisticRegression(max_iter=500).fit(data, credit[LABEL])
    compile_model(bare, data, tmp_path / "b", CompileOptions(constraints={"age": Constraint(nan_allowed=True)}))
    assert _policy(tmp_path / "b")["age"] is False  # the model cannot take NaN, whatever the constraint says


def test_ignored_unknowns_make_a_numeric_input_with_categories_for_drift(credit, tmp_path: Path) -> None:
    data = credit[list(FEATURES)].fillna(0.0)
    prep = ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), ["product_code"])],
                             remainder="passthrough")
    model = Pipeline([("prep", prep), ("lr", LogisticRegression(max_iter=500))]).fit(data, credit[LABEL])
    compile_model(model, data, tmp_path / "b")
    spec = {f.name: f for f in read_bundle(tmp_path / "b").schema.features}["product_code"]
    assert spec.kind == "numeric" and spec.categories == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert spec.nan_allowed  # NaN becomes "no category", as in sklearn


def test_round_trip_and_limits() -> None:
    schema = Schema(features=(
        FeatureSpec("x", "numeric", 0.0, INF, True, observed_min=0.5, observed_max=9.0),
        FeatureSpec("c", "categorical", -INF, INF, False, categories=(3.0, float("nan"), 1.0)),
        FeatureSpec("y", "numeric", -1.0, 1.0, False),
    ), threshold=0.3, classes=("good", "bad"))
    back = Schema.from_dict(json.loads(pretty_json(schema.to_dict())))  # strict JSON: inf/NaN as strings
    assert back.names == ("x", "c", "y") and back.width == 3 and back.threshold == 0.3
    assert back.features[0] == schema.features[0]
    assert back.features[1].categories[0] == 3.0 and np.isnan(back.features[1].categories[1])
    assert np.isnan(back.features[2].observed_min)
    lim = back.limits()
    assert lim.lo.tolist() == [0.0, -INF, -1.0] and lim.hi.tolist() == [INF, INF, 1.0]
    assert lim.nan_ok.tolist() == [True, False, False]
    assert lim.cat_len.tolist() == [0, 3, 0] and lim.cat_start.tolist() == [0, 0, 3]
    assert lim.cat_values[:2].tolist() == [1.0, 3.0] and np.isnan(lim.cat_values[2])  # sorted, NaN last


def test_a_malformed_schema_is_a_bundle_error() -> None:
    with pytest.raises(BundleError, match="schema.json: malformed schema"):
        Schema.from_dict({"features": [{"name": "x"}], "threshold": 0.5})
