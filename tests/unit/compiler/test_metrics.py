"""compiler/metrics.py: AUC, Gini, KS, Brier against sklearn and by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from compiler.metrics import binary_metrics


def test_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    score = np.clip(0.3 * y + rng.random(500) * 0.7, 0, 1)
    m = binary_metrics(y, score)
    assert m["auc"] == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert m["gini"] == pytest.approx(2 * m["auc"] - 1, abs=1e-12)
    assert m["brier"] == pytest.approx(brier_score_loss(y, score), abs=1e-12)
    assert m["bad_rate"] == pytest.approx(y.mean()) and m["rows"] == 500
    assert 0 < m["ks"] <= 1


def test_hand_computed_case() -> None:
    m = binary_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]))
    assert m["auc"] == 0.75 and m["gini"] == 0.5 and m["ks"] == 0.5
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)


def test_scores_an_ulp_above_one_are_clipped() -> None:
    m = binary_metrics(np.array([0, 1]), np.array([0.0, np.float32(1.0000001)]))
    assert m["brier"] == 0.0


def test_one_class_or_no_rows_gives_no_metrics() -> None:
    assert binary_metrics(np.array([1, 1, 1]), np.array([0.2, 0.5, 0.9])) == {}
    assert binary_metrics(np.array([]), np.array([])) == {}
