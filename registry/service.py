"""The Registry facade: the lifecycle rules, each change committed together with its ledger entry.

Every write runs in one serialised transaction: the rule checks, the change, and its ledger entry. A
refused operation rolls back to a savepoint (no partial change) and commits a `<action>.refused` entry
instead, then raises the refusal: no change without its entry, no entry without its change, and every
attempt (a self-approval, a deploy of an unapproved version, a tampered bundle) is on the record.

Lifecycle: registered -> approved | rejected; approved -> retired. Four-eyes: the approver differs from
the registrar. Aliases and deployments reference approved versions only.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from compiler.bundle import Bundle, read_bundle
from compiler.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied, PreconditionFailed, ScoregateError
from registry import queries as q
from registry.artefacts import ArtefactStore
from registry.deployments import KEEP, plan
from registry.ledger import append_entry
from registry.migrations import REGISTRY_MIGRATIONS
from registry.records import Alias, Deployment, LedgerEntry, ModelVersion, State, frozen_map, utc_now
from registry.sqlite_store import SqliteStore
from registry.store import Tx
from registry.validation import check_name, check_text, check_version

T = TypeVar("T")
RESERVED_ACTIONS = frozenset({"register", "approve", "reject", "retire", "alias", "deploy"})


class Registry:
    """System of record for model versions, aliases and deployments under one home directory."""

    def __init__(self, home: Path | str, synchronous: str = "FULL") -> None:
        self.home = Path(home)
        self.store = SqliteStore(self.home / "registry.db", REGISTRY_MIGRATIONS, synchronous=synchronous)
        self.artefacts = ArtefactStore(self.home / "artefacts")

    def close(self) -> None:
        self.store.close()

    # -- the refusal discipline -------------------------------------------------------------------------

    def _change(self, actor: str, action: str, model: str | None, version: int | None,
                fn: Callable[[Tx], T]) -> T:
        """Run fn(tx) as one change; on a domain error, roll it back, commit a refusal entry, re-raise."""
        def txn(tx: Tx) -> tuple[T | None, ScoregateError | None]:
            tx.savepoint("change")
            try:
                check_text("actor", actor)
                return fn(tx), None
            except ScoregateError as exc:
                tx.rollback_to("change")
                _refusal(tx, actor or "(none)", action, model, version, exc)
                return None, exc

        result, refused = self.store.write(txn)
        if refused is not None:
            raise refused
        return result  # type: ignore[return-value]

    def _refuse(self, actor: str, action: str, model: str | None, version: int | None,
                exc: ScoregateError) -> ScoregateError:
        self.store.write(lambda tx: _refusal(tx, actor, action, model, version, exc))
        return exc

    # -- versions -----------------------------------------------------------------------------------------

    def register(self, bundle_dir: Path | str, name: str, actor: str, description: str = "",
                 parent: int | None = None) -> ModelVersion:
        """Verify the bundle, store it content-addressed, and record it as the next version of `name`."""
        try:
            check_text("actor", actor)
            check_name("model name", name)
            parent = None if parent is None else check_version(parent)
            bundle = read_bundle(Path(bundle_dir))
            self.artefacts.put(bundle)
        except ScoregateError as exc:
            raise self._refuse(actor or "?", "register", name, None, exc) from None
        return self._change(actor, "register", name, None,
                            lambda tx: _register(tx, bundle, name, actor, description, parent))

    def approve(self, name: str, version: int, actor: str, comment: str = "") -> ModelVersion:
        def fn(tx: Tx) -> ModelVersion:
            v = q.get_version(tx, name, check_version(version))
            if v.state == State.APPROVED:
                raise PreconditionFailed(f"{name} v{v.version} is already approved (by {v.reviewed_by} at {v.reviewed_at})")
            if v.state != State.REGISTERED:
                raise PreconditionFailed(f"{name} v{v.version} is {v.state}; only a registered version can be approved")
            if v.registered_by == actor:
                raise PermissionDenied(f"{actor!r} registered {name} v{v.version} and cannot approve it: "
                                       "approval must come from someone else (four-eyes)")
            return _review(tx, v, State.APPROVED, actor, comment, "approve")
        return self._change(actor, "approve", name, _maybe_int(version), fn)

    def reject(self, name: str, version: int, actor: str, reason: str) -> ModelVersion:
        def fn(tx: Tx) -> ModelVersion:
            why = check_text("reason", reason)
            v = q.get_version(tx, name, check_version(version))
            if v.state != State.REGISTERED:
                raise PreconditionFailed(f"{name} v{v.version} is {v.state}; only a registered version can be rejected")
            return _review(tx, v, State.REJECTED, actor, why, "reject")
        return self._change(actor, "reject", name, _maybe_int(version), fn)

    def retire(self, name: str, version: int, actor: str, reason: str) -> ModelVersion:
        """Take an approved version out of service for good (its aliases are dropped, on the record)."""
        def fn(tx: Tx) -> ModelVersion:
            why = check_text("reason", reason)
            v = q.get_version(tx, name, check_version(version))
            if v.state != State.APPROVED:
                raise PreconditionFailed(f"{name} v{v.version} is {v.state}; only an approved version can be retired")
            roles = q.deployments_using(tx, name, v.version)
            if roles:
                raise PreconditionFailed(f"{name} v{v.version} is still deployed as {', '.join(roles)}; "
                                         "change the deployment first")
            dropped = q.drop_aliases_to(tx, name, v.version)
            now = utc_now()
            q.set_retired(tx, name, v.version, actor, now, why)
            append_entry(tx, actor, "retire", name, v.version, v.digest, {"reason": why, "aliases_dropped": dropped})
            return q.get_version(tx, name, v.version)
        return self._change(actor, "retire", name, _maybe_int(version), fn)

    def version(self, name: str, version: int) -> ModelVersion:
        return self.store.read(lambda tx: q.get_version(tx, name, check_version(version)))

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        def fn(tx: Tx) -> list[ModelVersion]:
            if name is not None and not q.model_exists(tx, name):
                raise_not_found(name)
            return q.list_versions(tx, name)
        return self.store.read(fn)

    def resolve(self, name: str, ref: str | int) -> ModelVersion:
        """A version by number ("3", "v3") or by alias ("champion")."""
        if isinstance(ref, int) or str(ref).lower().removeprefix("v").isdigit():
            return self.version(name, check_version(ref))
        return self.store.read(lambda tx: q.get_version(tx, name, _alias_target(tx, name, str(ref))))

    # -- bundles --------------------------------------------------------------------------------------------

    def bundle_path(self, name: str, version: int) -> Path:
        """The stored, verified bundle directory of a version (verified on every call)."""
        return self.open_bundle(name, version).path

    def open_bundle(self, name: str, version: int) -> Bundle:
        return self.artefacts.get(self.version(name, version).digest)

    # -- aliases ----------------------------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: int, actor: str) -> Alias:
        def fn(tx: Tx) -> Alias:
            check_name("alias", alias)
            v = q.get_version(tx, name, check_version(version))
            if v.state != State.APPROVED:
                raise PreconditionFailed(f"alias {alias!r} may only point to an approved version; "
                                         f"{name} v{v.version} is {v.state}")
            a = Alias(name, alias, v.version, actor, utc_now())
            previous = q.put_alias(tx, a)
            append_entry(tx, actor, "alias", name, v.version, v.digest, {"alias": alias, "previous": previous})
            return a
        return self._change(actor, "alias", name, _maybe_int(version), fn)

    def aliases(self, name: str | None = None) -> list[Alias]:
        return self.store.read(lambda tx: q.list_aliases(tx, name))

    # -- deployments ------------------------------------------------------------------------------------------

    def set_deployment(self, name: str, actor: str, reason: str, *, champion: Any = KEEP, canary: Any = KEEP,
                       canary_weight: Any = KEEP, shadows: Any = KEEP, guardrails: Any = KEEP,
                       evidence: Mapping[str, Any] | None = None) -> Deployment:
        """Change the routing state of `name` (KEEP leaves a field, None clears it); bumps the routing revision.

        `evidence` (plain JSON values) goes into the ledger entry: what a rollout step or an automatic
        rollback saw (guardrail readings), so the record explains the change.
        """
        def fn(tx: Tx) -> Deployment:
            why = check_text("reason", reason)
            if not q.model_exists(tx, name):
                raise_not_found(name)
            current = q.get_deployment(tx, name)
            d = plan(current, name, actor, utc_now(), 0, champion=champion, canary=canary,
                     canary_weight=canary_weight, shadows=shadows, guardrails=guardrails)
            digests = {v: _approved(tx, name, v).digest for v in d.versions()}
            d = replace(d, revision=q.bump_routing_revision(tx))
            q.put_deployment(tx, d)
            details = {"reason": why, "deployment": _routing(d), "previous": _routing(current) if current else None,
                       "digests": {str(k): v for k, v in digests.items()}, "evidence": dict(evidence or {})}
            append_entry(tx, actor, "deploy", name, d.champion, digests.get(d.champion) if d.champion else None,
                         details)
            return d
        return self._change(actor, "deploy", name, None, fn)

    def record(self, actor: str, action: str, model: str | None = None, version: int | None = None,
               details: Mapping[str, Any] | None = None) -> LedgerEntry:
        """Append an event that changes no registry state (a drift alert, a guardrail reading) to the ledger.

        Lifecycle action names are reserved for the operations above, so the record cannot impersonate them.
        """
        if action.split(".")[0] in RESERVED_ACTIONS:
            raise InvalidInput(f"action {action!r} is reserved for registry operations; use e.g. 'drift.alert'")
        check_name("action", action)

        def fn(tx: Tx) -> LedgerEntry:
            digest = q.get_version(tx, model, version).digest if model is not None and version is not None else None
            return append_entry(tx, actor, action, model, version, digest, details)
        return self._change(actor, action, model, version, fn)

    def deployment(self, name: str) -> Deployment | None:
        """The model's routing state, or None if it was never deployed (NotFound if the model is unknown)."""
        def fn(tx: Tx) -> Deployment | None:
            if not q.model_exists(tx, name):
                raise_not_found(name)
            return q.get_deployment(tx, name)
        return self.store.read(fn)

    def deployments(self, since_revision: int = 0) -> list[Deployment]:
        """All deployments, or only those changed after `since_revision` (what a polling gateway needs)."""
        return self.store.read(lambda tx: q.list_deployments(tx, since_revision))

    def routing_revision(self) -> int:
        """One single-row read; increases on every deployment change. Cheap enough to poll every 100 ms."""
        return self.store.read(q.routing_revision)


