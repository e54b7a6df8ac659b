"""Realised performance: every figure equals scikit-learn's on the same joined data; bands; the degradation rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

from compiler.errors import InvalidInput
from compiler.metrics import binary_metrics
from registry.audit import ledger_entries
from registry.decisions import DecisionLog
from registry.degradation import DegradationRule, evaluate
from registry.outcomes import OutcomeItem, OutcomeStore
from registry.performance import metrics, report, score_bands
from registry.records import DecisionRecord
from registry.service import Registry


def sk(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    fpr, tpr, _ = roc_curve(y, s)
    auc = roc_auc_score(y, s)
    return {"auc": auc, "gini": 2 * auc - 1, "ks": float(np.max(tpr - fpr)), "brier": brier_score_loss(y, s),
            "bad_rate": float(np.mean(y))}


def assert_matches(y: np.ndarray, s: np.ndarray) -> None:
    ours, ref = metrics(y, s), sk(y, s)
    for k, v in ref.items():
        assert ours[k] == pytest.approx(v, abs=1e-12), k
    assert ours["count"] == len(y) and ours["bads"] == int(np.sum(y))


# scores drawn from a small grid as well as freely, so ties (the hard part of AUC and KS) are common
scores = st.one_of(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0]),
                   st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=False))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), scores), min_size=2, max_size=300).filter(
    lambda rows: len({y for y, _ in rows}) == 2))
def test_figures_equal_scikit_learn(rows: list[tuple[int, float]]) -> None:
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows])
    assert_matches(y, s)


def test_figures_equal_scikit_learn_and_compile_time_metrics_on_a_large_sample() -> None:
    rng = np.random.default_rng(7)
    s = rng.beta(2, 5, 20_000).astype(np.float32).astype(np.float64)  # float32 scores: many exact ties
    y = (rng.random(s.size) < s).astype(int)
    assert_matches(y, s)
    ours, compile_time = metrics(y, s), binary_metrics(y, s)
    for k in ("auc", "gini", "ks", "brier", "bad_rate"):
        assert ours[k] == pytest.approx(compile_time[k], abs=1e-9), k


def test_one_class_leaves_discrimination_undefined() -> None:
    m = metrics([0, 0, 0], [0.1, 0.2, 0.3])
    assert (m["auc"], m["gini"], m["ks"]) == (None, None, None)
    assert m["brier"] == pytest.approx(brier_score_loss([0, 0, 0], [0.1, 0.2, 0.3]))
    assert metrics([], [])["count"] == 0


def test_scores_above_one_by_an_ulp_are_clipped_like_compile_time() -> None:
    y = np.array([0, 1, 1])
    s = np.array([0.2, 1.0 + 1e-7, 0.7])
    assert metrics(y, s)["brier"] == pytest.approx(brier_score_loss(y, np.clip(s, 0, 1)))


def test_bands_are_deciles_ties_share_a_band() -> None:
    s = np.arange(100) / 100.0
    y = (s >= 0.9).astype(int)
    bands = score_bands(y, s)
    assert [b["count"] for b in bands] == [10] * 10
    assert [b["band"] for b in bands] == list(range(1, 11))
    assert [b["bad_rate"] for b in bands] == [0.0] * 9 + [1.0]
    assert bands[0]["min_score"] == 0.0 and bands[-1]["max_score"] == 0.99
    tied = score_bands(np.array([0, 1] * 50), np.array([0.5] * 80 + list(np.linspace(0.6, 0.9, 20))))
    assert tied[0]["count"] == 80 and tied[0]["min_score"] == tied[0]["max_score"] == 0.5
    assert sum(b["count"] for b in tied) == 100
    for b in tied:  # each band's bad rate is the plain mean of its rows
        assert 0.0 <= b["bad_rate"] <= 1.0


def test_report_groups_by_route_version_and_vintage() -> None:
    rows = [(1, "champion", "2026-01-05T00:00:00", 0.2, 0), (1, "champion", "2026-02-05T00:00:00", 0.8, 1),
            (2, "canary", "2026-02-06T00:00:00", 0.3, 1), (2, "canary", "2026-02-07T00:00:00", 0.4, 0),
            (1, "canary", "2026-02-08T00:00:00", 0.6, 1)]
    training = {1: {"auc": 0.8}, 2: {"auc": 0.75}}
    by_route = report("m", rows, "route", training)
    assert [(g["version"], g["route"], g["count"]) for g in by_route["groups"]] == [
        (1, "canary", 1), (1, "champion", 2), (2, "canary", 2)]
    assert by_route["groups"][1]["auc"] == 1.0 and by_route["groups"][2]["auc"] == 0.0
    assert by_route["groups"][0]["training"]["auc"] == 0.8 and by_route["outcomes"] == 5
    by_version = report("m", rows, "version", training)
    assert [(g["version"], g["count"], g["bads"]) for g in by_version["groups"]] == [(1, 3, 2), (2, 2, 1)]
    by_vintage = report("m", rows, "vintage")
    assert [(g["version"], g["vintage"], g["count"]) for g in by_vintage["groups"]] == [
        (1, "2026-01", 1), (1, "2026-02", 2), (2, "2026-02", 2)]
    with pytest.raises(ValueError):
        report("m", rows, "customer")


def test_rule_judges_only_with_enough_evidence() -> None:
    rule = DegradationRule(margin=0.05, min_outcomes=100, min_per_class=10)
    fig = {"count": 200, "bads": 20, "auc": 0.70}
    assert rule.judge(fig, 0.76) == "degraded"
    assert rule.judge(fig, 0.75) == "ok"  # exactly the margin is not beyond it
    assert rule.judge({**fig, "count": 99}, 0.9) is None
    assert rule.judge({**fig, "bads": 9}, 0.9) is None
    assert rule.judge(fig, None) is None
    assert rule.unjudged({**fig, "count": 99}, 0.9) == "99 outcomes, needs 100"
    assert rule.unjudged({**fig, "bads": 9}, 0.9) == "9 bads and 191 goods, needs 10 of each"
    assert rule.unjudged(fig, None) == "the bundle's manifest has no training AUC"
    assert rule.unjudged(fig, 0.9) is None
    with pytest.raises(InvalidInput, match="margin"):
        DegradationRule(margin=-0.1)


# -- the degradation rule against a real registry and outcomes.db -------------------------------------------

def _scored(home: Path, n: int, informative: bool, seed: int, start: int = 0) -> list[OutcomeItem]:
    """n decisions by version 1 and their outcomes: informative scores (AUC ~ 0.9) or pure noise (~0.5)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.clip(0.5 * y + 0.6 * rng.random(n) - 0.05, 0, 1) if informative else rng.random(n)
    log = DecisionLog.in_home(home, None, "NORMAL")
    log.append_batch([DecisionRecord("2026-02-01T00:00:00.000000+00:00", f"q{start + i}", "c", "m", 1, "d" * 64,
                                     "champion", "e" * 64, float(s[i]), None, "OK", 1) for i in range(n)])
    log.close()
    return [OutcomeItem(i, f"q{start + i}", int(y[i]), "2026-03-01T00:00:00Z") for i in range(n)]


