"""Rollout operations on a model's deployment: canary start / step / promote / rollback and shadows.

Transport-free: the admin service calls these with the authenticated actor. Each is one registry change,
so each is one ledger entry with the actor and the reason, in the same transaction as the change; the
registry refuses versions that are not approved.

The rollout's guardrail settings and its state live in the deployment's `guardrails` document:
`{"config": Guardrails.to_dict(), "rollout": {"state", "version", "started_at", "breach"?}}`, so every
worker and every restart sees the same rollout; the guard (guard.py) acts on it through these methods.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from compiler.errors import InvalidInput, PreconditionFailed
from registry.records import utc_now
from server.control.guardrails import PROMOTED, ROLLED_BACK, RUNNING, Guardrails, rollout_of


class Rollouts:
    def __init__(self, registry: Any, stats: Callable[[str | None], dict[str, Any]],
                 readings: Callable[[str], dict[str, Any] | None] = lambda model: None) -> None:
        self._registry = registry
        self._stats = stats
        self._readings = readings  # the guard's latest readings for a model (published by worker 0)

    def start(self, model: str, version: int, weight: float, actor: str, reason: str,
              guardrails: Mapping[str, Any] | None = None) -> dict[str, Any]:
        _weight(weight)
        config = Guardrails.from_dict(guardrails)
        doc = {"config": config.to_dict(), "rollout": {"state": RUNNING, "version": int(version),
                                                       "started_at": utc_now(), "started_by": actor}}
        plan = f"; steps {', '.join(f'{s:g}' for s in config.steps)}" if config.steps else ""
        self._registry.set_deployment(model, actor, reason or f"canary v{version} at {weight:g}%{plan}",
                                      canary=version, canary_weight=weight, guardrails=doc)
        return self.status(model)

    def _running(self, model: str, what: str) -> Any:
        d = self._registry.deployment(model)
        if d is None or d.canary is None:
            raise PreconditionFailed(f"model {model!r} has no canary to {what}; start a rollout first")
        _, rollout = rollout_of(d)
        if rollout.get("state") == ROLLED_BACK:
            why = rollout.get("reason", "")
            raise PreconditionFailed(f"model {model!r}: the rollout of v{d.canary} was rolled back ({why}); "
                                     "start a new rollout to try again")
        return d

    def step(self, model: str, weight: float, actor: str, reason: str,
             evidence: Mapping[str, Any] | None = None) -> dict[str, Any]:
        _weight(weight)
        d = self._running(model, "step")
        self._registry.set_deployment(model, actor, reason or f"canary v{d.canary} to {weight:g}%",
                                      canary_weight=weight, evidence=evidence)
        return self.status(model)

    def promote(self, model: str, actor: str, reason: str, evidence: Mapping[str, Any] | None = None) -> dict[str, Any]:
        d = self._running(model, "promote")
        doc = _with_rollout(d, state=PROMOTED, ended_at=utc_now(), ended_by=actor)
        self._registry.set_deployment(model, actor, reason or f"promote canary v{d.canary}", champion=d.canary,
                                      canary=None, canary_weight=0.0, guardrails=doc, evidence=evidence)
        self._registry.set_alias(model, "champion", d.canary, actor)
        return self.status(model)

    def rollback(self, model: str, actor: str, reason: str) -> dict[str, Any]:
        if not reason:
            raise InvalidInput("reason: a rollback needs a reason (it goes into the ledger)")
        d = self._registry.deployment(model)
        if d is None or d.canary is None:
            raise PreconditionFailed(f"model {model!r} has no canary to roll back")
        doc = _with_rollout(d, state=ROLLED_BACK, reason=reason, ended_at=utc_now(), ended_by=actor)
        self._registry.set_deployment(model, actor, reason, canary=None, canary_weight=0.0, guardrails=doc)
        return self.status(model)

    def guard_rollback(self, model: str, version: int, breaches: list[dict[str, Any]],
                       readings: Mapping[str, Any]) -> None:
        """A guardrail breach: the canary's weight goes to 0 (the version stays named, so `status` can say
        what was rolled back and why), with the figures and thresholds as the ledger entry's evidence."""
        from server.control.guard import GUARD_ACTOR

        d = self._registry.deployment(model)
        if d is None or d.canary != version or d.canary_weight <= 0:
            return  # an operator changed the rollout meanwhile; their change stands
        rules = ", ".join(b["rule"] for b in breaches)
        reason = f"guardrail breach ({rules}): canary v{version} rolled back automatically"
        doc = _with_rollout(d, state=ROLLED_BACK, reason=reason, breaches=list(breaches), readings=dict(readings),
                            ended_at=utc_now(), ended_by=GUARD_ACTOR)
        self._registry.set_deployment(model, GUARD_ACTOR, reason, canary_weight=0.0, guardrails=doc,
                                      evidence={"breaches": list(breaches), "readings": dict(readings)})

    def shadow(self, model: str, version: int, sample: float, off: bool, actor: str, reason: str) -> dict[str, Any]:
        d = self._registry.deployment(model)
        current = [{"version": s.version, "sample_rate": s.sample_rate} for s in (d.shadows if d else ())
                   if s.version != version]
        if not off:
            if not 0.0 < sample <= 1.0:
                raise InvalidInput(f"sample: expected 0 < sample <= 1, got {sample}")
            current.append({"version": version, "sample_rate": sample})
        what = f"shadow v{version} off" if off else f"shadow v{version} at {sample:g}"
        self._registry.set_deployment(model, actor, reason or what, shadows=current)
        return self.status(model)

    def status(self, model: str) -> dict[str, Any]:
        d = self._registry.deployment(model)
        if d is None:
            raise PreconditionFailed(f"model {model!r} has no deployment")
        config, rollout = rollout_of(d)
        return {"model": model, "revision": d.revision, "champion": d.champion, "canary": d.canary,
                "canary_weight": d.canary_weight,
                "shadows": [{"version": s.version, "sample_rate": s.sample_rate} for s in d.shadows],
                "updated_by": d.updated_by, "updated_at": d.updated_at,
                "guardrails": config.to_dict(), "rollout": rollout,
                "guard": self._readings(model) or {}, "stats": self._stats(model)["versions"]}


def _weight(weight: float) -> None:
    if not 0.0 < weight <= 100.0:
        raise InvalidInput(f"weight: expected 0 < weight <= 100 (percent of customers), got {weight}")


def _with_rollout(d: Any, **changes: Any) -> dict[str, Any]:
    """The deployment's guardrails document with its rollout state updated."""
    _, rollout = rollout_of(d)
    return {**dict(d.guardrails or {}), "rollout": {**rollout, **changes}}