def raise_not_found(name: str) -> None:
    raise NotFound(f"model {name!r} is not registered")


def _maybe_int(version: object) -> int | None:
    try:
        return check_version(version)
    except ScoregateError:
        return None


def _refusal(tx: Tx, actor: str, action: str, model: str | None, version: int | None, exc: ScoregateError) -> None:
    append_entry(tx, actor, f"{action}.refused", model, version, None,
                 {"error": type(exc).__name__, "reason": str(exc)})


def _register(tx: Tx, bundle: Bundle, name: str, actor: str, description: str, parent: int | None) -> ModelVersion:
    existing = q.version_with_digest(tx, name, bundle.digest)
    if existing is not None:
        raise AlreadyExists(f"model {name!r} already has this bundle (digest {bundle.digest[:12]}…) as version {existing}")
    if parent is not None:
        q.get_version(tx, name, parent)
    m = bundle.manifest
    v = ModelVersion(
        model=name, version=q.latest_version(tx, name) + 1, digest=bundle.digest, state=State.REGISTERED,
        registered_by=actor, registered_at=utc_now(), description=description or "",
        sample_digest=(m.get("sample") or {}).get("digest"), parent_version=parent,
        metrics=frozen_map(m.get("metrics")), parity=frozen_map(m.get("parity")), source=frozen_map(m.get("source")))
    q.insert_version(tx, v)
    append_entry(tx, actor, "register", name, v.version, v.digest,
                 {"description": v.description, "parent_version": parent, "sample_digest": v.sample_digest,
                  "parity_passed": bool(v.parity.get("passed")), "metrics": dict(v.metrics)})
    return v


def _review(tx: Tx, v: ModelVersion, state: str, actor: str, note: str, action: str) -> ModelVersion:
    q.set_review(tx, v.model, v.version, state, actor, utc_now(), note)
    append_entry(tx, actor, action, v.model, v.version, v.digest, {"note": note})
    return q.get_version(tx, v.model, v.version)


def _approved(tx: Tx, name: str, version: int) -> ModelVersion:
    v = q.get_version(tx, name, version)
    if v.state != State.APPROVED:
        raise PreconditionFailed(f"{name} v{version} is {v.state}; only approved versions can be deployed")
    return v


def _alias_target(tx: Tx, name: str, alias: str) -> int:
    for a in q.list_aliases(tx, name):
        if a.alias == alias:
            return a.version
    if not q.model_exists(tx, name):
        raise NotFound(f"model {name!r} is not registered")
    raise NotFound(f"model {name!r} has no alias {alias!r}")


def _routing(d: Deployment) -> dict[str, Any]:
    r = d.to_dict()
    for k in ("model", "updated_by", "updated_at"):
        r.pop(k)
    return r
