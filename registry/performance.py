"""Realised performance: discrimination and calibration of the scores that were served, against the truth.

Figures (each on the joined rows of a group: OK decision records with a score and a recorded outcome):
- AUC by ranks (Mann-Whitney, tied scores get their average rank: the same value as scikit-learn's
  trapezoidal `roc_auc_score`), Gini = 2 AUC - 1, KS = max(TPR - FPR) over every distinct threshold (as
  `compiler.metrics.binary_metrics` computes it from `roc_curve`), Brier = mean((score - label)^2).
  Scores are clipped to [0, 1] first, like `binary_metrics` (a float32 score can exceed 1 by an ulp).
  With one class only, AUC, Gini and KS are undefined (None); Brier and bad rate are still given.
- Score bands: deciles of the group's own scores (numpy's default linear quantiles). Band k holds the
  scores in (edge k-1, edge k] and band 1 also its minimum, so tied scores always share a band and bands
  can hold unequal counts; a band emptied by repeated edges (many ties) is left out. Band 1 = lowest scores.
- Groups (`by`): "route" = per version and route (the default), "version" = per version, "vintage" = per
  version and month of the decision (UTC, YYYY-MM).

Pure numpy here: no scikit-learn import on the CLI path; the tests compare every figure with scikit-learn.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np

BY = ("route", "version", "vintage")
BANDS = 10


def _clean(y: Sequence[int] | np.ndarray, s: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.int64)
    s = np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be 1-d of one length, got {y.shape} and {s.shape}")
    return y, s


def roc_points(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) at each distinct threshold, highest first, starting at (0, 0); both classes required."""
    y, s = _clean(y, s)
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    last = np.r_[np.flatnonzero(ss[1:] != ss[:-1]), ss.size - 1]  # the last index of each tie group
    tps = np.cumsum(ys)[last]
    fps = (last + 1) - tps
    p, n = int(ys.sum()), int(ys.size - ys.sum())
    return np.r_[0.0, fps / n], np.r_[0.0, tps / p]


def auc_by_ranks(y: np.ndarray, s: np.ndarray) -> float:
    y, s = _clean(y, s)
    order = np.argsort(s, kind="mergesort")
    ss = s[order]
    first = np.r_[True, ss[1:] != ss[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], ss.size]
    avg = (starts + 1 + ends) / 2.0  # 1-based ranks start+1 .. end, averaged over the tie group
    ranks = np.empty(ss.size)
    ranks[order] = avg[np.cumsum(first) - 1]
    p = int(y.sum())
    n = y.size - p
    return float((ranks[y == 1].sum() - p * (p + 1) / 2.0) / (p * n))


def metrics(y: Sequence[int] | np.ndarray, s: Sequence[float] | np.ndarray) -> dict[str, Any]:
    y, s = _clean(y, s)
    count = int(y.size)
    bads = int(y.sum())
    out: dict[str, Any] = {"count": count, "bads": bads, "bad_rate": bads / count if count else None,
                           "brier": float(np.mean((s - y) ** 2)) if count else None,
                           "auc": None, "gini": None, "ks": None}
    if 0 < bads < count:
        auc = auc_by_ranks(y, s)
        fpr, tpr = roc_points(y, s)
        out.update(auc=auc, gini=2.0 * auc - 1.0, ks=float(np.max(tpr - fpr)))
    return out


def score_bands(y: Sequence[int] | np.ndarray, s: Sequence[float] | np.ndarray, k: int = BANDS) -> list[dict[str, Any]]:
    y, s = _clean(y, s)
    if y.size == 0:
        return []
    edges = np.quantile(s, np.linspace(0.0, 1.0, k + 1))
    band = np.searchsorted(edges[1:-1], s, side="left")
    out = []
    for b in range(k):
        mask = band == b
        n = int(mask.sum())
        if n == 0:
            continue
        bads = int(y[mask].sum())
        out.append({"band": b + 1, "min_score": float(s[mask].min()), "max_score": float(s[mask].max()),
                    "mean_score": float(s[mask].mean()), "count": n, "bads": bads, "bad_rate": bads / n})
    return out


def group_key(by: str, version: int, route: str, time: str) -> tuple[Any, ...]:
    if by == "version":
        return (version, None, None)
    if by == "route":
        return (version, route, None)
    return (version, None, time[:7])


def report(model: str, rows: Iterable[tuple[int, str, str, float, int]], by: str = "route",
           training: Mapping[int, Mapping[str, Any]] | None = None, since: str | None = None) -> dict[str, Any]:
    """Figures per group from joined rows (version, route, decision time, score, label)."""
    if by not in BY:
        raise ValueError(f"by must be one of {BY}, got {by!r}")
    groups: dict[tuple[Any, ...], tuple[list[int], list[float]]] = {}
    total = 0
    for version, route, time, score, label in rows:
        ys, ss = groups.setdefault(group_key(by, version, route, time), ([], []))
        ys.append(label)
        ss.append(score)
        total += 1
    out = []
    for (version, route, vintage), (ys, ss) in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2] or "")):
        t = dict((training or {}).get(version, {}))
        out.append({"version": version, "route": route, "vintage": vintage, **metrics(ys, ss),
                    "training": {k: t.get(k) for k in ("auc", "gini", "ks", "brier", "bad_rate", "rows")},
                    "bands": score_bands(ys, ss)})
    return {"model": model, "by": by, "since": since, "outcomes": total, "groups": out}
