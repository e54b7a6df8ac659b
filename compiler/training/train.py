"""Build and fit the model a training spec describes, deterministically.

Same spec + same data file -> the same fitted model bit for bit, hence the same ONNX, program and manifest,
hence the same bundle digest. What makes that hold:
- the seed goes to every `random_state` in the model (deep: pipeline steps, KBinsDiscretizer subsampling,
  hook-built models too) and to the sample split;
- one thread everywhere: `n_jobs = 1`, LightGBM `deterministic` + `force_row_wise`, and the fit runs under
  threadpoolctl's limit of 1 (OpenMP in HistGradientBoosting and XGBoost, BLAS in LogisticRegression), so
  floating-point sums are never reordered by a scheduler;
- the compile sample is chosen by a seeded permutation of row positions, not by anything run-specific.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from compiler.errors import InvalidInput
from compiler.loading import call_hook, import_hook
from compiler.training.spec import ColumnGroup, Step, TrainingSpec

# Parameters the spec pins itself; setting them by hand would break reproducibility.
PINNED = {"random_state", "seed", "random_seed", "n_jobs", "nthread", "num_threads", "deterministic",
          "force_row_wise", "force_col_wise"}

SPLIT_METHOD = ("rows at the first round(holdout * rows) positions (capped at max_sample_rows) of "
                "numpy.random.default_rng(seed).permutation(rows) form the compile sample (parity, drift "
                "reference, out-of-sample metrics); the model is fitted on the other rows; both keep file order")


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    sample: pd.DataFrame  # held out: features + label, what compile_model proves parity and metrics on


def select(spec: TrainingSpec, data: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """(feature names, frame of features + label) checked against the spec: every column present, numeric,
    a binary label without gaps."""
    cols = [str(c) for c in data.columns]
    label = spec.data.label
    if label not in cols:
        raise InvalidInput(f"data has no label column {label!r} (data.label); columns are {cols}")
    features = list(spec.data.features) if spec.data.features is not None else [c for c in cols if c != label]
    missing = [c for c in features if c not in cols]
    if missing:
        raise InvalidInput(f"data is missing column(s) {missing} named in data.features")
    if not features:
        raise InvalidInput("data has no feature columns besides the label")
    for g in spec.preprocessing:
        absent = [c for c in g.columns if c not in features]
        if absent:
            raise InvalidInput(f"preprocessing.{g.name}.columns names {absent}, not feature columns of the data")
    unknown = sorted(set(spec.constraints) - set(features))
    if unknown:
        raise InvalidInput(f"constraints name {unknown}, not feature columns of the data")
    for c in features:
        if not (pd.api.types.is_numeric_dtype(data[c]) or pd.api.types.is_bool_dtype(data[c])):
            raise InvalidInput(f"data column {c!r} holds non-numeric data; requests carry numbers")
    y = data[label]
    values = set(pd.unique(y.dropna()))
    if y.isna().any() or not values <= {0, 1} or len(values) != 2:
        raise InvalidInput(f"label column {label!r} must hold 0 and 1 only (both present, no gaps); "
                           f"got values {sorted(map(str, values))[:5]}{' and blanks' if y.isna().any() else ''}")
    frame = data[features + [label]].copy()
    frame[label] = y.astype(np.int64)
    return features, frame.reset_index(drop=True)


def split(spec: TrainingSpec, frame: pd.DataFrame) -> Split:
    rows = len(frame)
    n_sample = min(round(spec.data.holdout * rows), spec.data.max_sample_rows)
    if n_sample < 1 or rows - n_sample < 2:
        raise InvalidInput(f"data has {rows} rows: too few to hold out a compile sample (data.holdout "
                           f"{spec.data.holdout}) and train on the rest")
    perm = np.random.default_rng(spec.seed).permutation(rows)
    held = np.zeros(rows, dtype=bool)
    held[perm[:n_sample]] = True
    train, sample = frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True)
    if train[spec.data.label].nunique() != 2:
        raise InvalidInput("the training rows hold only one label value; a classifier needs both 0 and 1")
    return Split(train, sample)


def build(spec: TrainingSpec, features: list[str]) -> Any:
    """The unfitted model: [ColumnTransformer of the groups] -> estimator, or what the hook returns."""
    if spec.estimator.hook is not None:
        model = _from_hook(spec)
    else:
        model = _estimator(spec.estimator.family or "", dict(spec.estimator.params))
        if spec.preprocessing:
            model = _pipeline(spec.preprocessing, features, model)
    return pin(model, spec.seed)


def fit(spec: TrainingSpec, model: Any, train: pd.DataFrame, features: list[str]) -> Any:
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(limits=1), np.errstate(all="ignore"):
            return model.fit(train[features], train[spec.data.label])
    except (ValueError, TypeError) as exc:  # sklearn's parameter validation and friends
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInput(f"training failed ({type(exc).__name__}): {first}; check estimator.params "
                           "and preprocessing") from exc


def pin(model: Any, seed: int) -> Any:
    """Seed every random_state and force one thread, throughout a (nested) model."""
    if not hasattr(model, "get_params"):
        raise InvalidInput(f"{type(model).__name__} is not a scikit-learn style estimator (no get_params)")
    params = model.get_params(deep=True)
    updates: dict[str, Any] = {}
    for key in params:
        leaf = key.rsplit("__", 1)[-1]
        if leaf == "random_state":
            updates[key] = seed
        elif leaf == "n_jobs" and params[key] is not None:  # scikit-learn's None already means one job
            updates[key] = 1
    model.set_params(**updates)
    for est in _estimators(model):
        module = type(est).__module__
        if module.startswith("lightgbm"):  # None means every core here
            est.set_params(n_jobs=1, deterministic=True, force_row_wise=True, verbose=-1)
        elif module.startswith("xgboost"):
            est.set_params(n_jobs=1)
    return model


def _estimators(model: Any) -> list[Any]:
    out = [model]
    for v in model.get_params(deep=True).values():
        if hasattr(v, "get_params") and not isinstance(v, type):
            out.append(v)
    return out


def _estimator(family: str, params: dict[str, Any]) -> Any:
    cls, defaults = _family(family)
    known = set(cls().get_params(deep=False))
    for k in sorted(params):
        if k in PINNED:
            raise InvalidInput(f"estimator.params.{k}: set by the spec itself (seed, one thread) for "
                               "reproducibility; remove it")
        if k not in known:
            raise InvalidInput(f"estimator.params.{k}: not a parameter of {cls.__name__}; "
                               f"expected one of {sorted(known - PINNED)}")
    return cls(**{**defaults, **params})


def _family(family: str) -> tuple[type, dict[str, Any]]:
    """family name -> (classifier class, defaults the spec applies unless params override them)."""
    if family == "logistic_regression":
        from sklearn.linear_model import LogisticRegression
        return LogisticRegression, {"max_iter": 1000}
    if family == "random_forest":
        from sklearn.ensemble import RandomForestClassifier
        return RandomForestClassifier, {}
    if family == "extra_trees":
        from sklearn.ensemble import ExtraTreesClassifier
        return ExtraTreesClassifier, {}
    if family == "gradient_boosting":
        from sklearn.ensemble import GradientBoostingClassifier
        return GradientBoostingClassifier, {}
    if family == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier
        return HistGradientBoostingClassifier, {}
    if family == "lightgbm":
        from lightgbm import LGBMClassifier
        return LGBMClassifier, {"verbose": -1}
    if family == "xgboost":
        from xgboost import XGBClassifier
        return XGBClassifier, {"tree_method": "hist"}
    raise InvalidInput(f"estimator.family: unknown family {family!r}")


def _from_hook(spec: TrainingSpec) -> Any:
    hook = spec.estimator.hook or ""
    func = import_hook(hook, "estimator.hook")
    try:
        inspect.signature(func).bind(**spec.estimator.params)
    except TypeError as exc:
        raise InvalidInput(f"estimator.hook {hook!r} does not accept estimator.params "
                           f"{sorted(spec.estimator.params)} ({exc})") from exc
    except ValueError:  # no signature (a builtin): let the call decide
        pass
    model = call_hook(func, hook, "estimator.hook", **spec.estimator.params)
    if hasattr(model, "classes_") or hasattr(model, "n_features_in_"):
        raise InvalidInput(f"estimator.hook {hook!r} returned a fitted model; it must return an unfitted one "
                           "(retrain fits it on --data)")
    if not hasattr(model, "fit"):
        raise InvalidInput(f"estimator.hook {hook!r} returned {type(model).__name__}, not an estimator")
    return model


def _pipeline(groups: tuple[ColumnGroup, ...], features: list[str], estimator: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    prep = ColumnTransformer([(g.name, Pipeline([(f"{s.kind}{j}", _step(s)) for j, s in enumerate(g.steps)]),
                               list(g.columns)) for g in groups],
                             remainder="passthrough")
    return Pipeline([("prep", prep), ("model", estimator)])


def _step(step: Step) -> Any:
    """One spec step -> the sklearn transformer the feature program lowers exactly (compiler/transforms)."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import (
        FunctionTransformer,
        KBinsDiscretizer,
        MinMaxScaler,
        OneHotEncoder,
        StandardScaler,
    )

    o = step.options
    if step.kind == "impute":
        kw = {"fill_value": o["fill_value"]} if o["strategy"] == "constant" else {}
        return SimpleImputer(strategy=o["strategy"], add_indicator=o["indicator"], **kw)
    if step.kind == "log1p":
        return FunctionTransformer(np.log1p)
    if step.kind == "clip":
        lo = -np.inf if o["min"] is None else o["min"]
        hi = np.inf if o["max"] is None else o["max"]
        return FunctionTransformer(np.clip, kw_args={"a_min": lo, "a_max": hi})
    if step.kind == "standard_scale":
        return StandardScaler()
    if step.kind == "minmax_scale":
        return MinMaxScaler()
    if step.kind == "bins":
        extra = {"quantile_method": "averaged_inverted_cdf"} if o["strategy"] == "quantile" else {}
        return KBinsDiscretizer(n_bins=o["bins"], encode="onehot-dense" if o["encode"] == "onehot" else "ordinal",
                                strategy=o["strategy"], **extra)
    if step.kind == "one_hot":
        return OneHotEncoder(handle_unknown=o["unknown"], sparse_output=False)
    raise InvalidInput(f"unknown preprocessing step kind {step.kind!r}")
