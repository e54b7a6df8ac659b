"""Log-linear integer-microsecond histograms (HDR-style).

Values below 256 µs get a bucket each (exact); above, every power of two is split into 128 equal buckets,
so a bucket's width is at most 1/128 of its lower bound: quantiles are exact to within 0.79 % (relative).
The range reaches 2^32 µs (about 71 minutes); anything longer lands in an overflow bucket that is
counted, never dropped. Negative values clamp to 0.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numba import njit

SUB_BITS = 8
EXACT = 1 << SUB_BITS  # 256 exact buckets
HALF = EXACT // 2  # 128 sub-buckets per octave above
MAX_EXP = 32
N_BUCKETS = EXACT + HALF * (MAX_EXP - SUB_BITS + 1) + 1  # + overflow
OVERFLOW = N_BUCKETS - 1
MAX_VALUE = (1 << MAX_EXP) - 1
RELATIVE_PRECISION = 1.0 / HALF


def index(value_us: int) -> int:
    """Bucket of one value: a few integer operations (the scalar reference for `indices`)."""
    v = int(value_us)
    if v < EXACT:
        return v if v > 0 else 0
    if v > MAX_VALUE:
        return OVERFLOW
    e = v.bit_length() - SUB_BITS
    return EXACT + (e - 1) * HALF + ((v >> e) - HALF)


def indices(values_us: np.ndarray) -> np.ndarray:
    """Vectorised `index` for a batch of values, in numpy: an independent reference the tests check the
    compiled count (`record_many`) against."""
    v = np.clip(np.asarray(values_us, dtype=np.int64), 0, None)
    _, bits = np.frexp(v.astype(np.float64))  # bit length, exact below 2^53
    e = np.maximum(bits - SUB_BITS, 0)
    idx = np.where(v < EXACT, v, EXACT + (e - 1) * HALF + ((v >> e) - HALF))
    return np.where(v > MAX_VALUE, OVERFLOW, idx)


@njit(nogil=True, cache=True)
def _count(counts: np.ndarray, values: np.ndarray) -> None:
    """counts[index(v)] += 1 for each value: `index`, compiled."""
    for v in values:
        if v < EXACT:
            counts[v if v > 0 else 0] += 1
        elif v > MAX_VALUE:
            counts[OVERFLOW] += 1
        else:
            e, t = 0, v >> SUB_BITS
            while t:  # e = bit_length(v) - SUB_BITS
                t >>= 1
                e += 1
            counts[EXACT + (e - 1) * HALF + ((v >> e) - HALF)] += 1


def record_many(counts: np.ndarray, values_us: np.ndarray) -> None:
    """Count a batch of values in one compiled pass. Why not numpy: `indices` and a bincount are a dozen
    calls and a 27 KiB temporary per column; in the telemetry drain of a busy gateway, on a cold cache,
    that took ~140 µs for 200 requests' four stages, several times its cost in a tight loop."""
    _count(counts, np.ascontiguousarray(values_us, dtype=np.int64))


def record_columns(counts: Sequence[np.ndarray], values_us: np.ndarray) -> None:
    """`record_many(counts[j], values_us[:, j])` for every column of a (rows, k) array (the telemetry drain
    runs this 20 times a second for four latency stages)."""
    columns = np.ascontiguousarray(np.asarray(values_us, dtype=np.int64).T)
    for j, c in enumerate(counts):
        _count(c, columns[j])


def bounds(idx: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive [low, high] of bucket(s); the overflow bucket reports [MAX_VALUE + 1, inf)."""
    i = np.asarray(idx, dtype=np.int64)
    j = np.maximum(i - EXACT, 0)
    e = j // HALF + 1
    m = j % HALF + HALF
    lo = np.where(i < EXACT, i, m << e).astype(np.float64)
    hi = np.where(i < EXACT, i, ((m + 1) << e) - 1).astype(np.float64)
    lo = np.where(i == OVERFLOW, MAX_VALUE + 1, lo)
    hi = np.where(i == OVERFLOW, np.inf, hi)
    return lo, hi


UPPER_US = bounds(np.arange(N_BUCKETS))[1]


def quantile(counts: np.ndarray, q: float) -> float:
    """The value at quantile q (0..1) in µs: the midpoint of the bucket holding it (NaN when empty)."""
    total = int(counts.sum())
    if total == 0:
        return float("nan")
    rank = max(1, int(np.ceil(q * total)))
    i = int(np.searchsorted(np.cumsum(counts), rank))
    lo, hi = bounds(i)
    return float(lo) if i == OVERFLOW or i < EXACT else float((lo + hi) / 2)


def mean(counts: np.ndarray) -> float:
    total = counts.sum()
    if total == 0:
        return float("nan")
    lo, hi = bounds(np.arange(N_BUCKETS))
    mid = np.where(np.isinf(hi), lo, (lo + hi) / 2)
    return float((counts * mid).sum() / total)


def cumulative(counts: np.ndarray, edges_us: np.ndarray) -> np.ndarray:
    """Counts at or below each edge (for Prometheus `le` buckets); a bucket counts where its top falls."""
    cum = np.cumsum(counts)
    pos = np.searchsorted(UPPER_US, edges_us, side="right") - 1
    return np.where(pos >= 0, cum[np.clip(pos, 0, None)], 0)
