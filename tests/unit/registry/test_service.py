"""The Registry facade: versions, four-eyes, lifecycle, aliases, and the refusal entries."""

from __future__ import annotations

import shutil

import pytest

from compiler.errors import (AlreadyExists, BundleError, InvalidInput, NotFound, PermissionDenied,
                             PreconditionFailed, TamperedBundle)
from registry.audit import ledger_entries, verify_ledger
from registry.records import State
from registry.service import Registry


def actions(reg: Registry) -> list[str]:
    return [e.action for e in ledger_entries(reg)]


def approved(reg: Registry, make_bundle, seed: int = 0, name: str = "cards") -> int:
    v = reg.register(make_bundle(seed), name, "alice")
    reg.approve(name, v.version, "bob")
    return v.version


def test_register_records_lineage_metrics_and_parity(registry: Registry, make_bundle) -> None:
    v = registry.register(make_bundle(1), "cards", "alice", description="card authorisation")
    assert (v.model, v.version, v.state, v.registered_by) == ("cards", 1, State.REGISTERED, "alice")
    assert v.sample_digest == f"{1:064x}" and v.parent_version is None
    assert v.metrics["auc"] == pytest.approx(0.700001) and v.parity["passed"] is True
    assert v.source["family"] == "sklearn" and v.registered_at.endswith("+00:00")
    assert registry.version("cards", 1) == v
    v2 = registry.register(make_bundle(2), "cards", "alice", parent=1)
    assert (v2.version, v2.parent_version) == (2, 1)
    entry = ledger_entries(registry)[-1]
    assert (entry.action, entry.model, entry.version, entry.digest) == ("register", "cards", 2, v2.digest)


def test_version_numbers_are_per_model(registry: Registry, make_bundle) -> None:
    registry.register(make_bundle(1), "cards", "alice")
    assert registry.register(make_bundle(1), "loans", "alice").version == 1  # same bundle, other name: fine
    assert registry.register(make_bundle(2), "cards", "alice").version == 2


def test_registering_the_same_digest_twice_names_the_existing_version(registry: Registry, make_bundle) -> None:
    registry.register(make_bundle(1), "cards", "alice")
    with pytest.raises(AlreadyExists, match="as version 1"):
        registry.register(make_bundle(1), "cards", "carol")
    assert actions(registry) == ["register", "register.refused"]
    assert len(registry.versions("cards")) == 1


def test_a_tampered_bundle_is_refused_on_the_record(registry: Registry, make_bundle) -> None:
    path = make_bundle(1)
    (path / "program.json").write_bytes((path / "program.json").read_bytes() + b" ")
    with pytest.raises(TamperedBundle, match="program.json"):
        registry.register(path, "cards", "alice")
    entry = ledger_entries(registry)[-1]
    assert entry.action == "register.refused" and "program.json" in entry.details["reason"]
    with pytest.raises(NotFound):
        registry.versions("cards")


def test_a_bundle_without_passing_parity_is_refused(registry: Registry, make_bundle) -> None:
    with pytest.raises(BundleError, match="parity"):
        registry.register(make_bundle(1, parity_passed=False), "cards", "alice")
    assert actions(registry) == ["register.refused"]


def test_unknown_parent_and_bad_names_are_refused(registry: Registry, make_bundle) -> None:
    registry.register(make_bundle(1), "cards", "alice")
    with pytest.raises(NotFound, match="no version 7"):
        registry.register(make_bundle(2), "cards", "alice", parent=7)
    with pytest.raises(InvalidInput, match="model name"):
        registry.register(make_bundle(3), "../etc", "alice")
    assert registry.versions("cards")[-1].version == 1


def test_four_eyes_self_approval_is_denied_and_recorded(registry: Registry, make_bundle) -> None:
    registry.register(make_bundle(1), "cards", "alice")
    with pytest.raises(PermissionDenied, match="four-eyes"):
        registry.approve("cards", 1, "alice")
    assert registry.version("cards", 1).state == State.REGISTERED
    refusal = ledger_entries(registry)[-1]
    assert (refusal.action, refusal.actor, refusal.details["error"]) == ("approve.refused", "alice", "PermissionDenied")
    v = registry.approve("cards", 1, "bob", comment="validated by MRM")
    assert (v.state, v.reviewed_by, v.review_note) == (State.APPROVED, "bob", "validated by MRM")


def test_approving_twice_is_a_precondition_failure(registry: Registry, make_bundle) -> None:
    approved(registry, make_bundle)
    with pytest.raises(PreconditionFailed, match="already approved"):
        registry.approve("cards", 1, "carol")


