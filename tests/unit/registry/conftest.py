"""Synthetic bundles for registry tests: real files written by compiler.bundle, fake ONNX bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from compiler.bundle import content_files, write_bundle
from compiler.drift import BinnedReference, DriftReference
from compiler.schema import FeatureSpec, Schema
from compiler.transforms.program import FeatureProgram, Lane, Op, Step
from registry.service import Registry

INF = float("inf")


def build_bundle(out_dir: Path, seed: int = 0, parity_passed: bool = True) -> Path:
    """A two-feature bundle whose digest depends on `seed` (it changes the standardise step and metrics)."""
    program = FeatureProgram(2, (
        Lane(0, (Step(Op.IMPUTE, a=0.0), Step(Op.SUBDIV, a=float(seed), b=2.0)), "income"),
        Lane(1, (Step(Op.CLIP, a=0.0, b=100.0),), "age"),
    ))
    schema = Schema(
        features=(FeatureSpec("income", "numeric", -INF, INF, True), FeatureSpec("age", "numeric", 0.0, 120.0, False)),
        threshold=0.5, classes=("good", "bad"))
    ref = BinnedReference("income", (1.0, 2.0), (0.3, 0.4, 0.3), 0.0, 100)
    drift = DriftReference((ref, BinnedReference("age", (30.0,), (0.5, 0.5), 0.0, 100)),
                           BinnedReference("score", (0.5,), (0.5, 0.5), 0.0, 100))
    files = content_files(f"fake-onnx-{seed}".encode(), program, schema, drift)
    manifest = {
        "sample": {"digest": f"{seed:064x}", "rows": 100, "columns": ["income", "age"]},
        "metrics": {"auc": 0.7 + seed / 1e6},
        "parity": {"passed": parity_passed, "max_abs_diff": 1e-7, "tolerance": 1e-5, "decision_agreement": 1.0,
                   "threshold": 0.5, "rows": 100},
        "source": {"family": "sklearn", "estimator": "LogisticRegression", "libraries": {"scikit-learn": "1.6"}},
    }
    write_bundle(out_dir, files, manifest)
    return out_dir


@pytest.fixture
def make_bundle(tmp_path: Path) -> Callable[..., Path]:
    def make(seed: int = 0, parity_passed: bool = True) -> Path:
        path = tmp_path / "bundles" / f"b{seed}-{int(parity_passed)}"
        return path if path.exists() else build_bundle(path, seed, parity_passed)
    return make


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    reg = Registry(tmp_path / "home", synchronous="NORMAL")
    yield reg
    reg.close()
