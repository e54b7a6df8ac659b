"""compiler/transforms/lower.py: every supported sklearn step lowers to a program equal to sklearn's `transform`
(cast to float32, NaN in the same cells, finite cells within 1 ulp), on fixed cases and on random data; every
unsupported step is refused by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    MinMaxScaler,
    OneHotEncoder,
    PolynomialFeatures,
    QuantileTransformer,
    StandardScaler,
)

from compiler.errors import Unsupported
from compiler.transforms.lower import lower

NAMES = ["a", "b", "c", "d"]


def _with_nan(x: pd.DataFrame, share: float = 0.15, seed: int = 1) -> pd.DataFrame:
    return x.mask(np.random.default_rng(seed).random(x.shape) < share)


STEPS = {
    "standard": lambda: StandardScaler(),
    "standard-no-mean": lambda: StandardScaler(with_mean=False),
    "standard-no-std": lambda: StandardScaler(with_std=False),
    "standard-neither": lambda: StandardScaler(with_mean=False, with_std=False),
    "minmax": lambda: MinMaxScaler(),
    "minmax-range": lambda: MinMaxScaler(feature_range=(-3, 0.5)),
    "minmax-clip": lambda: MinMaxScaler(feature_range=(-1, 2), clip=True),
    "log1p": lambda: FunctionTransformer(np.log1p),
    "clip": lambda: FunctionTransformer(np.clip, kw_args={"a_min": -1.0, "a_max": 1.5}),
    "clip-new-names": lambda: FunctionTransformer(np.clip, kw_args={"min": -1.0, "max": 1.5}),
    "clip-lower-only": lambda: FunctionTransformer(np.clip, kw_args={"a_min": 0.0, "a_max": None}),
    "identity": lambda: FunctionTransformer(None),
}


@pytest.mark.parametrize("name", sorted(STEPS))
def test_each_step_matches_sklearn(name: str, numeric_frame, program_equals_sklearn) -> None:
    x, _ = numeric_frame()
    x.loc[:5, "d"] = [-1e300, 1e300, 0.0, -0.0, 5e-324, -3.0]  # extremes inside the fitted data too
    program_equals_sklearn(STEPS[name](), _with_nan(x, 0.05))  # NaN passes through all of these
    # and on data outside the fitted range (clipping, scaling beyond [0, 1])
    probe = pd.concat([x * 3.0 - 1.0, pd.DataFrame({c: [1e300, -1e300, 0.0, np.nan] for c in NAMES})])
    program_equals_sklearn(STEPS[name](), probe, fit_x=x)


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent", "constant"])
@pytest.mark.parametrize("indicator", [False, True], ids=["plain", "indicator"])
def test_simple_imputer(strategy: str, indicator: bool, numeric_frame, program_equals_sklearn) -> None:
    x, _ = numeric_frame()
    x = _with_nan(x).assign(d=x["d"])  # d has no NaN at fit time: no indicator column for it
    imputer = SimpleImputer(strategy=strategy, add_indicator=indicator, fill_value=-7.5)
    ours = program_equals_sklearn(imputer, x)
    assert not np.isnan(ours).any()
    assert ours.shape[1] == 4 + (3 if indicator else 0)
    # NaN in d at transform time: imputed, and still no indicator (sklearn's features="missing-only")
    program_equals_sklearn(SimpleImputer(strategy=strategy, add_indicator=indicator, fill_value=-7.5),
                           x.assign(d=np.nan), fit_x=x)


@pytest.mark.parametrize("keep", [False, True], ids=["drop-empty", "keep-empty"])
def test_simple_imputer_on_an_all_missing_column(keep: bool, numeric_frame, program_equals_sklearn) -> None:
    x, _ = numeric_frame()
    x = _with_nan(x).assign(b=np.nan)
    ours = program_equals_sklearn(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=keep), x)
    assert ours.shape[1] == (4 if keep else 3) + 4


@pytest.mark.parametrize("kw", [{"handle_unknown": "ignore"}, {"handle_unknown": "error"}, {"drop": "first"},
                                {"drop": "if_binary"}, {"drop": "first", "handle_unknown": "ignore"}], ids=str)
def test_one_hot_variants(kw: dict, numeric_frame, program_equals_sklearn) -> None:
    x, _ = numeric_frame()
    x = x.assign(e=(x["a"] > 0).astype(float))  # a binary column for drop="if_binary"
    ct = ColumnTransformer([("oh", OneHotEncoder(sparse_output=False, **kw), ["c", "e"])], remainder="passthrough")
    ours = program_equals_sklearn(ct, x)
    dropped = {"first": 2, "if_binary": 1}.get(kw.get("drop"), 0)
    assert ours.shape[1] == 4 + 2 - dropped + 3  # c: 4 codes, e: 2, remainder a, b, d
    if kw.get("handle_unknown") == "ignore":  # unseen codes and NaN become all zeros, as in sklearn
        unseen = x.assign(c=np.where(x.index % 2 == 0, 9.0, np.nan))
        ours = program_equals_sklearn(ColumnTransformer([("oh", OneHotEncoder(sparse_output=False, **kw), ["c"])]),
                                      unseen, fit_x=x)
        assert not ours.any()


def test_one_hot_with_nan_as_a_category(numeric_frame, program_equals_sklearn) -> None:
    x, _ = numeric_frame()
    x = x.assign(c=x["c"].mask(x.index % 5 == 0))
    ours = program_equals_sklearn(OneHotEncoder(sparse_output=False), x[["c"]])
    assert ours.shape[1] == 5 and ours[:, -1].sum() == (x.index % 5 == 0).sum()
    lowered = lower([("oh", OneHotEncoder(sparse_output=False).fit(x[["c"]]))], ["c"])
    cats, strict = lowered.categories[0]
    assert strict and cats[:4] == (0.0, 1.0, 2.0, 3.0) and np.isnan(cats[4])


def test_one_hot_sparse_output(numeric_frame, program_equals_sklearn) -> None:
    x, _ = numeric_frame()
    program_equals_sklearn(OneHotEncoder(sparse_output=True), x[["c"]])


@pytest.mark.parametrize("encode", ["ordinal", "onehot-dense", "onehot"])
@pytest.mark.parametrize("strategy", ["quantile", "uniform", "kmeans"])
def test_kbins(encode: str, strategy: str, numeric_frame, program_equals_sklearn) -> None:
    x, _ = numeric_frame()
    extra = {"quantile_method": "averaged_inverted_cdf"} if strategy == "quantile" else {}
    kb = KBinsDiscretizer(n_bins=5, encode=encode, strategy=strategy, **extra)
    fit_x = x[["a", "b", "d"]]
    program_equals_sklearn(kb, fit_x)
    # values on the edges, beyond them and extreme
    kb.fit(fit_x)
    edges = np.concatenate([e for e in kb.bin_edges_])
    probe = pd.DataFrame({c: np.concatenate([edges, [-1e300, 1e300, 0.0]]) for c in fit_x.columns})
    program_equals_sklearn(KBinsDiscretizer(n_bins=5, encode=encode, strategy=strategy, **extra), probe, fit_x=fit_x)


def test_kbins_with_collapsed_bins(program_equals_sklearn) -> None:
    x = pd.DataFrame({"a": [0.0] * 80 + list(np.linspace(1, 2, 20))})  # quantile edges collapse
    ours = program_equals_sklearn(KBinsDiscretizer(n_bins=6, encode="onehot-dense", strategy="quantile",
                                                   quantile_method="averaged_inverted_cdf"), x)
    assert ours.shape[1] < 6


@pytest.mark.parametrize("remainder", ["passthrough", "drop", StandardScaler()], ids=["passthrough", "drop", "scaler"])
def test_column_transformer_remainder(remainder, numeric_frame, program_equals_sklearn) -> None:
    x, _ = numeric_frame()
    ct = ColumnTransformer([("mm", MinMaxScaler(), ["d", "a"]), ("skip", "drop", ["b"]),
                            ("empty", StandardScaler(), [])], remainder=remainder)
    ours = program_equals_sklearn(ct, _with_nan(x, 0.05))
    assert ours.shape[1] == {"passthrough": 3, "drop": 2, "scaler": 3}[remainder if isinstance(remainder, str)
                                                                         else "scaler"]


def test_column_transformer_by_index_on_numpy(numeric_frame) -> None:
    x, _ = numeric_frame()
    ct = ColumnTransformer([("sc", StandardScaler(), [3, 0]), ("pass", "passthrough", [1])]).fit(x.to_numpy())
    ours = lower([("ct", ct)], NAMES).program.transform(x.to_numpy())
    np.testing.assert_array_max_ulp(ours, ct.transform(x.to_numpy()).astype(np.float32), maxulp=1)


def test_nested_pipelines_in_a_column_transformer(numeric_frame, program_equals_sklearn) -> None:
    x, _ = numeric_frame()
    ct = ColumnTransformer([
        ("money", Pipeline([("imp", SimpleImputer(strategy="median")), ("log", FunctionTransformer(np.log1p)),
                            ("sc", StandardScaler())]), ["b"]),
        ("both", Pipeline([("imp", SimpleImputer(add_indicator=True)), ("skip", "passthrough"),
                           ("inner", Pipeline([("mm", MinMaxScaler(clip=True)), ("sc", StandardScaler())]))]),
         ["a", "d"]),
        ("cat", Pipeline([("imp", SimpleImputer(strategy="most_frequent")),
                          ("oh", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]), ["c"]),
    ], remainder="drop")
    pre = Pipeline([("ct", ct), ("sc2", StandardScaler())])
    program_equals_sklearn(pre, _with_nan(x, 0.1, seed=2))
    lowered = lower(pre.steps, NAMES)
    assert lowered.steps[0] == "ct/money/imp: SimpleImputer (1 -> 1 columns)"
    assert lowered.steps[-1].startswith("sc2: StandardScaler")
    assert any(s.startswith("ct: ColumnTransformer (4 -> ") for s in lowered.steps)


def test_demo_pipeline_lowers_exactly(demo_model, credit) -> None:
    data = credit[demo_model.feature_names_in_]
    program = lower(demo_model.steps[:-1], list(data.columns)).program
    np.testing.assert_array_equal(program.transform(data.to_numpy()), demo_model[:-1].transform(data).astype(np.float32))
    assert [ln.label for ln in program.lanes][-5:] == [f"product_code={c}" for c in range(1, 6)]


def test_categories_are_recorded_for_raw_columns_only(numeric_frame) -> None:
    x, _ = numeric_frame()
    ct = ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), ["c"]),
                            ("mm", Pipeline([("sc", StandardScaler()), ("oh", OneHotEncoder())]), ["a"])]).fit(x)
    lowered = lower([("ct", ct)], NAMES)
    assert lowered.categories == {2: ((0.0, 1.0, 2.0, 3.0), False)}


def test_a_strict_encoder_behind_an_imputer_still_constrains_the_raw_codes(numeric_frame, tmp_path) -> None:
    """Raw codes pass an imputer unchanged, so the encoder's codes (plus NaN when it is imputed to a code) are
    the only valid inputs; an unknown code is refused at the gateway instead of silently encoding to zeros."""
    from sklearn.linear_model import LogisticRegression

    from compiler.build import CompileOptions, compile_model
    from compiler.bundle import read_bundle
    from compiler.transforms.validate import NAN, OK, UNKNOWN_CATEGORY, Validator

    x, y = numeric_frame()
    holes = x.assign(c=x["c"].where(np.arange(len(x)) % 7 != 0))
    # (training data, imputer, is NaN a valid input?): with holes the fill value is learned as a code;
    # without, the fill 99 never was one, and sklearn itself would refuse a NaN at transform time
    for name, data, imp, nan_ok in (("holes", holes, SimpleImputer(strategy="most_frequent"), True),
                                    ("full", x, SimpleImputer(strategy="constant", fill_value=99.0), False)):
        ct = ColumnTransformer([("p", Pipeline([("imp", imp), ("oh", OneHotEncoder(handle_unknown="error"))]),
                                 ["c"])], remainder="passthrough")
        model = Pipeline([("ct", ct), ("lr", LogisticRegression())]).fit(data, y)
        cats, strict = lower([("ct", model[0])], NAMES).categories[2]
        assert strict and cats[:4] == (0.0, 1.0, 2.0, 3.0) and any(c != c for c in cats) == nan_ok
        compile_model(model, data, tmp_path / name, CompileOptions())
        v = Validator(read_bundle(tmp_path / name).schema)
        rows = np.tile(x.to_numpy(dtype=np.float64)[:1], (3, 1))
        rows[:, 2] = [np.nan, 9.0, 3.0]
        code, _, _ = v.check(rows)
        assert code.tolist() == [OK if nan_ok else NAN, UNKNOWN_CATEGORY, OK]


# --- refusals ---------------------------------------------------------------------------------------------


class Custom(BaseEstimator, TransformerMixin):
    def fit(self, x, y=None):
        return self

    def transform(self, x):
        return x


class StandardScalerLookalike(StandardScaler):
    """Same class name as a supported step, different behaviour: must not be lowered."""


@pytest.mark.parametrize("step,match", [
    (PolynomialFeatures(2), r"^preprocessing step 'p' \(PolynomialFeatures\) cannot be compiled into a feature "
                            r"program; supported: ColumnTransformer, Pipeline, StandardScaler"),
    (QuantileTransformer(n_quantiles=10), r"'p' \(QuantileTransformer\) cannot be compiled"),
    (Custom(), r"'p' \(Custom\) cannot be compiled"),
    (StandardScalerLookalike(), r"'p' \(StandardScalerLookalike\) cannot be compiled"),
    (FunctionTransformer(np.sqrt), r"^preprocessing step 'p': FunctionTransformer\(sqrt\) cannot be compiled; "
                                   r"supported functions: np.log1p, np.clip"),
    (FunctionTransformer(np.log1p, kw_args={"out": None}), r"FunctionTransformer\(log1p\) cannot be compiled"),
    (FunctionTransformer(np.clip, kw_args={"a_min": [0, 0, 0, 0], "a_max": 9.0}),
     r"FunctionTransformer\(clip\) cannot be compiled"),
    (FunctionTransformer(lambda v: v), r"FunctionTransformer\(<lambda>\) cannot be compiled"),
    (SimpleImputer(missing_values=-1.0), r"'p': SimpleImputer is supported with missing_values=np.nan only, got -1.0"),
    (OneHotEncoder(min_frequency=50), r"'p': OneHotEncoder with infrequent-category grouping is not supported"),
], ids=["polynomial", "quantile", "custom", "lookalike", "sqrt", "log1p-kwargs", "clip-array", "lambda",
        "imputer-sentinel", "infrequent"])
def test_unsupported_steps_are_refused_by_name(step, match: str, numeric_frame) -> None:
    x, _ = numeric_frame()
    step.fit(x.abs())
    with pytest.raises(Unsupported, match=match) as err:
        lower([("p", step)], NAMES)
    assert "\n" not in str(err.value)


def test_a_refused_step_inside_a_column_transformer_is_named_by_its_path(numeric_frame) -> None:
    x, _ = numeric_frame()
    ct = ColumnTransformer([("num", Pipeline([("sc", StandardScaler()), ("poly", PolynomialFeatures())]), ["a"])])
    with pytest.raises(Unsupported, match=r"'prep/num/poly' \(PolynomialFeatures\)"):
        lower([("prep", ct.fit(x))], NAMES)


def test_string_categories_are_refused() -> None:
    enc = OneHotEncoder().fit(pd.DataFrame({"p": ["card", "loan", "card"]}))
    with pytest.raises(Unsupported, match=r"'p': OneHotEncoder categories must be numeric codes.*'card'"):
        lower([("p", enc)], ["p"])


# --- property tests ---------------------------------------------------------------------------------------

finite = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False)
cell = st.one_of(finite, st.just(float("nan")), st.just(0.0), st.just(-0.0),
                 st.floats(min_value=-1e-300, max_value=1e-300),
                 st.sampled_from([1e300, -1e300, 5e-324, -5e-324, 2.2250738585072014e-308, 1.0, 2.0, 3.0]))


def _fit_frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    x = pd.DataFrame({"a": rng.normal(size=200), "b": rng.lognormal(size=200), "c": rng.integers(0, 4, 200) * 1.0,
                      "d": rng.uniform(-5, 5, 200)})
    return _with_nan(x, 0.2, seed=4)


@settings(max_examples=60, deadline=None)
@given(values=arrays(np.float64, (12, 4), elements=cell))
def test_property_imputer_clip_scaler_onehot(values: np.ndarray, program_equals_sklearn) -> None:
    ct = ColumnTransformer([
        ("num", Pipeline([("imp", SimpleImputer(strategy="median", add_indicator=True)),
                          ("clip", FunctionTransformer(np.clip, kw_args={"a_min": -50.0, "a_max": 50.0})),
                          ("sc", StandardScaler())]), ["a", "b", "d"]),
        ("cat", Pipeline([("imp", SimpleImputer(strategy="most_frequent")),
                          ("oh", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]), ["c"]),
        ("mm", MinMaxScaler(), ["d"]),  # NaN and extremes straight through a scaler (may overflow to inf)
    ])
    program_equals_sklearn(ct, pd.DataFrame(values, columns=NAMES), fit_x=_fit_frame())


@settings(max_examples=60, deadline=None)
@given(values=arrays(np.float64, (12, 4), elements=cell))
def test_property_log_bins_and_unclipped_extremes(values: np.ndarray, program_equals_sklearn) -> None:
    pre = Pipeline([
        ("ct", ColumnTransformer([
            ("money", Pipeline([("imp", SimpleImputer(strategy="constant", fill_value=0.0)),
                                ("floor", FunctionTransformer(np.clip, kw_args={"a_min": 0.0, "a_max": None})),
                                ("log", FunctionTransformer(np.log1p)),
                                ("sc", StandardScaler())]), ["b"]),
            ("bands", Pipeline([("imp", SimpleImputer(strategy="mean")),
                                ("kb", KBinsDiscretizer(n_bins=4, encode="onehot-dense", strategy="uniform"))]),
             ["a", "d"]),
            ("raw", StandardScaler(with_mean=False), ["a"]),
        ], remainder=MinMaxScaler(feature_range=(-1, 1), clip=True))),
        ("after", StandardScaler()),
    ])
    program_equals_sklearn(pre, pd.DataFrame(values, columns=NAMES), fit_x=_fit_frame())
