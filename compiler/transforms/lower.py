"""Lowering: fitted sklearn preprocessing -> a feature program.

Each supported transformer maps the current lanes to new lanes with the transformer's fitted parameters
copied exactly (same order of floating-point operations as sklearn). Anything else is refused with the
step's name, because a silently different transform is the worst failure a scoring system can have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from compiler.errors import Unsupported
from compiler.transforms.program import FeatureProgram, Lane, Op, Step

SUPPORTED_STEPS = (
    "ColumnTransformer", "Pipeline", "StandardScaler", "MinMaxScaler", "SimpleImputer (missing_values=nan)",
    "OneHotEncoder (numeric categories)", "KBinsDiscretizer (ordinal/onehot-dense)",
    "FunctionTransformer(np.log1p | np.clip | None)", "'passthrough' / 'drop'",
)


@dataclass
class Lowered:
    """The program plus what the schema needs to know: category sets per input column."""

    program: FeatureProgram
    categories: dict[int, tuple[tuple[float, ...], bool]] = field(default_factory=dict)  # col -> (values, strict)
    steps: list[str] = field(default_factory=list)  # human-readable description for the manifest


class _Ctx:
    def __init__(self) -> None:
        self.categories: dict[int, tuple[tuple[float, ...], bool]] = {}
        self.steps: list[str] = []


def lower(steps: list[tuple[str, Any]], input_names: list[str]) -> Lowered:
    """Lower a pipeline's preprocessing steps (everything before the estimator)."""
    ctx = _Ctx()
    lanes = [Lane(i, (), name) for i, name in enumerate(input_names)]
    for name, trans in steps:
        lanes = _apply(name, trans, lanes, ctx)
    program = FeatureProgram(len(input_names), tuple(lanes))
    return Lowered(program, ctx.categories, ctx.steps)


def _apply(name: str, trans: Any, lanes: list[Lane], ctx: _Ctx) -> list[Lane]:
    if trans is None or trans == "passthrough":
        return lanes
    kind = type(trans).__name__
    handler = _HANDLERS.get(kind) if type(trans).__module__.startswith("sklearn.") else None
    if handler is None:
        raise Unsupported(
            f"preprocessing step {name!r} ({kind}) cannot be compiled into a feature program; "
            f"supported: {', '.join(SUPPORTED_STEPS)}"
        )
    out = handler(name, trans, lanes, ctx)
    ctx.steps.append(f"{name}: {kind} ({len(lanes)} -> {len(out)} columns)")
    return out


def _pipeline(name: str, pipe: Any, lanes: list[Lane], ctx: _Ctx) -> list[Lane]:
    for sub_name, sub in pipe.steps:
        lanes = _apply(f"{name}/{sub_name}", sub, lanes, ctx)
    return lanes


def _column_transformer(name: str, ct: Any, lanes: list[Lane], ctx: _Ctx) -> list[Lane]:
    indices: dict[str, Any] = ct._transformer_to_input_indices
    out: list[Lane] = []
    for sub_name, sub, _cols in ct.transformers_:
        if sub == "drop":
            continue
        picked = [lanes[i] for i in indices[sub_name]]
        if not picked:
            continue
        out.extend(_apply(f"{name}/{sub_name}", sub, picked, ctx))
    return out


def _check_width(name: str, trans: Any, lanes: list[Lane]) -> None:
    n = getattr(trans, "n_features_in_", len(lanes))
    if n != len(lanes):
        raise Unsupported(f"step {name!r} was fitted on {n} columns but receives {len(lanes)}")


def _elementwise(name: str, trans: Any, lanes: list[Lane], make: Callable[[int], list[Step]]) -> list[Lane]:
    _check_width(name, trans, lanes)
    out = []
    for j, ln in enumerate(lanes):
        for s in make(j):
            ln = ln.then(s)
        out.append(ln)
    return out


def _standard_scaler(name: str, t: Any, lanes: list[Lane], ctx: _Ctx) -> list[Lane]:
    n = len(lanes)
    mean = t.mean_ if t.with_mean else np.zeros(n)
    scale = t.scale_ if t.with_std else np.ones(n)
    return _elementwise(name, t, lanes, lambda j: [Step(Op.SUBDIV, float(mean[j]), float(scale[j]))])


def _minmax_scaler(name: str, t: Any, lanes: list[Lane], ctx: _Ctx) -> list[Lane]:
    steps = lambda j: [Step(Op.MULADD, float(t.scale_[j]), float(t.min_[j]))]  # noqa: E731
    if getattr(t, "clip", False):
        lo, hi = t.feature_range
        steps = lambda j: [Step(Op.MULADD, float(t.scale_[j]), float(t.min_[j])),  # noqa: E731
                           Step(Op.CLIP, float(lo), float(hi))]
    return _elementwise(name, t, lanes, steps)


