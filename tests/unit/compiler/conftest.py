"""Shared fixtures: small fitted models and their samples (kept small so the suite stays fast)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from compiler.demo.data import FEATURES, LABEL, generate


@pytest.fixture(scope="session")
def credit() -> pd.DataFrame:
    return generate(1500, seed=5)


@pytest.fixture(scope="session")
def xy(credit: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return credit[list(FEATURES)], credit[LABEL]


@pytest.fixture(scope="session")
def demo_model():
    from compiler.demo.model import train

    return train(rows=3000)


def make_numeric_frame(rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.lognormal(size=rows), "c": rng.integers(0, 4, rows) * 1.0,
                      "d": rng.uniform(-5, 5, rows)})
    y = (x["a"] + 0.3 * x["d"] + rng.normal(size=rows) > 0).astype(int).to_numpy()
    return x, y


@pytest.fixture(scope="session")
def numeric_frame():
    """A factory: (frame with columns a, b, c (codes 0..3), d; binary labels)."""
    return make_numeric_frame
