"""The input/output contract of a compiled model: what the gateway validates and what callers read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from compiler.digest import decode_float, encode_float
from compiler.errors import BundleError

INF = float("inf")


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    kind: str  # "numeric" | "categorical"
    min: float  # allowed range, inclusive; -inf / inf when unbounded
    max: float
    nan_allowed: bool
    categories: tuple[float, ...] = ()  # allowed codes when kind == "categorical"
    observed_min: float = float("nan")  # what the sample held (for humans and drift), not enforced
    observed_max: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "dtype": "float64",
            "min": encode_float(self.min), "max": encode_float(self.max), "nan_allowed": self.nan_allowed,
            "categories": [encode_float(c) for c in self.categories],
            "observed_min": encode_float(self.observed_min), "observed_max": encode_float(self.observed_max),
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> FeatureSpec:
        return FeatureSpec(
            name=str(d["name"]), kind=str(d["kind"]), min=decode_float(d["min"]), max=decode_float(d["max"]),
            nan_allowed=bool(d["nan_allowed"]), categories=tuple(decode_float(c) for c in d["categories"]),
            observed_min=decode_float(d["observed_min"]), observed_max=decode_float(d["observed_max"]),
        )


@dataclass(frozen=True)
class Schema:
    features: tuple[FeatureSpec, ...]
    threshold: float  # decision = score >= threshold
    classes: tuple[str, ...]  # source model's class labels; the score is P(classes[1])
    onnx_input: str = "input"
    onnx_output: str = "probabilities"
    positive_index: int = 1
    score_name: str = "score"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def width(self) -> int:
        return len(self.features)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "features": [f.to_dict() for f in self.features],
            "threshold": encode_float(self.threshold), "classes": list(self.classes),
            "onnx_input": self.onnx_input, "onnx_output": self.onnx_output,
            "positive_index": self.positive_index, "score_name": self.score_name,
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Schema:
        try:
            return Schema(
                features=tuple(FeatureSpec.from_dict(f) for f in d["features"]),
                threshold=decode_float(d["threshold"]), classes=tuple(str(c) for c in d["classes"]),
                onnx_input=str(d["onnx_input"]), onnx_output=str(d["onnx_output"]),
                positive_index=int(d["positive_index"]), score_name=str(d["score_name"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"schema.json: malformed schema ({exc})") from exc

    def limits(self) -> SchemaLimits:
        return SchemaLimits.build(self)


@dataclass(frozen=True)
class SchemaLimits:
    """The schema as arrays for vectorised validation of a whole batch (see transforms/validate.py)."""

    lo: np.ndarray
    hi: np.ndarray
    nan_ok: np.ndarray
    cat_start: np.ndarray  # per feature: offset into cat_values; cat_len 0 = not categorical
    cat_len: np.ndarray
    cat_values: np.ndarray

    @staticmethod
    def build(schema: Schema) -> SchemaLimits:
        values: list[float] = []
        starts, lens = [], []
        for f in schema.features:
            cats = sorted(f.categories, key=lambda c: (c != c, c))  # NaN last
            starts.append(len(values))
            lens.append(len(cats) if f.kind == "categorical" else 0)
            if f.kind == "categorical":
                values.extend(cats)
        return SchemaLimits(
            lo=np.array([f.min for f in schema.features], dtype=np.float64),
            hi=np.array([f.max for f in schema.features], dtype=np.float64),
            nan_ok=np.array([f.nan_allowed for f in schema.features], dtype=np.bool_),
            cat_start=np.array(starts, dtype=np.int64),
            cat_len=np.array(lens, dtype=np.int64),
            cat_values=np.array(values, dtype=np.float64),
        )
