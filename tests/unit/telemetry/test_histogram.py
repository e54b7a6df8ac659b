"""Log-linear histograms: every value lands in a bucket within the stated precision; nothing is dropped."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from server.telemetry import histogram as h


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-10, max_value=2**40))
def test_scalar_and_vector_index_agree_and_bound_the_value(v: int) -> None:
    i = h.index(v)
    assert i == int(h.indices(np.array([v]))[0])
    lo, hi = h.bounds(i)
    clamped = max(v, 0)
    if clamped > h.MAX_VALUE:
        assert i == h.OVERFLOW
    else:
        assert lo <= clamped <= hi
        assert (hi - lo) <= max(lo, 1) * h.RELATIVE_PRECISION


def test_quantiles_match_numpy_within_precision() -> None:
    rng = np.random.default_rng(1)
    values = rng.lognormal(7, 1.5, 100_000).astype(np.int64)
    counts = np.zeros(h.N_BUCKETS, dtype=np.int64)
    h.record_many(counts, values)
    assert counts.sum() == values.size
    for q in (0.5, 0.9, 0.99, 0.999):
        ref = np.quantile(values, q, method="inverted_cdf")
        assert abs(h.quantile(counts, q) - ref) <= max(ref * h.RELATIVE_PRECISION, 1.0)


def test_overflow_is_counted_and_cumulative_buckets_are_monotone() -> None:
    counts = np.zeros(h.N_BUCKETS, dtype=np.int64)
    h.record_many(counts, np.array([5, 300, 2**33, 2**35, -4]))
    assert counts.sum() == 5 and counts[h.OVERFLOW] == 2 and counts[0] == 1
    cum = h.cumulative(counts, np.array([10.0, 1000.0, 1e12]))
    assert list(cum) == [2, 3, 3]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(*[st.integers(min_value=-5, max_value=2**36)] * 4), min_size=1, max_size=60))
def test_columns_are_counted_as_each_column_alone(rows: list[tuple[int, int, int, int]]) -> None:
    """record_columns (the drain's one pass over four stages) equals record_many per column, overflow included."""
    values = np.array(rows, dtype=np.int64)
    together = [np.full(h.N_BUCKETS, 7, dtype=np.int64) for _ in range(4)]  # adds to what is there
    h.record_columns(together, values)
    for j in range(4):
        alone = np.full(h.N_BUCKETS, 7, dtype=np.int64)
        h.record_many(alone, values[:, j])
        assert np.array_equal(together[j], alone)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-2**40, max_value=2**40), max_size=80))
def test_the_compiled_count_equals_the_scalar_index(values: list[int]) -> None:
    """record_many (a Numba pass) counts every value in the bucket the scalar reference `index` names."""
    counts = np.zeros(h.N_BUCKETS, dtype=np.int64)
    h.record_many(counts, np.array(values, dtype=np.int64))
    expected = np.zeros(h.N_BUCKETS, dtype=np.int64)
    for v in values:
        expected[h.index(v)] += 1
    assert np.array_equal(counts, expected)
