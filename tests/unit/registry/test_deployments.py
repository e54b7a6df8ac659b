"""Deployments: the routing state, its approval rule, shape rules, and the global routing revision."""

from __future__ import annotations

import pytest

from compiler.errors import InvalidInput, NotFound, PreconditionFailed
from registry.audit import ledger_entries
from registry.deployments import KEEP
from registry.records import Shadow
from registry.service import Registry


@pytest.fixture
def reg(registry: Registry, make_bundle) -> Registry:
    """Versions 1-3 approved, 4 only registered."""
    for seed in range(1, 5):
        registry.register(make_bundle(seed), "cards", "alice")
    for v in (1, 2, 3):
        registry.approve("cards", v, "bob")
    return registry


def test_champion_deployment_and_revision(reg: Registry) -> None:
    assert reg.routing_revision() == 0 and reg.deployment("cards") is None
    d = reg.set_deployment("cards", "carol", "go live", champion=1)
    assert (d.champion, d.canary, d.canary_weight, d.shadows, d.revision) == (1, None, 0.0, (), 1)
    assert reg.deployment("cards") == d and reg.routing_revision() == 1
    entry = ledger_entries(reg)[-1]
    assert (entry.action, entry.version, entry.details["reason"]) == ("deploy", 1, "go live")
    assert entry.digest == reg.version("cards", 1).digest


def test_partial_changes_keep_the_rest(reg: Registry) -> None:
    reg.set_deployment("cards", "carol", "go", champion=1, guardrails={"max_error_rate": 0.01})
    d = reg.set_deployment("cards", "carol", "canary", canary=2, canary_weight=5)
    assert (d.champion, d.canary, d.canary_weight, dict(d.guardrails)) == (1, 2, 5.0, {"max_error_rate": 0.01})
    d = reg.set_deployment("cards", "carol", "shadow", shadows=[(3, 0.25)])
    assert d.shadows == (Shadow(3, 0.25),) and d.canary == 2 and d.versions() == (1, 2, 3)
    d = reg.set_deployment("cards", "carol", "rollback", canary=None)
    assert (d.canary, d.canary_weight) == (None, 0.0)
    assert reg.routing_revision() == 4 and d.revision == 4
    assert [x.model for x in reg.deployments(since_revision=3)] == ["cards"]
    assert reg.deployments(since_revision=4) == []


def test_only_approved_versions_may_be_deployed(reg: Registry) -> None:
    for kw in ({"champion": 4}, {"champion": 1, "canary": 4, "canary_weight": 1}, {"champion": 1, "shadows": [(4, 1)]}):
        with pytest.raises(PreconditionFailed, match="v4 is registered; only approved versions"):
            reg.set_deployment("cards", "carol", "try", **kw)
    assert reg.routing_revision() == 0
    assert [e.action for e in ledger_entries(reg, action="deploy")] == ["deploy.refused"] * 3


@pytest.mark.parametrize("kw, match", [
    ({"champion": 1, "canary": 2, "canary_weight": 101}, "0..100"),
    ({"champion": 1, "canary_weight": 5}, "without a canary"),
    ({"canary": 2, "canary_weight": 5}, "needs a champion"),
    ({"champion": 1, "canary": 1}, "both version 1"),
    ({"champion": 1, "shadows": [(1, 0.5)]}, "already the champion"),
    ({"champion": 1, "shadows": [(2, 0.0)]}, "sample_rate"),
    ({"champion": 1, "shadows": [(2, 0.5), (2, 0.1)]}, "listed twice"),
    ({"champion": 1, "guardrails": {"x": float("nan")}}, "plain JSON"),
])
def test_shape_rules(reg: Registry, kw: dict, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        reg.set_deployment("cards", "carol", "try", **kw)
    assert reg.deployment("cards") is None


def test_reason_and_model_are_required(reg: Registry) -> None:
    with pytest.raises(InvalidInput, match="reason"):
        reg.set_deployment("cards", "carol", "", champion=1)
    with pytest.raises(NotFound):
        reg.set_deployment("nope", "carol", "go", champion=1)
    with pytest.raises(NotFound):
        reg.deployment("nope")


def test_retiring_a_deployed_version_is_refused(reg: Registry) -> None:
    reg.set_deployment("cards", "carol", "go", champion=1, canary=2, canary_weight=10, shadows=[(3, 0.1)])
    for v, role in ((1, "champion"), (2, "canary"), (3, "shadow")):
        with pytest.raises(PreconditionFailed, match=f"still deployed as {role}"):
            reg.retire("cards", v, "carol", "old")
    reg.set_deployment("cards", "carol", "drop canary", canary=None, shadows=())
    assert reg.retire("cards", 2, "carol", "old").state == "retired"


def test_keep_is_a_visible_sentinel() -> None:
    assert repr(KEEP) == "KEEP"


def test_evidence_is_kept_in_the_deploy_entry(reg: Registry) -> None:
    reg.set_deployment("cards", "carol", "go", champion=1, canary=2, canary_weight=5)
    reg.set_deployment("cards", "guardrail", "automatic rollback", canary=None,
                       evidence={"error_rate": 0.2, "limit": 0.01})
    entry = ledger_entries(reg)[-1]
    assert entry.details["evidence"] == {"error_rate": 0.2, "limit": 0.01}
    assert entry.details["previous"]["canary"] == 2
