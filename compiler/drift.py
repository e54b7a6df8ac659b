"""Drift references: per-feature and score bins from the sample, and the binning rule shared with serving.

Bins: interior edges from sample quantiles (deduplicated), a value v falls into bin
searchsorted(edges, v, side="right"), so there are len(edges) + 1 bins; NaN is counted apart. Categorical
features get one bin per category (edges at the midpoints between codes). The gateway counts with the
exact same rule (`bin_index`), which is what makes PSI against this reference meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from compiler.digest import decode_float, encode_float
from compiler.errors import BundleError


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value (NaN maps to len(edges) + 1, one past the last real bin)."""
    idx = np.searchsorted(edges, values, side="right")
    return np.where(np.isnan(values), len(edges) + 1, idx)


@dataclass(frozen=True)
class BinnedReference:
    name: str
    edges: tuple[float, ...]  # interior edges, increasing
    expected: tuple[float, ...]  # proportions over non-NaN values, len(edges) + 1, sum 1
    nan_share: float
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "edges": [encode_float(e) for e in self.edges],
            "expected": [encode_float(p) for p in self.expected],
            "nan_share": encode_float(self.nan_share), "count": self.count,
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> BinnedReference:
        return BinnedReference(
            name=str(d["name"]), edges=tuple(decode_float(e) for e in d["edges"]),
            expected=tuple(decode_float(p) for p in d["expected"]),
            nan_share=decode_float(d["nan_share"]), count=int(d["count"]),
        )


def reference_for(name: str, values: np.ndarray, n_bins: int, categories: tuple[float, ...] = ()) -> BinnedReference:
    values = np.asarray(values, dtype=np.float64)
    finite = values[~np.isnan(values)]
    if categories:
        cats = np.unique(np.array([c for c in categories if c == c], dtype=np.float64))
        edges = (cats[:-1] + cats[1:]) / 2.0
    elif finite.size:
        qs = np.quantile(finite, np.linspace(0.0, 1.0, n_bins + 1)[1:-1], method="linear")
        edges = np.unique(qs)
    else:
        edges = np.empty(0)
    counts = np.bincount(np.searchsorted(edges, finite, side="right"), minlength=len(edges) + 1)
    expected = counts / max(finite.size, 1)
    return BinnedReference(
        name=name, edges=tuple(float(e) for e in edges), expected=tuple(float(p) for p in expected),
        nan_share=float((values.size - finite.size) / max(values.size, 1)), count=int(values.size),
    )


@dataclass(frozen=True)
class DriftReference:
    features: tuple[BinnedReference, ...]
    score: BinnedReference

    def to_dict(self) -> dict[str, Any]:
        return {"format": 1, "features": [f.to_dict() for f in self.features], "score": self.score.to_dict()}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> DriftReference:
        try:
            return DriftReference(
                features=tuple(BinnedReference.from_dict(f) for f in d["features"]),
                score=BinnedReference.from_dict(d["score"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"drift.json: malformed drift reference ({exc})") from exc