def _simple_imputer(name: str, t: Any, lanes: list[Lane], ctx: _Ctx) -> list[Lane]:
    mv = t.missing_values
    if not (isinstance(mv, float) and np.isnan(mv)):
        raise Unsupported(f"step {name!r}: SimpleImputer is supported with missing_values=np.nan only, got {mv!r}")
    _check_width(name, t, lanes)
    stats = np.asarray(t.statistics_, dtype=np.float64)
    keep_empty = getattr(t, "keep_empty_features", False)
    out = []
    for j, ln in enumerate(lanes):
        if np.isnan(stats[j]):
            if keep_empty:  # sklearn fills all-missing columns with 0 in this mode
                out.append(ln.then(Step(Op.IMPUTE, 0.0)))
            continue  # sklearn drops all-missing columns
        out.append(ln.then(Step(Op.IMPUTE, float(stats[j]))))
    if t.add_indicator:
        for j in t.indicator_.features_:
            out.append(lanes[j].then(Step(Op.EQ, float("nan")), f"missingindicator_{lanes[j].label}"))
    return out


def _function_transformer(name: str, t: Any, lanes: list[Lane], ctx: _Ctx) -> list[Lane]:
    if t.func is None:
        return lanes
    kw = dict(t.kw_args or {})
    if t.func is np.log1p and not kw:
        return [ln.then(Step(Op.LOG1P)) for ln in lanes]
    if t.func is np.clip:
        lo = kw.pop("a_min", kw.pop("min", None))
        hi = kw.pop("a_max", kw.pop("max", None))
        if not kw and (lo is not None or hi is not None) and np.ndim(lo) == 0 and np.ndim(hi) == 0:
            lo = -np.inf if lo is None else float(lo)
            hi = np.inf if hi is None else float(hi)
            return [ln.then(Step(Op.CLIP, lo, hi)) for ln in lanes]
    fn = getattr(t.func, "__name__", repr(t.func))
    raise Unsupported(
        f"preprocessing step {name!r}: FunctionTransformer({fn}) cannot be compiled; "
        "supported functions: np.log1p, np.clip with scalar a_min/a_max, None"
    )


def _categories_as_floats(name: str, cats: np.ndarray) -> tuple[float, ...]:
    try:
        return tuple(float(c) for c in cats)
    except (TypeError, ValueError) as exc:
        raise Unsupported(
            f"step {name!r}: OneHotEncoder categories must be numeric codes (requests carry numbers), "
            f"got {list(cats)[:5]!r}"
        ) from exc


def _one_hot(name: str, t: Any, lanes: list[Lane], ctx: _Ctx) -> list[Lane]:
    _check_width(name, t, lanes)
    infrequent = getattr(t, "_infrequent_enabled", False)
    if infrequent:
        raise Unsupported(f"step {name!r}: OneHotEncoder with infrequent-category grouping is not supported")
    strict = t.handle_unknown == "error"
    drop_idx = getattr(t, "drop_idx_", None)
    out = []
    for j, ln in enumerate(lanes):
        cats = _categories_as_floats(name, t.categories_[j])
        if not ln.steps:  # categories constrain a raw input column only
            ctx.categories[ln.source] = (cats, strict)
        elif all(s.op == Op.IMPUTE for s in ln.steps):
            # behind an imputer the raw codes are the same; a missing value is allowed when its fill is a code
            fill = ln.steps[0].a
            ctx.categories[ln.source] = (cats + ((float("nan"),) if fill in cats else ()), strict)
        dropped = None if drop_idx is None or drop_idx[j] is None else int(drop_idx[j])
        for k, c in enumerate(cats):
            if k != dropped:
                out.append(ln.then(Step(Op.EQ, c), f"{ln.label}={c:g}"))
    return out


def _kbins(name: str, t: Any, lanes: list[Lane], ctx: _Ctx) -> list[Lane]:
    _check_width(name, t, lanes)
    if t.encode not in ("ordinal", "onehot-dense", "onehot"):
        raise Unsupported(f"step {name!r}: KBinsDiscretizer(encode={t.encode!r}) is not supported")
    out = []
    for j, ln in enumerate(lanes):
        edges = tuple(float(e) for e in np.asarray(t.bin_edges_[j])[1:-1])
        binned = ln.then(Step(Op.BIN, table=edges))
        if t.encode == "ordinal":
            out.append(binned)
        else:
            out.extend(binned.then(Step(Op.EQ, float(b)), f"{ln.label}_bin{b}") for b in range(int(t.n_bins_[j])))
    return out


_HANDLERS: dict[str, Callable[[str, Any, list[Lane], _Ctx], list[Lane]]] = {
    "Pipeline": _pipeline,
    "ColumnTransformer": _column_transformer,
    "StandardScaler": _standard_scaler,
    "MinMaxScaler": _minmax_scaler,
    "SimpleImputer": _simple_imputer,
    "FunctionTransformer": _function_transformer,
    "OneHotEncoder": _one_hot,
    "KBinsDiscretizer": _kbins,
}
