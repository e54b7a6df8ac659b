"""compiler/transforms/program.py: the feature program as data (serialisation, NaN outcome, flattening, transform)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from compiler.digest import pretty_json
from compiler.errors import BundleError
from compiler.transforms.program import FeatureProgram, Lane, Op, ProgramArrays, Step

INF = float("inf")

PROGRAM = FeatureProgram(3, (
    Lane(0, (Step(Op.IMPUTE, 2.5), Step(Op.LOG1P), Step(Op.SUBDIV, 1.0, 0.5)), "income"),
    Lane(1, (Step(Op.CLIP, -INF, 10.0), Step(Op.MULADD, 0.1, -0.5)), "ratio"),
    Lane(1, (Step(Op.BIN, table=(0.0, 1.0, 5.0)), Step(Op.EQ, 2.0)), "ratio_bin2"),
    Lane(2, (Step(Op.EQ, float("nan")),), "missing_code"),
    Lane(2, (), "code"),
))


def test_round_trip_through_strict_json() -> None:
    raw = pretty_json(PROGRAM.to_dict())  # allow_nan=False: NaN / inf must travel as strings
    back = FeatureProgram.from_dict(json.loads(raw))
    assert back.n_inputs == 3 and back.width == 5
    assert [ln.label for ln in back.lanes] == ["income", "ratio", "ratio_bin2", "missing_code", "code"]
    assert back.lanes[:3] == PROGRAM.lanes[:3]
    assert np.isnan(back.lanes[3].steps[0].a)
    assert back.lanes[1].steps[0].a == -INF
    x = np.array([[np.nan, 3.0, np.nan], [0.5, 20.0, 1.0], [1.0, -INF, 7.0]])
    np.testing.assert_array_equal(back.transform(x), PROGRAM.transform(x))


def test_serialised_steps_carry_only_their_parameters() -> None:
    d = PROGRAM.to_dict()
    steps = d["lanes"][0]["steps"]
    assert steps == [{"op": "impute", "a": 2.5}, {"op": "log1p"}, {"op": "subdiv", "a": 1.0, "b": 0.5}]
    assert d["lanes"][2]["steps"][0] == {"op": "bin", "table": [0.0, 1.0, 5.0]}
    assert d["lanes"][3]["steps"][0] == {"op": "eq", "a": "nan"}
    assert d["lanes"][1]["steps"][0] == {"op": "clip", "a": "-inf", "b": 10.0}


@pytest.mark.parametrize("bad,match", [
    ({"format": 1, "n_inputs": 1, "lanes": [{"source": 0, "label": "x", "steps": [{"op": "sqrt"}]}]},
     "unknown step 'sqrt'"),
    ({"format": 1, "n_inputs": 1, "lanes": [{"source": 1, "label": "x", "steps": []}]},
     "a lane reads a column outside the input width"),
    ({"format": 1, "n_inputs": 1, "lanes": [{"source": -1, "label": "x", "steps": []}]},
     "a lane reads a column outside the input width"),
    ({"format": 1, "lanes": []}, "malformed feature program"),
    ({"format": 1, "n_inputs": 1, "lanes": [{"label": "x", "steps": []}]}, "malformed feature program"),
    ({"format": 1, "n_inputs": "two", "lanes": []}, "malformed feature program"),
    ({"format": 1, "n_inputs": 1, "lanes": [{"source": 0, "label": "age", "steps": [{"op": "bin", "table": [2, 1]}]}]},
     "lane 'age' has bin edges that are not sorted numbers"),
    ({"format": 1, "n_inputs": 1, "lanes": [{"source": 0, "label": "x", "steps": [{"op": "bin", "table": ["nan"]}]}]},
     "lane 'x' has bin edges that are not sorted numbers"),
], ids=["unknown-op", "source-too-high", "source-negative", "no-n-inputs", "no-source", "bad-n-inputs", "unsorted-bins",
        "nan-bin"])
def test_malformed_programs_are_bundle_errors(bad: dict, match: str) -> None:
    with pytest.raises(BundleError, match=match):
        FeatureProgram.from_dict(bad)


@pytest.mark.parametrize("steps,outcome", [
    ((), "nan"),
    ((Step(Op.SUBDIV, 0.0, 1.0), Step(Op.CLIP, 0.0, 1.0), Step(Op.LOG1P), Step(Op.MULADD, 1.0, 0.0)), "nan"),
    ((Step(Op.IMPUTE, 0.0), Step(Op.BIN, table=(1.0,))), "finite"),
    ((Step(Op.CLIP, 0.0, 1.0), Step(Op.IMPUTE, 0.0)), "finite"),
    ((Step(Op.EQ, 1.0),), "finite"),
    ((Step(Op.BIN, table=(1.0,)), Step(Op.EQ, 0.0)), "error"),  # KBinsDiscretizer refuses NaN
    ((Step(Op.LOG1P), Step(Op.BIN, table=(1.0,))), "error"),
])
def test_nan_outcome(steps: tuple, outcome: str) -> None:
    assert Lane(0, steps, "x").nan_outcome() == outcome


def test_arrays_flatten_the_program_in_lane_order() -> None:
    a = PROGRAM.arrays
    assert isinstance(a, ProgramArrays)
    assert a.lane_source.tolist() == [0, 1, 1, 2, 2]
    assert a.lane_len.tolist() == [3, 2, 2, 1, 0]
    assert a.lane_start.tolist() == [0, 3, 5, 7, 8]
    assert a.op_code.tolist() == [1, 3, 4, 2, 5, 6, 7, 7]
    assert a.table.tolist() == [0.0, 1.0, 5.0]
    assert a.op_off[5] == 0 and a.op_cnt[5] == 3 and a.op_cnt.sum() == 3
    for arr in (a.lane_source, a.lane_start, a.lane_len, a.op_code, a.op_off, a.op_cnt):
        assert arr.dtype == np.int64
    for arr in (a.op_a, a.op_b, a.table):
        assert arr.dtype == np.float64


def test_transform_checks_the_shape_and_converts_the_input() -> None:
    with pytest.raises(ValueError, match=r"expected a \(rows, 3\) matrix, got shape \(2, 4\)"):
        PROGRAM.transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"expected a \(rows, 3\) matrix"):
        PROGRAM.transform(np.zeros(3))
    x = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32)
    expected = PROGRAM.transform(x.astype(np.float64))
    np.testing.assert_array_equal(PROGRAM.transform(x), expected)
    np.testing.assert_array_equal(PROGRAM.transform(np.asfortranarray(x.astype(np.float64))), expected)
    wide = np.zeros((2, 6))
    wide[:, ::2] = x
    np.testing.assert_array_equal(PROGRAM.transform(wide[:, ::2]), expected)  # a strided view
    assert PROGRAM.transform(np.empty((0, 3))).shape == (0, 5)


def test_transform_writes_into_a_given_buffer() -> None:
    x = np.array([[np.nan, 3.0, np.nan], [0.5, 20.0, 1.0]])
    out = np.full((2, 5), 99.0, dtype=np.float32)
    assert PROGRAM.transform(x, out=out) is out
    np.testing.assert_array_equal(out, PROGRAM.transform(x))


def test_an_empty_program_passes_nothing_through() -> None:
    p = FeatureProgram(2, ())
    assert p.width == 0 and p.transform(np.ones((3, 2))).shape == (3, 0)
