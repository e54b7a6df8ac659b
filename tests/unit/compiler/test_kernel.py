"""compiler/transforms/kernel.py: each op's exact semantics in the Numba kernel, against numpy's own arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from compiler.transforms import kernel
from compiler.transforms.program import FeatureProgram, Lane, Op, Step

INF, NAN = float("inf"), float("nan")
SPECIAL = np.array([NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, -2.0, 1e300, -1e300, 5e-324, 1e-300, 0.5, 2.0, 3.0])


def _run(steps: tuple[Step, ...], values: np.ndarray) -> np.ndarray:
    return FeatureProgram(1, (Lane(0, steps, "x"),)).transform(values.reshape(-1, 1))[:, 0]


def _same(ours: np.ndarray, ref: np.ndarray) -> None:
    with np.errstate(over="ignore"):  # float32 overflow to inf happens in both implementations alike
        ref = np.asarray(ref, dtype=np.float64).astype(np.float32)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    # bitwise on everything else (also the sign of zero)
    assert ours[~np.isnan(ours)].tobytes() == ref[~np.isnan(ref)].tobytes(), (ours, ref)


def test_the_op_codes_agree_with_the_program() -> None:
    assert (kernel.IMPUTE, kernel.CLIP, kernel.LOG1P, kernel.SUBDIV, kernel.MULADD, kernel.BIN, kernel.EQ) == \
        (Op.IMPUTE, Op.CLIP, Op.LOG1P, Op.SUBDIV, Op.MULADD, Op.BIN, Op.EQ)


def test_impute_replaces_nan_only() -> None:
    _same(_run((Step(Op.IMPUTE, 7.25),), SPECIAL), np.where(np.isnan(SPECIAL), 7.25, SPECIAL))


@pytest.mark.parametrize("lo,hi", [(-1.0, 2.0), (0.0, INF), (-INF, 0.0), (2.0, 2.0)])
def test_clip_matches_np_clip_and_keeps_nan(lo: float, hi: float) -> None:
    _same(_run((Step(Op.CLIP, lo, hi),), SPECIAL), np.clip(SPECIAL, lo, hi))


def test_log1p_matches_numpy() -> None:
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = np.log1p(SPECIAL)
    _same(_run((Step(Op.LOG1P),), SPECIAL), ref)
    values = np.random.default_rng(0).lognormal(10, 3, 5000)
    _same(_run((Step(Op.LOG1P),), values), np.log1p(values))


def test_subdiv_is_subtract_then_divide() -> None:
    values = np.random.default_rng(1).normal(3, 100, 5000)
    a, b = 1.0 / 3.0, 7.1
    _same(_run((Step(Op.SUBDIV, a, b),), values), (values - a) / b)  # not (v - a) * (1 / b)
    with np.errstate(invalid="ignore", over="ignore"):
        _same(_run((Step(Op.SUBDIV, a, b),), SPECIAL), (SPECIAL - a) / b)


def test_muladd_rounds_twice_like_numpy_never_fused() -> None:
    """v * a + b in two roundings, as MinMaxScaler computes it; a fused multiply-add would give 2**-60 here."""
    a = 1.0 + 2.0 ** -30
    b = -(1.0 + 2.0 ** -29)
    assert np.float64(a) * np.float64(a) + np.float64(b) == 0.0
    _same(_run((Step(Op.MULADD, a, b),), np.array([a])), np.array([0.0]))
    values = np.random.default_rng(2).normal(0, 1e3, 5000)
    _same(_run((Step(Op.MULADD, 0.013, -4.2),), values), values * 0.013 + -4.2)


def test_bin_is_searchsorted_right_and_keeps_nan() -> None:
    edges = np.array([-1.0, 0.0, 0.0, 2.0, 1e300])
    values = np.concatenate([SPECIAL, edges, np.nextafter(edges, -INF), np.nextafter(edges, INF)])
    ref = np.where(np.isnan(values), NAN, np.searchsorted(edges, values, side="right"))
    _same(_run((Step(Op.BIN, table=tuple(edges)),), values), ref)
    _same(_run((Step(Op.BIN, table=()),), np.array([NAN, -1.0, 5.0])), np.array([NAN, 0.0, 0.0]))


def test_large_bin_tables_use_the_same_rule() -> None:
    """Tables beyond kernel.LINEAR_BIN_MAX edges take the binary search; both paths are searchsorted(right)."""
    rng = np.random.default_rng(4)
    for size in (kernel.LINEAR_BIN_MAX - 1, kernel.LINEAR_BIN_MAX, kernel.LINEAR_BIN_MAX + 1, 200):
        edges = np.sort(np.round(rng.normal(size=size), 1))  # with duplicates
        values = np.concatenate([SPECIAL, edges, rng.normal(size=500)])
        ref = np.where(np.isnan(values), NAN, np.searchsorted(edges, values, side="right"))
        _same(_run((Step(Op.BIN, table=tuple(edges)),), values), ref)


@pytest.mark.parametrize("rows", [1, 2, kernel.BLOCK - 1, kernel.BLOCK, kernel.BLOCK + 1, 3 * kernel.BLOCK + 5])
def test_a_row_does_not_depend_on_its_batch(rows: int) -> None:
    """Blocks of rows are an implementation detail: every row equals the row computed alone."""
    program = FeatureProgram(3, (
        Lane(0, (Step(Op.IMPUTE, 0.5), Step(Op.LOG1P), Step(Op.SUBDIV, 0.1, 3.0)), "a"),
        Lane(1, (Step(Op.CLIP, -1.0, 1.0), Step(Op.MULADD, 2.0, 0.5)), "b"),
        Lane(2, (Step(Op.BIN, table=(-1.0, 0.0, 1.0)), Step(Op.EQ, 2.0)), "c"),
        Lane(2, (Step(Op.EQ, NAN),), "c missing"),
    ))
    rng = np.random.default_rng(rows)
    x = rng.normal(size=(rows, 3)) * 3
    x[rng.random(x.shape) < 0.2] = NAN
    batch = program.transform(x)
    alone = np.vstack([program.transform(x[i:i + 1]) for i in range(rows)])
    assert batch.tobytes() == alone.tobytes()


def test_eq_tests_equality_and_nan_equals_nan() -> None:
    _same(_run((Step(Op.EQ, 1.0),), SPECIAL), (SPECIAL == 1.0).astype(float))
    _same(_run((Step(Op.EQ, 0.0),), np.array([0.0, -0.0, NAN])), np.array([1.0, 1.0, 0.0]))
    _same(_run((Step(Op.EQ, NAN),), SPECIAL), np.isnan(SPECIAL).astype(float))


def test_lanes_read_their_own_source_and_steps_run_in_order() -> None:
    program = FeatureProgram(2, (
        Lane(1, (Step(Op.IMPUTE, 1.0), Step(Op.SUBDIV, 1.0, 2.0)), "b"),
        Lane(0, (Step(Op.SUBDIV, 1.0, 2.0), Step(Op.IMPUTE, 1.0)), "a"),
        Lane(1, (), "b raw"),
    ))
    x = np.array([[NAN, NAN], [3.0, 5.0]])
    np.testing.assert_array_equal(program.transform(x), np.array([[0.0, 1.0, NAN], [2.0, 1.0, 5.0]], np.float32))


def test_float32_overflow_and_underflow_round_like_numpy() -> None:
    values = np.array([1e300, -1e300, 3.5e38, 1e-46, -1e-46, 1.5e-45])
    _same(_run((), values), values)


steps = st.one_of(
    st.builds(lambda a: Step(Op.IMPUTE, a), st.floats(-1e6, 1e6)),
    st.builds(lambda a, b: Step(Op.CLIP, min(a, b), max(a, b)), st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)),
    st.just(Step(Op.LOG1P)),
    st.builds(lambda a, b: Step(Op.SUBDIV, a, b), st.floats(-1e3, 1e3), st.floats(1e-3, 1e3)),
    st.builds(lambda a, b: Step(Op.MULADD, a, b), st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)),
    st.builds(lambda t: Step(Op.BIN, table=tuple(sorted(t))), st.lists(st.floats(-1e3, 1e3), max_size=6)),
    st.builds(lambda a: Step(Op.EQ, a), st.sampled_from([0.0, 1.0, 2.0, NAN])),
)


def _numpy_step(s: Step, v: np.ndarray) -> np.ndarray:
    if s.op is Op.IMPUTE:
        return np.where(np.isnan(v), s.a, v)
    if s.op is Op.CLIP:
        return np.clip(v, s.a, s.b)
    if s.op is Op.LOG1P:
        return np.log1p(v)
    if s.op is Op.SUBDIV:
        return (v - s.a) / s.b
    if s.op is Op.MULADD:
        return v * s.a + s.b
    if s.op is Op.BIN:
        return np.where(np.isnan(v), NAN, np.searchsorted(np.array(s.table), v, side="right"))
    return ((v == s.a) | (np.isnan(v) & np.isnan(s.a))).astype(np.float64)


@settings(max_examples=150, deadline=None)
@given(st.lists(steps, max_size=5), arrays(np.float64, 16, elements=st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(list(SPECIAL)))))
def test_property_any_chain_of_steps_equals_the_numpy_composition(chain: list[Step], values: np.ndarray) -> None:
    ref = values.copy()
    with np.errstate(all="ignore"):
        for s in chain:
            ref = _numpy_step(s, ref)
    _same(_run(tuple(chain), values), ref)
