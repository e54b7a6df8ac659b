"""compiler/drift.py: the drift reference in the bundle and the binning rule the gateway counts with."""

from __future__ import annotations

import json

import numpy as np
import pytest

from compiler.bundle import read_bundle
from compiler.demo.data import FEATURES
from compiler.digest import pretty_json
from compiler.drift import BinnedReference, DriftReference, bin_index, reference_for
from compiler.errors import BundleError
from compiler.onnx_session import open_session, predict_scores


@pytest.fixture(scope="module")
def drift(demo_bundle) -> DriftReference:
    return read_bundle(demo_bundle).drift


def _recount(values: np.ndarray, ref: BinnedReference) -> np.ndarray:
    idx = bin_index(values, np.array(ref.edges))
    counts = np.bincount(idx, minlength=len(ref.edges) + 2)
    finite = counts[:-1]
    return finite / max(finite.sum(), 1)


def test_every_feature_and_the_score_have_a_reference(drift: DriftReference, credit) -> None:
    assert [r.name for r in drift.features] == list(FEATURES)
    assert drift.score.name == "score"
    for r in (*drift.features, drift.score):
        assert r.count == len(credit)
        assert sum(r.expected) == pytest.approx(1.0, abs=1e-12), r.name
        assert len(r.expected) == len(r.edges) + 1
        assert list(r.edges) == sorted(set(r.edges)), r.name  # strictly increasing
        assert all(p >= 0 for p in r.expected)


def test_nan_share(drift: DriftReference, credit) -> None:
    ref = {r.name: r for r in drift.features}
    col = credit["months_since_delinquency"].to_numpy()
    assert 0.5 < ref["months_since_delinquency"].nan_share == pytest.approx(np.isnan(col).mean())
    assert ref["income"].nan_share == 0.0 and drift.score.nan_share == 0.0


def test_categorical_edges_give_one_bin_per_category(drift: DriftReference, credit) -> None:
    ref = {r.name: r for r in drift.features}["product_code"]
    assert ref.edges == (1.5, 2.5, 3.5, 4.5)
    codes = credit["product_code"].to_numpy()
    assert list(ref.expected) == pytest.approx([np.mean(codes == c) for c in (1, 2, 3, 4, 5)])


@pytest.mark.parametrize("name", [f for f in FEATURES])
def test_bin_index_reproduces_the_reference(drift: DriftReference, credit, name: str) -> None:
    ref = {r.name: r for r in drift.features}[name]
    values = credit[name].to_numpy(dtype=np.float64)
    np.testing.assert_allclose(_recount(values, ref), ref.expected, rtol=0, atol=1e-15)


def test_the_score_reference_matches_the_served_scores(demo_bundle, drift: DriftReference, credit) -> None:
    b = read_bundle(demo_bundle)
    scores = predict_scores(open_session(b.onnx_bytes), b.program.transform(credit[list(FEATURES)].to_numpy()),
                            "input", "probabilities", 1).astype(np.float64)
    assert len(drift.score.edges) == 9  # ten quantile bins of a continuous score
    np.testing.assert_allclose(_recount(scores, drift.score), drift.score.expected, atol=1e-15)
    np.testing.assert_allclose(drift.score.expected, 0.1, atol=0.002)


def test_bin_index_rule() -> None:
    edges = np.array([1.0, 2.0, 3.0])
    values = np.array([-np.inf, 0.5, 1.0, 1.5, 2.0, 3.0, 99.0, np.inf, np.nan])
    assert bin_index(values, edges).tolist() == [0, 0, 1, 1, 2, 3, 3, 3, 4]
    assert bin_index(np.array([np.nan, 5.0]), np.empty(0)).tolist() == [1, 0]


def test_reference_for_quantiles_nan_and_ties() -> None:
    values = np.concatenate([np.arange(100.0), [np.nan] * 25])
    r = reference_for("x", values, 4)
    assert r.edges == (24.75, 49.5, 74.25) and r.expected == (0.25, 0.25, 0.25, 0.25)
    assert r.nan_share == 0.2 and r.count == 125
    r = reference_for("all-nan", np.array([np.nan, np.nan]), 10)
    assert r.edges == () and r.expected == (0.0,) and r.nan_share == 1.0
    r = reference_for("ties", np.array([1.0] * 50 + [2.0] * 50), 10)
    assert len(r.edges) == len(set(r.edges)) and sum(r.expected) == pytest.approx(1.0)
    r = reference_for("cats", np.array([1.0, 1.0, 3.0, np.nan]), 10, categories=(3.0, 1.0, 7.0, float("nan")))
    assert r.edges == (2.0, 5.0) and r.expected == (2 / 3, 1 / 3, 0.0) and r.nan_share == 0.25
    assert reference_for("empty", np.empty(0), 10).count == 0


def test_round_trip_through_strict_json(drift: DriftReference) -> None:
    back = DriftReference.from_dict(json.loads(pretty_json(drift.to_dict())))
    assert back == drift
    with pytest.raises(BundleError, match="drift.json: malformed drift reference"):
        DriftReference.from_dict({"features": [{"name": "x"}]})
