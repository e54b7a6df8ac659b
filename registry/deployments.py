"""Building a new deployment (routing state) from the current one and a partial change, with its shape rules.

Why partial changes: the rollout commands move one knob at a time (canary weight 5 -> 25, a shadow on);
`KEEP` leaves a field as it is, `None` clears it. The approval rule (every referenced version approved)
needs the database and lives in service.py; the shape rules here need nothing but the values.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from compiler.digest import canonical_json
from compiler.errors import InvalidInput
from registry.records import Deployment, Shadow, frozen_map


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()  # "leave this field as it is"


def as_shadows(value: Iterable[Any] | None) -> tuple[Shadow, ...]:
    """Accept Shadow objects, (version, rate) pairs or {"version", "sample_rate"} dicts."""
    out = []
    for s in value or ():
        if isinstance(s, Shadow):
            out.append(s)
        elif isinstance(s, Mapping):
            out.append(Shadow(int(s["version"]), float(s["sample_rate"])))
        else:
            version, rate = s
            out.append(Shadow(int(version), float(rate)))
    return tuple(out)


def _check_weight(weight: float, canary: int | None) -> float:
    weight = float(weight)
    if not (math.isfinite(weight) and 0.0 <= weight <= 100.0):
        raise InvalidInput(f"canary_weight must be a percentage in 0..100, got {weight!r}")
    if canary is None and weight != 0.0:
        raise InvalidInput(f"canary_weight must be 0 without a canary version, got {weight!r}")
    return weight


def _check_shadows(shadows: tuple[Shadow, ...], champion: int | None, canary: int | None) -> None:
    seen = set()
    for s in shadows:
        if not (math.isfinite(s.sample_rate) and 0.0 < s.sample_rate <= 1.0):
            raise InvalidInput(f"shadow version {s.version}: sample_rate must be in (0, 1], got {s.sample_rate!r}")
        if s.version in (champion, canary):
            raise InvalidInput(f"shadow version {s.version} is already the champion or canary")
        if s.version in seen:
            raise InvalidInput(f"shadow version {s.version} is listed twice")
        seen.add(s.version)


def _check_guardrails(guardrails: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(guardrails, Mapping):
        raise InvalidInput(f"guardrails must be a mapping of settings, got {type(guardrails).__name__}")
    try:
        canonical_json(dict(guardrails))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"guardrails must be plain JSON values (finite numbers, strings, lists): {exc}") from exc
    return frozen_map(guardrails)


def plan(current: Deployment | None, model: str, actor: str, at: str, revision: int, *,
         champion: Any = KEEP, canary: Any = KEEP, canary_weight: Any = KEEP,
         shadows: Any = KEEP, guardrails: Any = KEEP) -> Deployment:
    """The deployment after applying the change to `current` (or to an empty one), shape-checked."""
    base = current or Deployment(model, None, None, 0.0, (), frozen_map({}), 0, actor, at)
    champ = base.champion if champion is KEEP else (None if champion is None else int(champion))
    can = base.canary if canary is KEEP else (None if canary is None else int(canary))
    if canary_weight is KEEP:
        canary_weight = base.canary_weight if can is not None else 0.0
    weight = _check_weight(canary_weight, can)
    sh = base.shadows if shadows is KEEP else as_shadows(shadows)
    guards = base.guardrails if guardrails is KEEP else _check_guardrails(guardrails)
    if can is not None and champ is None:
        raise InvalidInput(f"model {model!r}: a canary (version {can}) needs a champion")
    if can is not None and can == champ:
        raise InvalidInput(f"model {model!r}: canary and champion are both version {can}")
    _check_shadows(sh, champ, can)
    return Deployment(model, champ, can, weight, sh, guards, revision, actor, at)
