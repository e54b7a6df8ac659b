"""Guardrail settings, the judgement rules, and arm-vs-arm score PSI."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.errors import InvalidInput
from server.control.guardrails import ArmReading, Guardrails, judge, judge_shadow, parse_step_after, wilson_lower
from server.telemetry import histogram as hist
from server.telemetry.comparison import GRID, ShadowCounters, compare, grid_counts, psi_between, shadow_summary


def arm(requests: int, errors: int = 0, latency_us: int = 500, scores: np.ndarray | None = None) -> ArmReading:
    lat = np.zeros(hist.N_BUCKETS, dtype=np.int64)
    lat[hist.index(latency_us)] = requests
    if scores is None:
        scores = np.random.default_rng(requests).beta(2, 12, requests - errors)
    return ArmReading(requests, errors, lat, grid_counts(scores))


def test_settings_round_trip_and_refusals() -> None:
    g = Guardrails.from_dict({"steps": [5, 25, 100], "step_after": "10m", "max_score_psi": 0.2,
                              "min_requests": 500.0, "auto_promote": False})
    assert g.steps == (5.0, 25.0, 100.0) and g.step_after_s == 600 and g.min_requests == 500
    assert Guardrails.from_dict(g.to_dict()) == g
    assert parse_step_after("5000req") == {"step_after_requests": 5000}
    assert parse_step_after("90s") == {"step_after_s": 90.0}
    for bad, where in [({"max_psi": 1}, "unknown setting"), ({"min_requests": 1.5}, "guardrails.min_requests"),
                       ({"auto_promote": "yes"}, "guardrails.auto_promote"),
                       ({"steps": [50, 25], "step_after": "1m"}, "increasing"),
                       ({"steps": [5, 150], "step_after": "1m"}, "increasing"),
                       ({"steps": [5, 100]}, "step_after"), ({"step_after": "soon"}, "step_after"),
                       ({"max_p99_ratio": -1}, "guardrails.max_p99_ratio")]:
        with pytest.raises(InvalidInput, match=where):
            Guardrails.from_dict(bad)
    assert g.next_step(5) == 25 and g.next_step(25) == 100 and g.next_step(100) is None
    assert g.next_step(10) == 25  # an operator's manual step in between


def test_a_canary_failing_everything_breaches_at_its_tenth_request() -> None:
    g = Guardrails()
    assert not judge(g, arm(9, 9), arm(90)).breaches  # below the minimum error sample
    v = judge(g, arm(10, 10), arm(90))
    assert [b["rule"] for b in v.breaches] == ["error_rate"]
    assert v.breaches[0]["canary"] == 1.0 and v.breaches[0]["champion"] == 0.0


def test_error_rule_needs_significance_not_just_a_difference() -> None:
    g = Guardrails()
    # 3 errors in 1,000 against a perfect champion: 0.3 % is below the 1 % allowance
    assert not judge(g, arm(1000, 3), arm(9000)).breaches
    # 5 % against 1 %, on enough requests: a breach
    assert judge(g, arm(2000, 100), arm(18000, 180)).breaches
    # the same rates on 20 requests are not evidence enough
    assert not judge(g, arm(20, 1), arm(180, 2)).breaches
    assert wilson_lower(10, 10, 3.09) == pytest.approx(0.511, abs=1e-3)
    assert wilson_lower(0, 0, 3.09) == 0.0


def test_latency_rule_uses_the_ratio_and_a_floor() -> None:
    g = Guardrails(min_requests=100)
    assert [b["rule"] for b in judge(g, arm(200, latency_us=5000), arm(2000, latency_us=1500)).breaches] == \
        ["p99_latency"]
    assert not judge(g, arm(200, latency_us=900), arm(2000, latency_us=300)).breaches  # 3x, but under the floor
    assert not judge(g, arm(50, latency_us=5000), arm(2000, latency_us=1500)).breaches  # sample too small


def test_score_rule_on_shifted_scores() -> None:
    g = Guardrails(min_requests=300)
    rng = np.random.default_rng(1)
    same = judge(g, arm(400, scores=rng.beta(2, 12, 400)), arm(4000, scores=rng.beta(2, 12, 4000)))
    assert same.healthy and same.readings["score_psi"] < 0.1
    shifted = judge(g, arm(400, scores=rng.beta(5, 6, 400)), arm(4000, scores=rng.beta(2, 12, 4000)))
    assert [b["rule"] for b in shifted.breaches] == ["score_psi"] and shifted.breaches[0]["psi"] > 0.25


def test_psi_between_matches_a_direct_computation() -> None:
    rng = np.random.default_rng(3)
    a, e = rng.beta(2, 8, 5000), rng.beta(2, 10, 20000)
    ga, ge = grid_counts(a), grid_counts(e)
    # reference: the expected's deciles on the grid, then plain PSI with the 1e-4 floor
    cuts = np.searchsorted(np.cumsum(ge) / ge.sum(), np.arange(1, 10) / 10) + 1
    ab = np.array([x.sum() for x in np.split(ga, cuts)]) / ga.sum()
    eb = np.array([x.sum() for x in np.split(ge, cuts)]) / ge.sum()
    ab, eb = np.maximum(ab, 1e-4), np.maximum(eb, 1e-4)
    assert psi_between(ga, ge) == pytest.approx(float(np.sum((ab - eb) * np.log(ab / eb))), abs=1e-12)
    assert np.isnan(psi_between(np.zeros(GRID), ge))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-0.5, 1.5) | st.just(float("nan")), min_size=0, max_size=200))
def test_grid_counts_every_finite_score_once(scores: list[float]) -> None:
    s = np.array(scores, dtype=np.float64)
    g = grid_counts(s)
    assert g.shape == (GRID,) and int(g.sum()) == int(np.isfinite(s).sum())


def test_shadow_counters_and_flip_rule() -> None:
    c = ShadowCounters()
    c.add("offered", 4)
    c.record(compare(np.array([0.1, 0.5, 0.9, 0.2], np.float32), np.array([0.1, 0.2, 0.9, 0.3], np.float32),
                     np.array([False, True, True, False]), np.array([False, False, True, False])))
    assert (c.offered, c.scored, c.flips, c.failed) == (4, 4, 1, 0) and c.flip_rate() == 0.25
    summary = shadow_summary(c.counts, c.delta)
    assert summary["flip_rate"] == 0.25 and summary["delta_p99"] == pytest.approx(0.3, rel=0.01)
    g = Guardrails(min_shadow_sample=4, max_flip_rate=0.2)
    assert judge_shadow(g, 3, summary)["state"] == "breach"
    assert judge_shadow(Guardrails(min_shadow_sample=5), 3, summary)["state"] == "waiting"
    assert judge_shadow(Guardrails(min_shadow_sample=4, max_flip_rate=0.3), 3, summary)["state"] == "ok"
