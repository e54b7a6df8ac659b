"""Discrimination and calibration metrics for binary scores (used at compile time and on outcomes)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def binary_metrics(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """AUC, Gini, KS and Brier score; empty when only one class is present (AUC is undefined then)."""
    y = np.asarray(y).astype(np.int64)
    # float32 model outputs can exceed 1 by an ulp; probabilities are clipped before scoring
    score = np.clip(np.asarray(score, dtype=np.float64), 0.0, 1.0)
    if y.size == 0 or np.unique(y).size < 2:
        return {}
    auc = float(roc_auc_score(y, score))
    fpr, tpr, _ = roc_curve(y, score)
    return {
        "auc": round(auc, 12),
        "gini": round(2.0 * auc - 1.0, 12),
        "ks": round(float(np.max(tpr - fpr)), 12),
        "brier": round(float(np.mean((score - y) ** 2)), 12),
        "bad_rate": round(float(y.mean()), 12),
        "rows": int(y.size),
    }
