"""Comparing two versions on live traffic: canary vs champion score distributions, shadow vs primary.

Why a fixed fine grid for scores: each bundle bins its own score against its own training reference, so two
versions' drift bins do not line up. Every version also counts its scores on one shared grid (1,000 equal
bins over [0, 1]; the supported models are binary classifiers whose score is a probability), cheap to keep
per batch and exact to sum across workers. PSI between two arms is then computed on ten bins cut at the
champion's own deciles on that grid (the usual "baseline deciles" convention), so it does not depend on
either bundle's reference, with the same 1e-4 floor for empty bins as drift PSI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from server.telemetry import histogram as hist
from server.telemetry.drift import psi

GRID = 1000
DELTA_SCALE = 1e6  # |shadow - primary| is kept in a latency-style histogram in millionths


def grid_counts(scores: np.ndarray) -> np.ndarray:
    """Counts of a batch's finite scores on the shared grid (values outside [0, 1] land in the end bins).
    The definition, in numpy: serving counts the same inside the drift kernel's pass (drift.py), and the
    tests hold the two equal."""
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    idx = np.clip((s * GRID).astype(np.int64), 0, GRID - 1)
    return np.bincount(idx, minlength=GRID)


def psi_between(actual: np.ndarray, expected: np.ndarray, bins: int = 10) -> float:
    """PSI of `actual` grid counts against `expected` grid counts, on `bins` bins cut at the expected's
    quantiles (NaN when either side is empty). Ties at a cut stay in one bin, so fewer bins may result."""
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if a.sum() == 0 or e.sum() == 0:
        return float("nan")
    cum = np.cumsum(e) / e.sum()
    cuts = np.unique(np.searchsorted(cum, np.arange(1, bins) / bins, side="left") + 1)
    cuts = cuts[(cuts > 0) & (cuts < GRID)]
    a_bins = np.add.reduceat(a, np.concatenate(([0], cuts)))
    e_bins = np.add.reduceat(e, np.concatenate(([0], cuts)))
    return psi(a_bins, e_bins / e_bins.sum())


@dataclass(frozen=True)
class Comparison:
    """One shadow batch against the primary: rows compared, decision flips, |score delta| histogram."""

    rows: int
    flips: int
    delta: np.ndarray


def compare(shadow: np.ndarray, primary: np.ndarray, shadow_decisions: np.ndarray,
            primary_decisions: np.ndarray) -> Comparison:
    delta = np.abs(shadow.astype(np.float64) - primary.astype(np.float64))
    counts = np.zeros(hist.N_BUCKETS, dtype=np.int64)
    hist.record_many(counts, np.rint(np.nan_to_num(delta, nan=1.0) * DELTA_SCALE))
    return Comparison(int(shadow.shape[0]), int(np.count_nonzero(shadow_decisions != primary_decisions)), counts)


class ShadowCounters:
    """One shadow version's comparison with the primary, as arrays so they snapshot and sum across workers.

    Written on the event loop only (the lane's own task); read by telemetry snapshots and the guard."""

    FIELDS = ("offered", "dropped", "scored", "failed", "flips")

    def __init__(self) -> None:
        self.counts = np.zeros(len(self.FIELDS), dtype=np.int64)
        self.delta = np.zeros(hist.N_BUCKETS, dtype=np.int64)

    def add(self, field: str, n: int = 1) -> None:
        self.counts[self.FIELDS.index(field)] += n

    def record(self, c: Comparison) -> None:
        """Fold in one batch's comparison (computed off the event loop by `compare`)."""
        self.counts[2] += c.rows
        self.counts[4] += c.flips
        self.delta += c.delta

    def _get(self, field: str) -> int:
        return int(self.counts[self.FIELDS.index(field)])

    offered = property(lambda self: self._get("offered"))
    dropped = property(lambda self: self._get("dropped"))
    scored = property(lambda self: self._get("scored"))
    failed = property(lambda self: self._get("failed"))
    flips = property(lambda self: self._get("flips"))

    def flip_rate(self) -> float:
        return self.flips / self.scored if self.scored else 0.0


def shadow_summary(counts: np.ndarray, delta: np.ndarray) -> dict[str, float | int]:
    """The shadow figures people read: counts, flip rate, and the |score delta| distribution."""
    c = dict(zip(ShadowCounters.FIELDS, (int(v) for v in counts)))
    scored = c["scored"]
    return {**c, "flip_rate": c["flips"] / scored if scored else float("nan"),
            **{f"delta_p{q}": hist.quantile(delta, q / 100) / DELTA_SCALE for q in (50, 90, 99)},
            "delta_mean": hist.mean(delta) / DELTA_SCALE}
