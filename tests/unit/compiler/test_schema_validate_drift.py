"""Schema derivation (NaN policy, categories), batch validation, and the drift reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from compiler.build import CompileOptions, compile_model
from compiler.bundle import read_bundle
from compiler.demo.data import FEATURES, LABEL
from compiler.demo.model import CONSTRAINTS
from compiler.drift import bin_index, reference_for
from compiler.transforms.validate import ABOVE, BELOW, NAN, NOT_FINITE, OK, UNKNOWN_CATEGORY, Validator


@pytest.fixture(scope="module")
def demo_bundle(tmp_path_factory, demo_model, credit):
    out = tmp_path_factory.mktemp("b") / "demo"
    compile_model(demo_model, credit, out, CompileOptions(label=LABEL, constraints=CONSTRAINTS))
    return read_bundle(out)


def test_demo_schema_policy(demo_bundle) -> None:
    spec = {f.name: f for f in demo_bundle.schema.features}
    assert spec["product_code"].kind == "categorical" and spec["product_code"].categories == (1, 2, 3, 4, 5)
    assert not spec["product_code"].nan_allowed
    assert spec["months_since_delinquency"].nan_allowed  # imputed in the pipeline
    assert not spec["age"].nan_allowed  # binned without an imputer
    assert (spec["age"].min, spec["age"].max) == (18.0, 120.0)


def test_nan_native_passthrough_allows_nan(credit, tmp_path: Path) -> None:
    data = credit[list(FEATURES)]
    model = HistGradientBoostingClassifier(max_iter=10).fit(data, credit[LABEL])
    compile_model(model, data, tmp_path / "b")
    assert all(f.nan_allowed for f in read_bundle(tmp_path / "b").schema.features)


def test_validator_flags_each_bad_row_alone(demo_bundle, credit) -> None:
    v = Validator(demo_bundle.schema)
    x = credit[list(FEATURES)].to_numpy()[:7].copy()
    names = list(FEATURES)
    x[1, names.index("age")] = np.nan
    x[2, names.index("income")] = np.inf
    x[3, names.index("age")] = 12
    x[4, names.index("utilisation")] = 11
    x[5, names.index("product_code")] = 9
    code, col, bad = v.check(x)
    assert bad == 5
    assert list(code) == [OK, NAN, NOT_FINITE, BELOW, ABOVE, UNKNOWN_CATEGORY, OK]
    assert [names[c] for c in col[1:6]] == ["age", "income", "age", "utilisation", "product_code"]
    msg = v.problem(x, 3, int(code[3]), int(col[3])).message()
    assert "feature 'age' = 12.0 is below the allowed minimum (expected 18 <= value <= 120)" in msg
    msg = v.problem(x, 5, int(code[5]), int(col[5])).message()
    assert "not one of the known category codes (expected one of 1, 2, 3, 4, 5)" in msg
    assert v.first_problem(x[[0, 6]]) is None


def test_drift_reference_bins(demo_bundle, credit) -> None:
    ref = {r.name: r for r in demo_bundle.drift.features}
    for r in demo_bundle.drift.features:
        assert sum(r.expected) == pytest.approx(1.0)
        assert list(r.edges) == sorted(r.edges)
    col = credit["months_since_delinquency"].to_numpy()
    assert ref["months_since_delinquency"].nan_share == pytest.approx(np.isnan(col).mean())
    assert len(ref["product_code"].expected) == 5  # one bin per category
    income = credit["income"].to_numpy()
    counts = np.bincount(bin_index(income, np.array(ref["income"].edges)), minlength=len(ref["income"].edges) + 2)
    np.testing.assert_allclose(counts[:-1] / income.size, ref["income"].expected)
    assert demo_bundle.drift.score.count == len(credit)


def test_reference_for_handles_all_nan_and_ties() -> None:
    r = reference_for("x", np.array([np.nan, np.nan]), 10)
    assert r.edges == () and r.nan_share == 1.0
    r = reference_for("y", np.array([1.0] * 50 + [2.0] * 50), 10)
    assert len(r.edges) == len(set(r.edges)) and sum(r.expected) == pytest.approx(1.0)
