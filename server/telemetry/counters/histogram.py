"""Log-linear integer-microsecond histograms (HDR-style) over a flat int64 counts vector.

Why this layout: a fixed vector of counts is exact, mergeable by addition (across minutes and across worker
processes), cheap to update (one integer computation and one increment), and lives happily in a shared
memory-mapped file. Quantiles are computed on read.

Layout: values 0..255 µs have one bucket each (exact). Above, each power of two [2^k, 2^(k+1)), k = 8..31,
is split into 128 equal sub-buckets, so a bucket spans at most 1/128 of its lower bound.
**Stated precision**: a reported value (the bucket's midpoint) is within 1/256 ≈ 0.39 % of every value that
fell into that bucket; a bucket's width is ≤ 0.78 % of its lower bound. The range is 0 .. 2^32 − 1 µs
(≈ 71.6 minutes); longer values go to an overflow bucket that is counted, never dropped (it reports
2^32 µs, a lower bound). Negative values clamp to 0. 3,329 buckets = 26.6 KB per histogram.
"""

from __future__ import annotations

import numpy as np

SUB_BITS = 7
SUB = 1 << SUB_BITS  # 128 sub-buckets per octave
EXACT = 2 * SUB  # 0..255: one bucket per value
MAX_EXP = 32
MAX_VALUE = (1 << MAX_EXP) - 1
OVERFLOW = (MAX_EXP - SUB_BITS) * SUB + SUB  # index of the overflow bucket (3328)
N_BUCKETS = OVERFLOW + 1
RELATIVE_PRECISION = 1.0 / (2 * SUB)  # midpoint vs any value in its bucket
BUCKET_WIDTH_BOUND = 1.0 / SUB

# Prometheus `le` boundaries (µs); exposed in seconds.
LE_US = (100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000)


def index(value_us: int) -> int:
    """Bucket of one value: pure int arithmetic (the event loop calls this once per request and stage).

    For v >= 256 with bit length b, e = b - 8 and the bucket is (e << 7) + (v >> e): octave e contributes
    128 buckets and v >> e in [128, 256) is the sub-bucket, offset so that 256 lands on bucket 256.
    """
    v = int(value_us)
    if v < EXACT:
        return v if v > 0 else 0
    if v > MAX_VALUE:
        return OVERFLOW
    e = v.bit_length() - (SUB_BITS + 1)
    return (e << SUB_BITS) + (v >> e)


def record(counts: np.ndarray | memoryview, value_us: int, weight: int = 1) -> None:
    """Count one value (scalar path: one index computation, one increment; works on a `memoryview('q')`)."""
    counts[index(value_us)] += weight


def indices(values_us: np.ndarray) -> np.ndarray:
    """Vectorised `index` (frexp gives the bit length exactly for the clipped int64 range)."""
    v = np.clip(np.asarray(values_us, dtype=np.int64), 0, MAX_VALUE + 1)
    _, bits = np.frexp(v.astype(np.float64))
    e = np.maximum(bits.astype(np.int64) - (SUB_BITS + 1), 1)
    idx = np.where(v < EXACT, v, (e << SUB_BITS) + (v >> e))
    return np.where(v > MAX_VALUE, OVERFLOW, idx)


def record_many(counts: np.ndarray, values_us: np.ndarray, weight: int | np.ndarray = 1) -> None:
    """Count a batch of values (weight: one int for all, or one per value)."""
    idx = indices(values_us).ravel()
    w = np.broadcast_to(np.asarray(weight, dtype=np.float64), idx.shape)
    counts[:N_BUCKETS] += np.bincount(idx, weights=w, minlength=N_BUCKETS).astype(np.int64)


def _bounds() -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(N_BUCKETS, dtype=np.int64)
    e = np.maximum(i // SUB - 1, 0)
    lo = np.where(i < EXACT, i, (i - (e << SUB_BITS)) << e)
    hi = np.where(i < EXACT, i, lo + (1 << e) - 1)
    lo[OVERFLOW] = hi[OVERFLOW] = MAX_VALUE + 1
    return lo.astype(np.float64), hi.astype(np.float64)


LOWER_US, UPPER_US = _bounds()  # inclusive bounds per bucket; overflow: [2^32, 2^32] (a lower bound)
UPPER_US[OVERFLOW] = np.inf
MID_US = np.where(np.isinf(UPPER_US), LOWER_US, (LOWER_US + UPPER_US) / 2.0)


def value_at(i: int) -> float:
    """The value a bucket reports: its midpoint (exact below 256 µs; 2^32 for the overflow bucket)."""
    return float(MID_US[i])


def count(counts: np.ndarray) -> int:
    return int(np.asarray(counts[:N_BUCKETS]).sum())


def quantile(counts: np.ndarray, q: float) -> float:
    """Value at quantile q in [0, 1] (µs): the bucket holding rank ceil(q·n); NaN when empty."""
    c = np.cumsum(np.asarray(counts[:N_BUCKETS], dtype=np.int64))
    total = int(c[-1])
    if total == 0:
        return float("nan")
    rank = min(total, max(1, int(np.ceil(q * total))))
    return value_at(int(np.searchsorted(c, rank, side="left")))


def maximum(counts: np.ndarray) -> float:
    nz = np.flatnonzero(np.asarray(counts[:N_BUCKETS]))
    return value_at(int(nz[-1])) if nz.size else float("nan")


def total_us(counts: np.ndarray) -> float:
    """Sum of the values from bucket midpoints (within the stated precision; for Prometheus `_sum`)."""
    return float(np.dot(np.asarray(counts[:N_BUCKETS], dtype=np.float64), MID_US))


def mean(counts: np.ndarray) -> float:
    n = count(counts)
    return total_us(counts) / n if n else float("nan")


def cumulative(counts: np.ndarray, le_us: tuple[float, ...] | np.ndarray = LE_US) -> np.ndarray:
    """Counts of buckets lying wholly at or below each boundary (Prometheus `le`, cumulative).

    A bucket is counted under `le` when its upper bound is ≤ le, so no value above le is ever counted;
    a value within one bucket width (≤ 0.78 %) below le may land in the next boundary instead.
    """
    c = np.concatenate(([0], np.cumsum(np.asarray(counts[:N_BUCKETS], dtype=np.int64))))
    return c[np.searchsorted(UPPER_US, np.asarray(le_us, dtype=np.float64), side="right")]
