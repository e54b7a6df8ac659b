"""Shared fixtures for the compiler tests: small data, small fitted models, and helper functions.

pytest runs with --import-mode=importlib, so test modules cannot import each other or this file; helpers are
handed out as fixtures instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest

from compiler.demo.data import LABEL, generate


@pytest.fixture(scope="session")
def credit() -> pd.DataFrame:
    """1,500 demo applicants (features + label); months_since_delinquency holds NaNs."""
    return generate(1500, seed=5)


@pytest.fixture(scope="session")
def demo_model():
    """The demo pipeline, fitted on 3,000 rows (the real demo uses 20,000)."""
    from compiler.demo.model import train

    return train(rows=3000)


@pytest.fixture(scope="session")
def demo_bundle(tmp_path_factory, demo_model, credit) -> Path:
    """The demo model compiled once per session with its constraints; tests that alter it work on a copy."""
    from compiler.build import CompileOptions, compile_model
    from compiler.demo.model import CONSTRAINTS

    out = tmp_path_factory.mktemp("demo-bundle") / "demo"
    compile_model(demo_model, credit, out, CompileOptions(label=LABEL, constraints=CONSTRAINTS))
    return out


def make_numeric_frame(rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.lognormal(size=rows), "c": rng.integers(0, 4, rows) * 1.0,
                      "d": rng.uniform(-5, 5, rows)})
    y = (x["a"] + 0.3 * x["d"] + rng.normal(size=rows) > 0).astype(int).to_numpy()
    return x, y


@pytest.fixture(scope="session")
def numeric_frame() -> Callable[..., tuple[pd.DataFrame, np.ndarray]]:
    """A factory: (frame with columns a, b (positive), c (codes 0..3), d; binary labels)."""
    return make_numeric_frame


def _served_scores(path: Path, x: np.ndarray) -> np.ndarray:
    from compiler.bundle import read_bundle
    from compiler.onnx_session import open_session, predict_scores

    b = read_bundle(path)
    return predict_scores(open_session(b.onnx_bytes), b.program.transform(x), b.schema.onnx_input,
                          b.schema.onnx_output, b.schema.positive_index)


@pytest.fixture(scope="session")
def served_scores() -> Callable[[Path, np.ndarray], np.ndarray]:
    """Scores as the gateway computes them: read (and verify) the bundle, run the program, run ONNX Runtime."""
    return _served_scores


def _assert_nothing_written(out: Path, before: list[str] | None = None) -> None:
    """`out` is absent (or holds exactly `before`), and no temporary `.<name>.*` sibling was left behind."""
    if before is None:
        assert not out.exists(), f"{out} was created"
    else:
        assert sorted(p.name for p in out.iterdir()) == sorted(before)
    assert not list(out.parent.glob(f".{out.name}.*")), "a temporary directory was left behind"


@pytest.fixture(scope="session")
def nothing_written() -> Callable[..., None]:
    return _assert_nothing_written


def _program_equals_sklearn(pre: Any, x: pd.DataFrame, fit_x: pd.DataFrame | None = None) -> np.ndarray:
    """Fit `pre` (a transformer or Pipeline), lower it, and check program == sklearn transform cast to float32:
    NaN in the same cells, every other cell within 1 ulp. Returns the program's output."""
    from compiler.transforms.lower import lower

    with np.errstate(over="ignore", invalid="ignore"):  # extremes in the fitted data overflow sklearn's variance
        pre.fit(fit_x if fit_x is not None else x)
    steps = pre.steps if hasattr(pre, "steps") else [("step", pre)]
    program = lower(steps, [str(c) for c in x.columns]).program
    ours = program.transform(x.to_numpy(dtype=np.float64))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ref = pre.transform(x)
        ref = np.asarray(ref.toarray() if hasattr(ref, "toarray") else ref, dtype=np.float64).astype(np.float32)
    assert ours.dtype == np.float32 and ours.shape == ref.shape, (ours.shape, ref.shape)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref), err_msg="NaN positions differ")
    # infinities must match exactly (same sign); finite cells within 1 ulp
    np.testing.assert_array_equal(np.isinf(ours) & (ours > 0), np.isinf(ref) & (ref > 0))
    np.testing.assert_array_equal(np.isinf(ours) & (ours < 0), np.isinf(ref) & (ref < 0))
    finite = np.isfinite(ref)
    np.testing.assert_array_max_ulp(ours[finite], ref[finite], maxulp=1)
    return ours


@pytest.fixture(scope="session")
def program_equals_sklearn() -> Callable[..., np.ndarray]:
    return _program_equals_sklearn
