"""The synthetic credit data set is deterministic and plausible; the demo model compiles."""

from __future__ import annotations

import numpy as np
import pandas as pd

from compiler.demo.data import FEATURES, LABEL, generate


def test_deterministic_for_a_seed() -> None:
    pd.testing.assert_frame_equal(generate(500, seed=1), generate(500, seed=1))
    assert not generate(500, seed=1).equals(generate(500, seed=2))


def test_plausible_shapes() -> None:
    df = generate(20_000, seed=3)
    assert list(df.columns) == [*FEATURES, LABEL]
    assert 0.05 < df[LABEL].mean() < 0.25
    assert df["months_since_delinquency"].isna().mean() > 0.5
    assert set(np.unique(df["product_code"])) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert df["age"].between(18, 95).all() and (df["income"] > 0).all()
    # the label relates to the features the way a risk analyst expects
    high_util = df["utilisation"] > df["utilisation"].quantile(0.8)
    assert df.loc[high_util, LABEL].mean() > df.loc[~high_util, LABEL].mean()


def test_shift_moves_the_population() -> None:
    base, shifted = generate(5000, seed=4), generate(5000, seed=4, shift=1.0)
    assert shifted["utilisation"].mean() > base["utilisation"].mean()
    assert shifted["income"].median() < base["income"].median()