def test_degradation_writes_one_ledger_entry_per_state_change(registry: Registry, make_bundle) -> None:
    home = registry.home
    registry.register(make_bundle(0), "m", "alice")  # training AUC 0.7
    store = OutcomeStore(home, synchronous="NORMAL")
    rule = DegradationRule(margin=0.05, min_outcomes=200, min_per_class=20)

    def record(action: str, m: str, v: int, d: dict) -> None:
        registry.record("risk-bot", action, m, v, d)

    training = {v.version: v.metrics for v in registry.versions("m")}
    try:
        def run() -> dict:
            return evaluate(store, "m", training, rule, record)[0]

        store.record(_scored(home, 100, informative=False, seed=1), "a")
        first = run()
        assert (first["state"], first["judged"], first["changed"]) == ("ok", False, False)  # too few outcomes
        store.record(_scored(home, 400, informative=False, seed=2, start=100), "a")
        verdict = run()
        assert (verdict["state"], verdict["previous"], verdict["changed"]) == ("degraded", "ok", True)
        assert run()["changed"] is False  # the same evidence again: no second entry
        entries = ledger_entries(registry, model="m", action="performance")
        assert [e.action for e in entries] == ["performance.degraded"]
        d = entries[0].details
        assert d["from"] == "ok" and d["to"] == "degraded" and d["count"] == 500 and entries[0].version == 1
        assert d["training_auc"] == 0.7 and d["auc"] < 0.65 and d["thresholds"]["margin"] == 0.05
        assert entries[0].actor == "risk-bot"

        store.record(_scored(home, 3000, informative=True, seed=3, start=1000), "a")
        assert run()["state"] == "ok"
        assert run()["changed"] is False
        assert [e.action for e in ledger_entries(registry, model="m", action="performance")] == [
            "performance.degraded", "performance.ok"]
    finally:
        store.close()


def test_state_survives_reopening_so_a_new_process_writes_nothing_twice(registry: Registry, make_bundle) -> None:
    home = registry.home
    registry.register(make_bundle(0), "m", "alice")
    training = {1: {"auc": 0.99}}
    rule = DegradationRule(margin=0.01, min_outcomes=50, min_per_class=5)
    calls: list[str] = []
    for _ in range(2):
        store = OutcomeStore(home, synchronous="NORMAL")
        if not calls:
            store.record(_scored(home, 100, informative=False, seed=4), "a")
        evaluate(store, "m", training, rule, lambda action, m, v, d: calls.append(action))
        store.close()
    assert calls == ["performance.degraded"]


def test_a_failed_ledger_write_leaves_the_state_unchanged(registry: Registry, make_bundle) -> None:
    home = registry.home
    store = OutcomeStore(home, synchronous="NORMAL")
    store.record(_scored(home, 100, informative=False, seed=5), "a")
    rule = DegradationRule(margin=0.01, min_outcomes=50, min_per_class=5)

    def broken(*_args) -> None:
        raise RuntimeError("registry down")

    with pytest.raises(RuntimeError):
        evaluate(store, "m", {1: {"auc": 0.99}}, rule, broken)
    calls: list[str] = []
    evaluate(store, "m", {1: {"auc": 0.99}}, rule, lambda action, *a: calls.append(action))
    assert calls == ["performance.degraded"]
    store.close()
