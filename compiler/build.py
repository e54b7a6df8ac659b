"""compile_model: fitted model + sample -> verified bundle. The one orchestration of the compiler's parts."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from compiler.bundle import content_files, write_bundle
from compiler.drift import DriftReference, reference_for
from compiler.errors import InvalidInput, Unsupported
from compiler.export.families import default_table
from compiler.export.table import ML_OPSET, ONNX_OPSET, Converter, ConverterTable
from compiler.loading import sample_digest, sample_matrix
from compiler.metrics import binary_metrics
from compiler.onnx_session import open_session, predict_scores
from compiler.schema import FeatureSpec, Schema
from compiler.transforms.lower import Lowered, lower
from compiler.verify import ParityReport, parity, require

LIBRARIES = ("numpy", "numba", "scikit-learn", "skl2onnx", "onnx", "onnxruntime", "onnxmltools", "lightgbm",
             "xgboost-cpu", "xgboost")


@dataclass(frozen=True)
class Constraint:
    """An allowed range / NaN policy for one input, stricter than what the model merely tolerates."""

    min: float = float("-inf")
    max: float = float("inf")
    nan_allowed: bool | None = None  # None: derive from the model


@dataclass(frozen=True)
class CompileOptions:
    threshold: float = 0.5
    label: str | None = None
    drift_bins: int = 10
    tolerance: float | None = None  # None: the converter family's default
    constraints: Mapping[str, Constraint] = field(default_factory=dict)
    description: str = ""
    # Where the model came from (retraining: parent version, data and spec digests). Plain JSON values; part
    # of the manifest, hence of the bundle digest. Empty: no "lineage" key, so existing digests are unchanged.
    lineage: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CompileResult:
    digest: str
    path: Path
    manifest: Mapping[str, Any]
    parity: ParityReport


def split_model(model: Any) -> tuple[list[tuple[str, Any]], Any]:
    """(preprocessing steps, final estimator) of a Pipeline, or ([], model)."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps:
        return list(steps[:-1]), steps[-1][1]
    return [], model


def compile_model(model: Any, sample: pd.DataFrame, out_dir: Path | str, options: CompileOptions = CompileOptions(),
                  table: ConverterTable | None = None) -> CompileResult:
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InvalidInput(f"output directory {out_dir} is not empty; choose a new directory")
    if not 0.0 <= options.threshold <= 1.0:
        raise InvalidInput(f"threshold must lie in [0, 1], got {options.threshold}")
    if options.tolerance is not None and not (0.0 <= options.tolerance < float("inf")):
        raise InvalidInput(f"tolerance must be a finite number >= 0, got {options.tolerance}")
    pre, estimator = split_model(model)
    converter = (table or default_table()).lookup(estimator)
    if not hasattr(estimator, "classes_"):
        raise InvalidInput(f"{type(estimator).__name__} is not fitted; compile a trained model")
    classes = tuple(str(c) for c in getattr(estimator, "classes_", ()))
    if len(classes) != 2:
        raise Unsupported(f"only binary classifiers are supported; {type(estimator).__name__} has classes {classes}")
    names = _input_names(model, sample, options.label)
    unknown = sorted(set(options.constraints) - set(names))
    if unknown:
        raise InvalidInput(f"constraints name unknown feature(s) {unknown}; inputs are {names}")
    x = sample_matrix(sample, names, options.label)
    lowered = lower(pre, names)
    width = int(getattr(estimator, "n_features_in_", lowered.program.width))
    if lowered.program.width != width:
        raise Unsupported(f"feature program yields {lowered.program.width} columns, the estimator expects {width}")

    onnx_bytes = converter.convert(estimator, width)
    schema = _schema(names, x, lowered, converter, options, classes)
    features = lowered.program.transform(x)
    session = open_session(onnx_bytes)
    scores = predict_scores(session, features, schema.onnx_input, schema.onnx_output, schema.positive_index)
    source_input = sample[names] if hasattr(model, "feature_names_in_") else x
    source = model.predict_proba(source_input)[:, 1]
    report = parity(source, scores, _program_diff(pre, model, source_input, features),
                    converter.tolerance if options.tolerance is None else options.tolerance, options.threshold,
                    converter.tolerance_note)
    require(report)

    drift = DriftReference(
        features=tuple(reference_for(f.name, x[:, j], options.drift_bins, f.categories)
                       for j, f in enumerate(schema.features)),
        score=reference_for("score", scores.astype(np.float64), options.drift_bins),
    )
    manifest = _manifest(model, estimator, converter, names, x, lowered, schema, report, options, sample, scores)
    digest = write_bundle(out_dir, content_files(onnx_bytes, lowered.program, schema, drift), manifest)
    return CompileResult(digest, out_dir, manifest, report)


