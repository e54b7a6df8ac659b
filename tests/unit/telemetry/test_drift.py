"""Drift counts are exact against an offline recount; PSI equals a numpy reference; windows expire."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.drift import BinnedReference, DriftReference, bin_index
from compiler.schema import FeatureSpec, Schema
from server.telemetry.alerts import DriftStates, DriftThresholds
from server.telemetry.drift import DriftCounter, DriftLayout, figures, psi, window_counts


def psi_reference(values: np.ndarray, edges: np.ndarray, expected: np.ndarray) -> float:
    """PSI written out plainly: bins by searchsorted, shares floored at 1e-4."""
    v = values[~np.isnan(values)]
    actual = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1) / v.size
    a, e = np.maximum(actual, 1e-4), np.maximum(expected, 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


@pytest.fixture
def layout() -> DriftLayout:
    feats = (FeatureSpec("x", "numeric", -np.inf, np.inf, True, (), -2.0, 2.0),
             FeatureSpec("code", "categorical", -np.inf, np.inf, False, (1.0, 2.0, 3.0), 1.0, 3.0))
    ref = DriftReference(
        features=(BinnedReference("x", (-1.0, 0.0, 1.0), (0.16, 0.34, 0.34, 0.16), 0.1, 1000),
                  BinnedReference("code", (1.5, 2.5), (0.5, 0.3, 0.2), 0.0, 1000)),
        score=BinnedReference("score", (0.1, 0.5), (0.5, 0.4, 0.1), 0.0, 1000))
    return DriftLayout.build(Schema(feats, 0.5, ("0", "1")), ref)


def _batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.column_stack([rng.normal(0.3, 1.5, n), rng.integers(1, 4, n).astype(float)])
    x[rng.random(n) < 0.1, 0] = np.nan
    return x, rng.random(n).astype(np.float32)


def test_counts_equal_an_offline_recount(layout: DriftLayout) -> None:
    rng = np.random.default_rng(0)
    counter = DriftCounter(layout, clock=lambda: 1_000_000.0)
    xs, ss = [], []
    for n in (1, 7, 256, 1000):
        x, s = _batch(rng, n)
        counter.record(x, s)
        xs.append(x)
        ss.append(s)
    x, s = np.concatenate(xs), np.concatenate(ss)
    (name, bins, nans, oor), (_, cbins, cnans, _), (_, sbins, _, _) = layout.split(counter.total)
    finite = x[~np.isnan(x[:, 0]), 0]
    assert bins.tolist() == np.bincount(np.searchsorted([-1.0, 0.0, 1.0], finite, side="right"), minlength=4).tolist()
    assert nans == int(np.isnan(x[:, 0]).sum()) and oor == int(((finite < -2) | (finite > 2)).sum())
    assert cbins.tolist() == np.bincount(bin_index(x[:, 1], np.array([1.5, 2.5])), minlength=3)[:3].tolist()
    assert sbins.tolist() == np.bincount(np.searchsorted([0.1, 0.5], s, side="right"), minlength=3).tolist()
    got = {f["name"]: f["psi"] for f in figures(layout, counter.total)}
    assert got["x"] == pytest.approx(psi_reference(x[:, 0], np.array([-1.0, 0.0, 1.0]), np.array(layout.expected[0])),
                                     abs=1e-9)
    assert got["score"] == pytest.approx(psi_reference(s.astype(float), np.array([0.1, 0.5]),
                                                       np.array(layout.expected[2])), abs=1e-9)


def test_windows_slice_by_minute(layout: DriftLayout) -> None:
    now = [0.0]
    counter = DriftCounter(layout, clock=lambda: now[0])
    x, s = _batch(np.random.default_rng(1), 100)
    for minute in range(0, 70, 10):  # one batch every ten minutes
        now[0] = minute * 60.0 + 5
        counter.record(x, s)
    total = int(counter.total[layout.score_slot:].sum())
    assert total == 700
    last5 = window_counts(counter.slices, counter.stamps, counter.total, "5m", now[0])
    last60 = window_counts(counter.slices, counter.stamps, counter.total, "1h", now[0])
    assert int(last5[layout.score_slot:].sum()) == 100 and int(last60[layout.score_slot:].sum()) == 600
    later = window_counts(counter.slices, counter.stamps, counter.total, "5m", now[0] + 6 * 60)
    assert int(later.sum()) == 0
    with pytest.raises(ValueError, match="window"):
        window_counts(counter.slices, counter.stamps, counter.total, "2d", now[0])


def test_psi_smoothing_and_empty() -> None:
    assert psi(np.array([0, 0]), np.array([0.5, 0.5])) != psi(np.array([0, 0]), np.array([0.5, 0.5]))  # NaN
    assert psi(np.array([50, 50]), np.array([0.5, 0.5])) == 0.0
    assert psi(np.array([100, 0]), np.array([0.5, 0.5])) == pytest.approx(
        (1 - 0.5) * np.log(1 / 0.5) + (1e-4 - 0.5) * np.log(1e-4 / 0.5))


def test_state_changes_fire_once_per_transition() -> None:
    states = DriftStates(DriftThresholds(0.1, 0.25, min_count=10))

    def report(p: float, count: int = 100) -> dict:
        return {"model": "m", "versions": [{"version": 1, "figures": [
            {"name": "score", "psi": p, "count": count, "nan_share": 0.0, "out_of_range_share": 0.0}]}]}

    assert states.update(report(0.05)) == []
    assert [c["to"] for c in states.update(report(0.15))] == ["warn"]
    assert states.update(report(0.2)) == []
    assert [c["to"] for c in states.update(report(0.3))] == ["alert"]
    assert states.update(report(0.9, count=5)) == []  # too few values to judge
    change = states.update(report(0.01))[0]
    assert (change["from"], change["to"]) == ("alert", "ok") and change["thresholds"]["alert"] == 0.25


def test_states_resume_from_the_ledger_after_a_restart(tmp_path) -> None:
    """A restarted gateway reads the earlier drift entries, so an alert on record is not announced again."""
    from server.control.source import RegistrySource

    def report(p: float) -> dict:
        return {"model": "m", "versions": [{"version": 1, "figures": [
            {"name": "score", "psi": p, "count": 100, "nan_share": 0.0, "out_of_range_share": 0.0}]}]}

    source = RegistrySource(tmp_path)
    try:
        first = DriftStates(DriftThresholds(0.1, 0.25, min_count=10))
        for change in first.update(report(0.15)) + first.update(report(0.3)):
            source.record_gateway_event(f"drift.{change['to']}", "m", None, change)
        restarted = DriftStates(DriftThresholds(0.1, 0.25, min_count=10))
        restarted.restore(source.gateway_events("drift"))
        assert restarted.states == {("m", 1, "score"): "alert"}
        assert restarted.update(report(0.3)) == []
        assert [c["to"] for c in restarted.update(report(0.01))] == ["ok"]
    finally:
        source.close()


def test_the_score_grid_is_counted_in_the_same_pass(layout: DriftLayout) -> None:
    """The kernel's grid counts equal comparison.grid_counts (the reference), NaN and infinities excluded."""
    from server.telemetry.comparison import GRID, grid_counts

    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, len(layout.names)))
    scores = np.concatenate([rng.random(290), [0.0, 1.0, 0.9999, -0.2, 1.7, np.nan, np.inf, -np.inf, 0.5, 1e-9]])
    out, grid = np.zeros(layout.width, dtype=np.int64), np.zeros(GRID, dtype=np.int64)
    layout.count(x, scores, out, grid)
    assert np.array_equal(grid, grid_counts(scores)) and grid.sum() == 297
    out2 = np.zeros(layout.width, dtype=np.int64)
    layout.count(x, scores, out2)  # without a grid: the drift counts are the same
    assert np.array_equal(out, out2)
