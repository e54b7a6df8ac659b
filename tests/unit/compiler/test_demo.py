"""compiler/demo: the synthetic credit data is deterministic and plausible; the demo model compiles with parity."""

from __future__ import annotations

import numpy as np
import pandas as pd

from compiler.bundle import read_bundle
from compiler.demo.data import FEATURES, LABEL, PRODUCTS, generate
from compiler.demo.model import CONSTRAINTS, pipeline


def test_deterministic_for_a_seed() -> None:
    pd.testing.assert_frame_equal(generate(500, seed=1), generate(500, seed=1))
    assert not generate(500, seed=1).equals(generate(500, seed=2))
    assert generate(300).equals(generate(300))  # the default seed is fixed too


def test_plausible() -> None:
    df = generate(20_000, seed=3)
    assert list(df.columns) == [*FEATURES, LABEL] and len(df) == 20_000
    assert 0.05 < df[LABEL].mean() < 0.25
    assert set(df[LABEL].unique()) == {0, 1}
    assert 0.5 < df["months_since_delinquency"].isna().mean() < 0.9
    assert df.drop(columns="months_since_delinquency").notna().all().all()
    assert set(np.unique(df["product_code"])) == set(map(float, PRODUCTS)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert df["age"].between(18, 95).all() and (df["income"] > 0).all() and (df["loan_amount"] > 0).all()
    assert df["utilisation"].between(0, 1.5).all() and df["debt_to_income"].between(0, 1.2).all()
    assert 30_000 < df["income"].median() < 70_000
    # the label relates to the features the way a risk analyst expects
    for feature, riskier in (("utilisation", True), ("inquiries_6m", True), ("income", False), ("age", False)):
        high = df[feature] > df[feature].median()
        assert (df.loc[high, LABEL].mean() > df.loc[~high, LABEL].mean()) == riskier, feature
    recent = df["months_since_delinquency"] < 12
    assert df.loc[recent, LABEL].mean() > df.loc[df["months_since_delinquency"].isna(), LABEL].mean()


def test_shift_moves_the_population() -> None:
    base, shifted = generate(5000, seed=4), generate(5000, seed=4, shift=1.0)
    assert shifted["utilisation"].mean() > base["utilisation"].mean()
    assert shifted["income"].median() < base["income"].median()
    assert shifted[LABEL].mean() > base[LABEL].mean()


def test_the_demo_model_compiles_with_parity(demo_bundle, demo_model) -> None:
    b = read_bundle(demo_bundle)
    assert b.parity["passed"] is True
    assert b.parity["max_abs_diff"] <= 1e-5 and b.parity["decision_agreement"] == 1.0
    assert b.parity["program_max_abs_diff"] == 0.0
    assert b.manifest["metrics"]["auc"] > 0.65
    assert set(CONSTRAINTS) <= set(FEATURES)
    assert [name for name, _ in pipeline().steps] == ["prep", "model"]
    assert list(demo_model.feature_names_in_) == list(FEATURES)
