"""Drift counters: every feature's and the score's values counted into the bundle's reference bins.

Layout per model version: for each feature, its reference bins (len(edges) + 1), then a NaN slot and an
out-of-range slot (outside the range the training sample held); then the score's bins and its NaN slot.
One flat int64 vector per one-minute slice; a ring of 60 slices covers the last hour, plus a total since
start. A batch is counted by one Numba kernel (no Python loop over features or rows).

PSI = sum over bins of (a - e) * ln(a / e), with a = this window's share of the non-NaN values per bin
and e = the training share. A value outside the training range is counted in the end bin it falls in (so a
shift beyond the training range raises PSI, and bin counts equal an offline recount) and also in the
out-of-range slot, reported separately as a share. Empty bins would make ln undefined; by a common practitioner
convention both shares are floored at 1e-4 before the log. Thresholds 0.1 (warn) and 0.25 (alert) are the
usual industry rule of thumb (below 0.1: no significant shift; above 0.25: a major one), configurable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from numba import njit

from compiler.drift import DriftReference
from compiler.schema import Schema

EPSILON = 1e-4
_NO_GRID = np.zeros(0, dtype=np.int64)
SLICE_S = 60
SLICES = 60
WINDOWS = {"5m": 5, "1h": 60}


@njit(nogil=True, cache=True)
def _count(x, scores, edges, e_start, e_len, slot, lo, hi, score_edges, score_slot, out, grid):
    n, f = x.shape
    g = grid.shape[0]
    for i in range(n):
        for j in range(f):
            v = x[i, j]
            base = slot[j]
            k = e_len[j]
            if np.isnan(v):
                out[base + k + 1] += 1
                continue
            if v < lo[j] or v > hi[j]:
                out[base + k + 2] += 1
            a, b = 0, k
            while a < b:
                mid = (a + b) // 2
                if edges[e_start[j] + mid] <= v:
                    a = mid + 1
                else:
                    b = mid
            out[base + a] += 1
        s = scores[i]
        m = score_edges.shape[0]
        if np.isnan(s):
            out[score_slot + m + 1] += 1
            continue
        if g > 0 and not np.isinf(s):  # the shared score grid (comparison.py): clipped into [0, g)
            k = int(s * g) if s > 0.0 else 0
            grid[min(k, g - 1)] += 1
        a, b = 0, m
        while a < b:
            mid = (a + b) // 2
            if score_edges[mid] <= s:
                a = mid + 1
            else:
                b = mid
        out[score_slot + a] += 1


@dataclass(frozen=True)
class DriftLayout:
    names: tuple[str, ...]
    edges: np.ndarray
    e_start: np.ndarray
    e_len: np.ndarray  # interior edges per feature (bins = e_len + 1)
    slot: np.ndarray  # where each feature's slots start
    lo: np.ndarray
    hi: np.ndarray
    score_edges: np.ndarray
    score_slot: int
    width: int
    expected: tuple[np.ndarray, ...]  # per feature, then the score

    @staticmethod
    def build(schema: Schema, ref: DriftReference) -> DriftLayout:
        edges, starts, lens, slots, pos = [], [], [], [], 0
        for r in ref.features:
            starts.append(len(edges))
            edges.extend(r.edges)
            lens.append(len(r.edges))
            slots.append(pos)
            pos += len(r.edges) + 3  # bins + NaN + out-of-range
        obs_lo = [f.observed_min if f.observed_min == f.observed_min else -np.inf for f in schema.features]
        obs_hi = [f.observed_max if f.observed_max == f.observed_max else np.inf for f in schema.features]
        return DriftLayout(
            names=tuple(r.name for r in ref.features), edges=np.array(edges, dtype=np.float64),
            e_start=np.array(starts, dtype=np.int64), e_len=np.array(lens, dtype=np.int64),
            slot=np.array(slots, dtype=np.int64), lo=np.array(obs_lo, dtype=np.float64),
            hi=np.array(obs_hi, dtype=np.float64), score_edges=np.array(ref.score.edges, dtype=np.float64),
            score_slot=pos, width=pos + len(ref.score.edges) + 2,
            expected=tuple(np.array(r.expected) for r in (*ref.features, ref.score)),
        )

    def count(self, x: np.ndarray, scores: np.ndarray, out: np.ndarray, grid: np.ndarray | None = None) -> None:
        """Count a batch into `out` (this layout) and, when given, its scores into `grid` (one pass)."""
        _count(np.ascontiguousarray(x, dtype=np.float64), np.asarray(scores, dtype=np.float64), self.edges,
               self.e_start, self.e_len, self.slot, self.lo, self.hi, self.score_edges, self.score_slot, out,
               _NO_GRID if grid is None else grid)

    def split(self, counts: np.ndarray) -> list[tuple[str, np.ndarray, int, int]]:
        """(name, bin counts, NaN count, out-of-range count) per feature, then ("score", ...)."""
        out = []
        for j, name in enumerate(self.names):
            s, k = int(self.slot[j]), int(self.e_len[j])
            out.append((name, counts[s:s + k + 1], int(counts[s + k + 1]), int(counts[s + k + 2])))
        m = len(self.score_edges)
        sc = counts[self.score_slot:self.score_slot + m + 1]
        out.append(("score", sc, int(counts[self.score_slot + m + 1]), 0))
        return out


def psi(actual: np.ndarray, expected: np.ndarray) -> float:
    total = actual.sum()
    if total == 0:
        return float("nan")
    a = np.maximum(actual / total, EPSILON)
    e = np.maximum(np.asarray(expected, dtype=np.float64), EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


class DriftCounter:
    """One model version's drift counts in one process: a ring of minute slices plus a running total."""

    def __init__(self, layout: DriftLayout, clock: Callable[[], float] = time.time) -> None:
        self.layout = layout
        self.clock = clock
        self.slices = np.zeros((SLICES, layout.width), dtype=np.int64)
        self.stamps = np.full(SLICES, -1, dtype=np.int64)  # minute number held by each slice
        self.total = np.zeros(layout.width, dtype=np.int64)

    def record(self, x: np.ndarray, scores: np.ndarray, grid: np.ndarray | None = None) -> None:
        minute = int(self.clock() // SLICE_S)
        k = minute % SLICES
        if self.stamps[k] != minute:
            self.slices[k] = 0
            self.stamps[k] = minute
        before = self.slices[k].copy()
        self.layout.count(x, scores, self.slices[k], grid)
        self.total += self.slices[k] - before


def window_counts(slices: np.ndarray, stamps: np.ndarray, total: np.ndarray, window: str, now: float) -> np.ndarray:
    if window == "all":
        return total
    minutes = WINDOWS.get(window)
    if minutes is None:
        raise ValueError(f"window: expected one of {sorted([*WINDOWS, 'all'])}, got {window!r}")
    current = int(now // SLICE_S)
    live = (stamps > current - minutes) & (stamps <= current)
    return slices[live].sum(axis=0)


def figures(layout: DriftLayout, counts: np.ndarray) -> list[dict[str, Any]]:
    """PSI, NaN share and out-of-range share per feature and for the score, sorted by PSI (highest first)."""
    rows = []
    for (name, bins, nans, out_of_range), expected in zip(layout.split(counts), layout.expected):
        n = int(bins.sum()) + nans
        total = bins.sum()
        rows.append({"name": name, "psi": psi(bins, expected), "count": n,
                     "nan_share": nans / n if n else float("nan"),
                     "out_of_range_share": out_of_range / n if n else float("nan"),
                     "actual": (bins / total).round(6).tolist() if total else [],
                     "expected": np.round(expected, 6).tolist()})
    return sorted(rows, key=lambda r: -1.0 if r["psi"] != r["psi"] else -r["psi"])
