"""compiler/transforms/validate.py: the Numba batch validator. Problems are per row, first bad column named,
messages name the feature and what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.bundle import read_bundle
from compiler.demo.data import FEATURES
from compiler.schema import FeatureSpec, Schema
from compiler.transforms.validate import (
    ABOVE,
    BELOW,
    NAN,
    NOT_FINITE,
    OK,
    REASONS,
    UNKNOWN_CATEGORY,
    Problem,
    Validator,
)

INF, NAN_V = float("inf"), float("nan")
NAMES = list(FEATURES)


def col(name: str) -> int:
    return NAMES.index(name)


@pytest.fixture(scope="module")
def validator(demo_bundle) -> Validator:
    return Validator(read_bundle(demo_bundle).schema)


@pytest.fixture
def good(credit) -> np.ndarray:
    return credit[NAMES].to_numpy(dtype=np.float64)[:50].copy()


def test_good_rows_pass(validator: Validator, credit) -> None:
    x = credit[NAMES].to_numpy(dtype=np.float64)
    code, where, bad = validator.check(x)
    assert bad == 0 and not code.any() and (where == -1).all()
    assert validator.first_problem(x) is None


@pytest.mark.parametrize("feature,value,expected_code", [
    ("age", NAN_V, NAN),  # binned without an imputer: NaN not allowed
    ("product_code", NAN_V, NAN),  # a strict categorical input
    ("income", INF, NOT_FINITE),
    ("income", -INF, NOT_FINITE),
    ("utilisation", INF, NOT_FINITE),
    ("age", 17.999, BELOW),
    ("loan_amount", -0.01, BELOW),
    ("age", 120.001, ABOVE),
    ("income", 1e300, ABOVE),
    ("product_code", 9.0, UNKNOWN_CATEGORY),
    ("product_code", 2.5, UNKNOWN_CATEGORY),
    ("product_code", INF, NOT_FINITE),  # infinity is named as such, whatever the feature
    ("product_code", 0.0, UNKNOWN_CATEGORY),
], ids=lambda v: str(v))
def test_each_problem_is_found_in_its_row_alone(validator: Validator, good: np.ndarray, feature: str,
                                                value: float, expected_code: int) -> None:
    x = good.copy()
    x[7, col(feature)] = value
    code, where, bad = validator.check(x)
    assert bad == 1
    assert code[7] == expected_code and where[7] == col(feature)
    assert np.count_nonzero(code) == 1  # the neighbours are untouched
    p = validator.first_problem(x)
    assert (p.row, p.feature) == (7, feature)
    assert p.reason == REASONS[expected_code]


@pytest.mark.parametrize("feature,value", [
    ("age", 18.0), ("age", 120.0), ("income", 0.0), ("months_since_delinquency", NAN_V),
    ("months_since_delinquency", 0.0), ("product_code", 5.0), ("product_code", 1.0), ("utilisation", 10.0),
])
def test_boundaries_and_allowed_nan_pass(validator: Validator, good: np.ndarray, feature: str, value: float) -> None:
    x = good.copy()
    x[3, col(feature)] = value
    assert validator.check(x)[2] == 0


def test_many_bad_rows_each_reported_with_its_first_bad_column(validator: Validator, good: np.ndarray) -> None:
    x = good[:8].copy()
    x[1, col("age")] = NAN_V
    x[2, col("income")] = INF
    x[3, col("age")] = 12
    x[4, col("utilisation")] = 11
    x[5, col("product_code")] = 9
    x[6, col("tenure_months")] = -1
    x[6, col("income")] = -5  # earlier column: reported first
    code, where, bad = validator.check(x)
    assert bad == 6
    assert code.tolist() == [OK, NAN, NOT_FINITE, BELOW, ABOVE, UNKNOWN_CATEGORY, BELOW, OK]
    assert [NAMES[c] if c >= 0 else None for c in where] == [
        None, "age", "income", "age", "utilisation", "product_code", "income", None]
    assert code.dtype == np.int8 and where.dtype == np.int32


def test_messages_name_the_feature_and_what_is_expected(validator: Validator, good: np.ndarray) -> None:
    x = good[:6].copy()
    x[1, col("age")] = 12
    x[2, col("product_code")] = 9
    x[3, col("age")] = NAN_V
    x[4, col("income")] = INF
    x[5, col("utilisation")] = 10.5
    code, where, _ = validator.check(x)
    msgs = [validator.problem(x, r, int(code[r]), int(where[r])).message() for r in range(1, 6)]
    assert msgs == [
        "row 1: feature 'age' = 12.0 is below the allowed minimum (expected 18 <= value <= 120)",
        "row 2: feature 'product_code' = 9.0 is not one of the known category codes (expected one of 1, 2, 3, 4, 5)",
        "row 3: feature 'age' = nan is NaN, which this feature does not allow (expected a number)",
        "row 4: feature 'income' = inf is infinite; expected a finite number (expected 0 <= value <= 1e+08)",
        "row 5: feature 'utilisation' = 10.5 is above the allowed maximum (expected 0 <= value <= 10)",
    ]
    assert all("\n" not in m for m in msgs)


def test_problem_dataclass_message() -> None:
    p = Problem(3, "x", 1.5, REASONS[ABOVE], "expected 0 <= value <= 1")
    assert p.message() == "row 3: feature 'x' = 1.5 is above the allowed maximum (expected 0 <= value <= 1)"


def _schema(*features: FeatureSpec) -> Schema:
    return Schema(features=features, threshold=0.5, classes=("0", "1"))


def test_nan_as_a_known_category_is_allowed_only_when_nan_is_allowed() -> None:
    cats = (1.0, 2.0, NAN_V)
    v = Validator(_schema(FeatureSpec("c", "categorical", -INF, INF, True, categories=cats),
                          FeatureSpec("d", "categorical", -INF, INF, True, categories=(1.0, 2.0)),
                          FeatureSpec("e", "categorical", -INF, INF, False, categories=cats)))
    code, where, _ = v.check(np.array([[NAN_V, 1.0, 1.0], [2.0, NAN_V, 2.0], [1.0, 2.0, NAN_V], [3.0, 1.0, 1.0]]))
    assert code.tolist() == [OK, UNKNOWN_CATEGORY, NAN, UNKNOWN_CATEGORY]
    assert where.tolist() == [-1, 1, 2, 0]


def test_numeric_features_with_categories_are_not_category_checked() -> None:
    """handle_unknown='ignore' encoders record categories for drift, but any number is a valid input."""
    v = Validator(_schema(FeatureSpec("c", "numeric", -INF, INF, False, categories=(1.0, 2.0))))
    assert v.check(np.array([[7.0], [1.0]]))[2] == 0


def test_empty_batch() -> None:
    v = Validator(_schema(FeatureSpec("x", "numeric", 0.0, 1.0, False)))
    code, where, bad = v.check(np.empty((0, 1)))
    assert bad == 0 and code.shape == (0,) and where.shape == (0,)


def test_infinity_is_refused_even_without_bounds() -> None:
    """A feature with no constraint has bounds -inf..inf; an infinite value still cannot be scored."""
    v = Validator(_schema(FeatureSpec("x", "numeric", -INF, INF, True)))
    code, where, bad = v.check(np.array([[INF], [-INF], [1e308], [NAN_V]]))
    assert code.tolist() == [NOT_FINITE, NOT_FINITE, OK, OK] and bad == 2
    assert "is infinite; expected a finite number" in v.first_problem(np.array([[INF]])).message()