def _input_names(model: Any, sample: pd.DataFrame, label: str | None) -> list[str]:
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is not None:
        return [str(n) for n in fitted]
    return [str(c) for c in sample.columns if c != label]


def _program_diff(pre: list[tuple[str, Any]], model: Any, source_input: Any, features: np.ndarray) -> float:
    if pre:
        ref = model[:-1].transform(source_input)
        ref = ref.toarray() if hasattr(ref, "toarray") else np.asarray(ref)
    else:
        ref = np.asarray(source_input)
    ref = ref.astype(np.float32)
    both_nan = np.isnan(ref) & np.isnan(features)
    diff = np.where(both_nan, 0.0, np.abs(ref.astype(np.float64) - features.astype(np.float64)))
    return float(np.max(np.where(np.isnan(diff), np.inf, diff))) if diff.size else 0.0


def _schema(names: list[str], x: np.ndarray, lowered: Lowered, converter: Converter, options: CompileOptions,
            classes: tuple[str, ...]) -> Schema:
    outcomes: dict[int, set[str]] = {j: set() for j in range(len(names))}
    for lane in lowered.program.lanes:
        outcomes[lane.source].add(lane.nan_outcome())
    specs = []
    for j, name in enumerate(names):
        seen = outcomes[j]
        derived = seen <= {"finite"} or (converter.nan_native and seen <= {"finite", "nan"})
        c = options.constraints.get(name, Constraint())
        cats, strict = lowered.categories.get(j, ((), False))
        col = x[:, j]
        has_values = bool(np.any(~np.isnan(col)))
        if strict and not any(v != v for v in cats):
            derived = False  # NaN is not one of the known codes
        specs.append(FeatureSpec(
            name=name, kind="categorical" if strict else "numeric", min=c.min, max=c.max,
            nan_allowed=derived if c.nan_allowed is None else (c.nan_allowed and derived),
            categories=cats,
            observed_min=float(np.nanmin(col)) if has_values else float("nan"),
            observed_max=float(np.nanmax(col)) if has_values else float("nan"),
        ))
    return Schema(features=tuple(specs), threshold=options.threshold, classes=classes)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            pass
    return out


def _manifest(model: Any, estimator: Any, converter: Converter, names: list[str], x: np.ndarray, lowered: Lowered,
              schema: Schema, report: ParityReport, options: CompileOptions, sample: pd.DataFrame,
              scores: np.ndarray) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    if options.label is not None:
        metrics = binary_metrics(sample[options.label].to_numpy(), scores)
    manifest: dict[str, Any] = {
        "source": {"family": converter.family, "estimator": type(estimator).__name__,
                   "model": type(model).__name__, "libraries": _versions()},
        "opset": {"ai.onnx": ONNX_OPSET, "ai.onnx.ml": ML_OPSET},
        "sample": {"digest": sample_digest(names, x), "rows": int(x.shape[0]), "columns": names,
                   "label": options.label},
        "metrics": metrics,
        "parity": report.to_dict(),
        "preprocessing": {
            "feature_program": lowered.steps, "program_width": lowered.program.width, "in_onnx_graph": [],
            "policy": "a step the feature program cannot express is refused at compile time, naming the step",
        },
        "schema": {"inputs": len(names), "threshold": schema.threshold, "classes": list(schema.classes)},
        "description": options.description,
    }
    if options.lineage:
        manifest["lineage"] = dict(options.lineage)
    return manifest