def test_reject_needs_a_reason_and_is_final(registry: Registry, make_bundle) -> None:
    registry.register(make_bundle(1), "cards", "alice")
    with pytest.raises(InvalidInput, match="reason"):
        registry.reject("cards", 1, "bob", "  ")
    v = registry.reject("cards", 1, "bob", "AUC below policy")
    assert (v.state, v.review_note) == (State.REJECTED, "AUC below policy")
    with pytest.raises(PreconditionFailed, match="rejected"):
        registry.approve("cards", 1, "carol")
    with pytest.raises(PreconditionFailed, match="only an approved version can be retired"):
        registry.retire("cards", 1, "carol", "old")


def test_unknown_model_and_version(registry: Registry, make_bundle) -> None:
    with pytest.raises(NotFound, match="'nope' is not registered"):
        registry.approve("nope", 1, "bob")
    registry.register(make_bundle(1), "cards", "alice")
    with pytest.raises(NotFound, match=r"no version 3 \(versions are 1..1\)"):
        registry.version("cards", 3)
    with pytest.raises(InvalidInput, match="positive integer"):
        registry.approve("cards", "three", "bob")


def test_aliases_point_only_to_approved_versions(registry: Registry, make_bundle) -> None:
    registry.register(make_bundle(1), "cards", "alice")
    with pytest.raises(PreconditionFailed, match="only point to an approved version"):
        registry.set_alias("cards", "champion", 1, "bob")
    registry.approve("cards", 1, "bob")
    approved(registry, make_bundle, 2)
    registry.set_alias("cards", "champion", 1, "bob")
    registry.set_alias("cards", "champion", 2, "bob")
    assert registry.resolve("cards", "champion").version == 2
    assert registry.resolve("cards", "v1").version == 1
    assert ledger_entries(registry, action="alias")[-1].details["previous"] == 1
    with pytest.raises(NotFound, match="no alias 'challenger'"):
        registry.resolve("cards", "challenger")


def test_retire_drops_aliases_on_the_record(registry: Registry, make_bundle) -> None:
    approved(registry, make_bundle)
    registry.set_alias("cards", "challenger", 1, "bob")
    with pytest.raises(InvalidInput, match="reason"):
        registry.retire("cards", 1, "bob", "")
    v = registry.retire("cards", 1, "bob", "replaced")
    assert (v.state, v.retire_reason) == (State.RETIRED, "replaced")
    assert registry.aliases("cards") == []
    assert ledger_entries(registry)[-1].details["aliases_dropped"] == ["challenger"]


def test_open_bundle_reads_the_verified_stored_copy(registry: Registry, make_bundle) -> None:
    src = make_bundle(1)
    v = registry.register(src, "cards", "alice")
    shutil.rmtree(src)  # the registry keeps its own copy
    b = registry.open_bundle("cards", 1)
    assert b.digest == v.digest and b.path == registry.bundle_path("cards", 1)
    assert b.path.parent == registry.home / "artefacts"
    (b.path / "model.onnx").write_bytes(b"evil")
    with pytest.raises(TamperedBundle, match="model.onnx"):
        registry.open_bundle("cards", 1)


def test_every_change_and_refusal_keeps_the_chain_valid(registry: Registry, make_bundle) -> None:
    approved(registry, make_bundle)
    for bad in (lambda: registry.approve("cards", 1, "bob"), lambda: registry.set_alias("cards", "x", 9, "b")):
        with pytest.raises((PreconditionFailed, NotFound)):
            bad()
    report = verify_ledger(registry)
    assert report.ok and report.entries == 4


def test_a_blank_actor_is_refused_on_the_record(registry: Registry, make_bundle) -> None:
    registry.register(make_bundle(1), "cards", "alice")
    with pytest.raises(InvalidInput, match="actor"):
        registry.approve("cards", 1, " ")
    assert ledger_entries(registry)[-1].action == "approve.refused"
    assert registry.version("cards", 1).state == State.REGISTERED


def test_record_appends_events_but_not_lifecycle_actions(registry: Registry, make_bundle) -> None:
    v = registry.register(make_bundle(1), "cards", "alice")
    e = registry.record("gateway", "drift.alert", "cards", 1, {"feature": "income", "psi": 0.31})
    assert (e.action, e.digest, dict(e.details)) == ("drift.alert", v.digest, {"feature": "income", "psi": 0.31})
    with pytest.raises(InvalidInput, match="reserved"):
        registry.record("mallory", "approve", "cards", 1)
    assert [x.action for x in ledger_entries(registry)] == ["register", "drift.alert"]
