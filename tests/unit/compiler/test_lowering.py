"""The feature program reproduces sklearn's own `transform`, step by step and on random data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (FunctionTransformer, KBinsDiscretizer, MinMaxScaler, OneHotEncoder,
                                   PolynomialFeatures, StandardScaler)

from compiler.errors import Unsupported
from compiler.transforms.lower import lower

NAMES = ["a", "b", "c", "d"]


def _frame(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.lognormal(size=rows), "c": rng.integers(0, 4, rows) * 1.0,
                      "d": rng.uniform(-5, 5, rows)})
    return x, (x["a"] > 0).astype(int).to_numpy()


def _program_equals_sklearn(pre, x: pd.DataFrame, fit_x: pd.DataFrame | None = None) -> None:
    pre.fit(fit_x if fit_x is not None else x)
    steps = pre.steps if isinstance(pre, Pipeline) else [("step", pre)]
    program = lower(steps, list(x.columns)).program
    ours = program.transform(x.to_numpy(dtype=np.float64))
    ref = pre.transform(x)
    with np.errstate(over="ignore"):  # 1e300 overflows float32 in both implementations alike
        ref = np.asarray(ref.toarray() if hasattr(ref, "toarray") else ref, dtype=np.float64).astype(np.float32)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_array_max_ulp(np.nan_to_num(ours), np.nan_to_num(ref), maxulp=1)


STEPS = {
    "standard": lambda: StandardScaler(),
    "standard-no-mean": lambda: StandardScaler(with_mean=False),
    "standard-no-std": lambda: StandardScaler(with_std=False),
    "minmax": lambda: MinMaxScaler(),
    "minmax-clip": lambda: MinMaxScaler(feature_range=(-1, 2), clip=True),
    "impute-mean": lambda: SimpleImputer(strategy="mean"),
    "impute-median-indicator": lambda: SimpleImputer(strategy="median", add_indicator=True),
    "impute-most-frequent": lambda: SimpleImputer(strategy="most_frequent"),
    "impute-constant": lambda: SimpleImputer(strategy="constant", fill_value=-7.5),
    "log1p": lambda: Pipeline([("abs", FunctionTransformer(np.clip, kw_args={"a_min": 0.0, "a_max": None})),
                               ("log", FunctionTransformer(np.log1p))]),
    "clip": lambda: FunctionTransformer(np.clip, kw_args={"a_min": -1.0, "a_max": 1.5}),
    "identity": lambda: FunctionTransformer(None),
    "kbins-ordinal-quantile": lambda: KBinsDiscretizer(n_bins=5, encode="ordinal", strategy="quantile",
                                                       quantile_method="averaged_inverted_cdf"),
    "kbins-onehot-uniform": lambda: KBinsDiscretizer(n_bins=4, encode="onehot-dense", strategy="uniform"),
    "kbins-kmeans": lambda: KBinsDiscretizer(n_bins=3, encode="ordinal", strategy="kmeans"),
}


@pytest.mark.parametrize("name", sorted(STEPS))
def test_each_step_matches_sklearn(name: str, numeric_frame) -> None:
    x, _ = numeric_frame()
    if name.startswith("impute"):
        x = x.mask(np.random.default_rng(1).random(x.shape) < 0.15)
    _program_equals_sklearn(STEPS[name](), x)


@pytest.mark.parametrize("kw", [{"handle_unknown": "ignore"}, {"handle_unknown": "error"}, {"drop": "first"},
                                {"drop": "if_binary"}], ids=str)
def test_one_hot_variants(kw: dict, numeric_frame) -> None:
    x, _ = numeric_frame()
    enc = OneHotEncoder(sparse_output=False, **kw)
    ct = ColumnTransformer([("oh", enc, ["c"])], remainder="passthrough")
    _program_equals_sklearn(ct, x)
    if kw.get("handle_unknown") == "ignore":  # an unseen code becomes all zeros, as in sklearn
        unseen = x.assign(c=9.0)
        _program_equals_sklearn(ColumnTransformer([("oh", OneHotEncoder(sparse_output=False, **kw), ["c"])]),
                                unseen, fit_x=x)


def test_nested_pipelines_and_remainder_drop(numeric_frame) -> None:
    x, _ = numeric_frame()
    x = x.mask(np.random.default_rng(2).random(x.shape) < 0.1)
    ct = ColumnTransformer([
        ("money", Pipeline([("imp", SimpleImputer(strategy="median")), ("log", FunctionTransformer(np.log1p)),
                            ("sc", StandardScaler())]), ["b"]),
        ("both", Pipeline([("imp", SimpleImputer()), ("mm", MinMaxScaler())]), ["a", "d"]),
    ], remainder="drop")
    _program_equals_sklearn(Pipeline([("ct", ct), ("sc2", StandardScaler())]), x)


def test_unsupported_step_is_refused_by_name(numeric_frame) -> None:
    x, _ = numeric_frame()
    pre = Pipeline([("poly", PolynomialFeatures(2))]).fit(x)
    with pytest.raises(Unsupported, match=r"'poly' \(PolynomialFeatures\).*supported"):
        lower(pre.steps, NAMES)
    sqrt = Pipeline([("root", FunctionTransformer(np.sqrt))]).fit(x.abs())
    with pytest.raises(Unsupported, match=r"'root'.*FunctionTransformer\(sqrt\)"):
        lower(sqrt.steps, NAMES)


finite = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False, width=64)
cell = st.one_of(finite, st.just(float("nan")), st.just(0.0), st.floats(min_value=-1e-300, max_value=1e-300),
                 st.sampled_from([1e300, -1e300, 5e-324, -5e-324]))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, (12, 4), elements=cell))
def test_property_program_matches_sklearn_on_random_data(values: np.ndarray) -> None:
    fit_x, _ = _frame(200, seed=3)
    fit_x = fit_x.mask(np.random.default_rng(4).random(fit_x.shape) < 0.2)
    ct = ColumnTransformer([
        ("num", Pipeline([("imp", SimpleImputer(strategy="median", add_indicator=True)),
                          ("clip", FunctionTransformer(np.clip, kw_args={"a_min": -50.0, "a_max": 50.0})),
                          ("sc", StandardScaler())]), ["a", "b", "d"]),
        ("cat", Pipeline([("imp", SimpleImputer(strategy="most_frequent")),
                          ("oh", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]), ["c"]),
        ("mm", MinMaxScaler(), ["d"]),
    ])
    x = pd.DataFrame(values, columns=NAMES)
    # MinMaxScaler on its own column passes NaN through; the imputers handle the rest
    _program_equals_sklearn(ct, x, fit_x=fit_x)
