"""compiler/verify.py: the parity report's numbers and verdict."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.errors import ParityError, PreconditionFailed
from compiler.verify import parity, require


def test_numbers() -> None:
    src = np.array([0.1, 0.4, 0.6, 0.9])
    r = parity(src, src + np.array([0.0, 2e-6, -4e-6, 0.0]), 0.0, 1e-5, 0.5, "note")
    assert r.passed and r.rows == 4
    assert r.max_abs_diff == pytest.approx(4e-6) and r.mean_abs_diff == pytest.approx(1.5e-6)
    assert r.decision_agreement == 1.0 and r.note == "note"
    require(r)  # no exception


def test_over_tolerance_fails_and_require_raises_with_the_numbers() -> None:
    src = np.array([0.1, 0.49, 0.8, 0.3])
    r = parity(src, np.array([0.1, 0.51, 0.8, 0.3]), 1e-7, 1e-5, 0.5)
    assert not r.passed and r.max_abs_diff == pytest.approx(0.02) and r.decision_agreement == 0.75
    with pytest.raises(ParityError) as err:
        require(r)
    assert isinstance(err.value, PreconditionFailed)
    assert str(err.value) == ("parity FAILED: 4 rows, max |diff| 0.02 (tolerance 1e-05), decision agreement "
                              "75.0000% at threshold 0.5, feature program max |diff| 1e-07; no bundle written")


def test_exactly_at_tolerance_passes_and_threshold_ties_are_positive() -> None:
    assert parity(np.array([0.5]), np.array([0.5 + 1e-5]), 0.0, 1e-5 + 1e-16, 0.5).passed
    r = parity(np.array([0.5, 0.2]), np.array([0.5, 0.2]), 0.0, 1e-5, 0.5)  # score >= threshold on both sides
    assert r.decision_agreement == 1.0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_compiled_scores_fail(bad: float) -> None:
    r = parity(np.array([0.2, 0.3]), np.array([0.2, bad]), 0.0, 1e-5, 0.5)
    assert not r.passed and r.max_abs_diff == np.inf and r.mean_abs_diff == np.inf
    with pytest.raises(ParityError, match="max |diff| inf"):
        require(r)


def test_to_dict_is_json_ready() -> None:
    r = parity(np.array([0.123456789]), np.array([0.123456]), 0.0, 1e-5, 0.5)
    d = r.to_dict()
    assert d["max_abs_diff"] == float(f"{r.max_abs_diff:.6g}")
    assert set(d) == {"rows", "max_abs_diff", "mean_abs_diff", "tolerance", "threshold", "decision_agreement",
                      "program_max_abs_diff", "passed", "note"}
    assert all(isinstance(v, (int, float, str, bool)) for v in d.values())
