"""Rollout operations on a model's deployment: canary start / step / promote / rollback and shadows.

Transport-free: the admin service calls these with the authenticated actor. Each is one registry change,
so each is one ledger entry with the actor and the reason, in the same transaction as the change; the
registry refuses versions that are not approved. Automatic steps and guardrails are not built yet.
"""

from __future__ import annotations

from typing import Any, Callable

from compiler.errors import InvalidInput, PreconditionFailed


class Rollouts:
    def __init__(self, registry: Any, stats: Callable[[str | None], dict[str, Any]]) -> None:
        self._registry = registry
        self._stats = stats

    def start(self, model: str, version: int, weight: float, actor: str, reason: str) -> dict[str, Any]:
        _weight(weight)
        self._registry.set_deployment(model, actor, reason or f"canary v{version} at {weight:g}%",
                                      canary=version, canary_weight=weight)
        return self.status(model)

    def step(self, model: str, weight: float, actor: str, reason: str) -> dict[str, Any]:
        _weight(weight)
        d = self._registry.deployment(model)
        if d is None or d.canary is None:
            raise PreconditionFailed(f"model {model!r} has no canary to step; start a rollout first")
        self._registry.set_deployment(model, actor, reason or f"canary v{d.canary} to {weight:g}%",
                                      canary_weight=weight)
        return self.status(model)

    def promote(self, model: str, actor: str, reason: str) -> dict[str, Any]:
        d = self._registry.deployment(model)
        if d is None or d.canary is None:
            raise PreconditionFailed(f"model {model!r} has no canary to promote")
        self._registry.set_deployment(model, actor, reason or f"promote canary v{d.canary}", champion=d.canary,
                                      canary=None, canary_weight=0.0)
        self._registry.set_alias(model, "champion", d.canary, actor)
        return self.status(model)

    def rollback(self, model: str, actor: str, reason: str) -> dict[str, Any]:
        if not reason:
            raise InvalidInput("reason: a rollback needs a reason (it goes into the ledger)")
        d = self._registry.deployment(model)
        if d is None or d.canary is None:
            raise PreconditionFailed(f"model {model!r} has no canary to roll back")
        self._registry.set_deployment(model, actor, reason, canary=None, canary_weight=0.0)
        return self.status(model)

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
        return {"model": model, "revision": d.revision, "champion": d.champion, "canary": d.canary,
                "canary_weight": d.canary_weight,
                "shadows": [{"version": s.version, "sample_rate": s.sample_rate} for s in d.shadows],
                "updated_by": d.updated_by, "updated_at": d.updated_at, "stats": self._stats(model)["versions"]}


def _weight(weight: float) -> None:
    if not 0.0 < weight <= 100.0:
        raise InvalidInput(f"weight: expected 0 < weight <= 100 (percent of customers), got {weight}")
