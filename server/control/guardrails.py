"""Guardrails of a canary rollout: the settings, the readings, and the judgement. Pure: no I/O, no clock.

The guard (guard.py) feeds this module counter readings taken since the rollout started, for the canary and
the champion over the same period, and acts on the verdict. The rules and why they look the way they do:

- **Error rate.** A broken canary hurts real customers, so it is judged early: from `min_error_sample`
  canary requests on, it breaches when the canary's error rate is, with high confidence (the Wilson lower
  bound at z = `error_z`, 3.09 ≈ 99.9 % one-sided), more than `max_error_increase` above the champion's
  rate. A canary failing every request breaches at its 10th error; a small random difference never does.
  Errors are every non-OK status, so callers' bad input (which both arms see alike) cancels out.
- **Latency.** From `min_requests` on both arms: the canary's p99 (total time in the gateway) above
  `max_p99_ratio` x the champion's, and above `p99_floor_us` (under a millisecond, ratios measure noise).
- **Scores.** From `min_requests` on both arms: PSI of the canary's score distribution against the
  champion's (comparison.psi_between) above `max_score_psi` (0.25: the practitioners' "major shift").
- **Shadow flip rate.** From `min_shadow_sample` scored copies: a shadow's decisions differ from the
  primary's on more than `max_flip_rate` of requests. Shadows are not served, so a breach is reported (a
  ledger entry, `status`), never acted on by routing.

Automatic steps (`steps`, `step_after`) advance only when every canary rule has been judged (its minimum
sample reached) and holds; a breach sets the canary weight to 0 and nothing advances again until an
operator starts a new rollout.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

import numpy as np

from compiler.errors import InvalidInput
from server.telemetry import histogram as hist
from server.telemetry.comparison import psi_between

RUNNING, ROLLED_BACK, PROMOTED = "running", "rolled_back", "promoted"


@dataclass(frozen=True)
class Guardrails:
    min_requests: int = 200
    min_error_sample: int = 10
    max_error_increase: float = 0.01
    error_z: float = 3.09
    max_p99_ratio: float = 1.5
    p99_floor_us: float = 1000.0
    max_score_psi: float = 0.25
    max_flip_rate: float = 0.2
    min_shadow_sample: int = 200
    steps: tuple[float, ...] = ()
    step_after_s: float = 0.0
    step_after_requests: int = 0
    auto_promote: bool = True

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any] | None) -> Guardrails:
        """Settings from a plain mapping (the deployment's stored doc or an operator's request), checked
        field by field; unknown keys are refused so a typo is not silently ignored."""
        doc = dict(doc or {})
        if "step_after" in doc:
            doc.update(parse_step_after(str(doc.pop("step_after"))))
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(doc) - set(known))
        if unknown:
            raise InvalidInput(f"guardrails: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
        values: dict[str, Any] = {}
        for name, value in doc.items():
            default = getattr(cls, name) if name != "steps" else ()
            try:
                if name == "steps":
                    values[name] = tuple(float(v) for v in value)
                elif isinstance(default, bool):
                    if not isinstance(value, bool):
                        raise TypeError
                    values[name] = value
                elif isinstance(default, int):
                    if float(value) != int(value):
                        raise ValueError
                    values[name] = int(value)
                else:
                    values[name] = float(value)
            except (TypeError, ValueError):
                raise InvalidInput(f"guardrails.{name}: expected {type(default).__name__}, got {value!r}") from None
        g = cls(**values)
        g.check()
        return g

    def check(self) -> None:
        for name in ("min_requests", "min_error_sample", "min_shadow_sample", "step_after_requests"):
            if getattr(self, name) < 0:
                raise InvalidInput(f"guardrails.{name}: expected >= 0, got {getattr(self, name)}")
        for name in ("max_error_increase", "error_z", "max_p99_ratio", "p99_floor_us", "max_score_psi",
                     "max_flip_rate", "step_after_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise InvalidInput(f"guardrails.{name}: expected a finite number >= 0, got {v}")
        if any(not (0 < s <= 100) for s in self.steps) or list(self.steps) != sorted(set(self.steps)):
            raise InvalidInput(f"steps: expected increasing percentages in (0, 100], got {list(self.steps)}")
        if self.steps and not (self.step_after_s or self.step_after_requests):
            raise InvalidInput("step_after: automatic steps need a hold per step, e.g. 10m or 5000req")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["steps"] = list(self.steps)
        return d

    def next_step(self, weight: float) -> float | None:
        return next((s for s in self.steps if s > weight + 1e-9), None)


def rollout_of(deployment: Any) -> tuple[Guardrails, dict[str, Any]]:
    """A deployment's guardrail settings and rollout state, from its `guardrails` document
    (`{"config": ..., "rollout": {...}}`, written by rollout.py); defaults and {} when there is none."""
    doc = dict(deployment.guardrails or {})
    return Guardrails.from_dict(doc.get("config")), dict(doc.get("rollout") or {})


_STEP_AFTER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|req)\s*$")


def parse_step_after(text: str) -> dict[str, float | int]:
    """'90s' | '10m' | '1h' -> step_after_s; '5000req' -> step_after_requests."""
    m = _STEP_AFTER.match(text)
    if not m:
        raise InvalidInput(f"step_after: expected a duration like 30s, 10m, 1h or a count like 5000req, got {text!r}")
    value, unit = float(m.group(1)), m.group(2)
    if unit == "req":
        return {"step_after_requests": int(value)}
    return {"step_after_s": value * {"s": 1, "m": 60, "h": 3600}[unit]}


@dataclass(frozen=True)
class ArmReading:
    """Counters of one arm over a period: requests and errors on its route, its total-latency histogram,
    and its scores on the shared grid."""

    requests: int
    errors: int
    latency: np.ndarray
    scores: np.ndarray

    def minus(self, base: ArmReading) -> ArmReading:
        return ArmReading(self.requests - base.requests, self.errors - base.errors, self.latency - base.latency,
                          self.scores - base.scores)


@dataclass(frozen=True)
class Verdict:
    readings: dict[str, Any]
    breaches: list[dict[str, Any]] = field(default_factory=list)
    judged: bool = False  # every rule had its minimum sample

    @property
    def healthy(self) -> bool:
        return self.judged and not self.breaches


def wilson_lower(errors: int, n: int, z: float) -> float:
    if n == 0:
        return 0.0
    p = errors / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


def judge(g: Guardrails, canary: ArmReading, champion: ArmReading) -> Verdict:
    """Readings and breaches of the canary rules, canary against champion over the same period."""
    c_rate = canary.errors / canary.requests if canary.requests else 0.0
    h_rate = champion.errors / champion.requests if champion.requests else 0.0
    c_lower = wilson_lower(canary.errors, canary.requests, g.error_z)
    c_p99, h_p99 = hist.quantile(canary.latency, 0.99), hist.quantile(champion.latency, 0.99)
    ok_c, ok_h = int(canary.scores.sum()), int(champion.scores.sum())
    psi = psi_between(canary.scores, champion.scores)
    readings = {"canary_requests": canary.requests, "champion_requests": champion.requests,
                "canary_error_rate": c_rate, "champion_error_rate": h_rate, "canary_error_rate_lower": c_lower,
                "canary_p99_us": c_p99, "champion_p99_us": h_p99,
                "p99_ratio": c_p99 / h_p99 if h_p99 and h_p99 == h_p99 else float("nan"),
                "score_psi": psi, "canary_scored": ok_c, "champion_scored": ok_h}
    breaches: list[dict[str, Any]] = []
    error_judged = canary.requests >= g.min_error_sample
    if error_judged and c_lower > h_rate + g.max_error_increase:
        breaches.append({"rule": "error_rate", "canary": c_rate, "canary_lower_bound": c_lower, "champion": h_rate,
                         "threshold": f"canary lower bound > champion + {g.max_error_increase}",
                         "canary_requests": canary.requests, "canary_errors": canary.errors})
    sample = min(canary.requests, champion.requests) >= g.min_requests
    if sample and c_p99 > max(g.p99_floor_us, g.max_p99_ratio * h_p99):
        breaches.append({"rule": "p99_latency", "canary_p99_us": c_p99, "champion_p99_us": h_p99,
                         "threshold": f"ratio > {g.max_p99_ratio} and p99 > {g.p99_floor_us:g} us"})
    scored = min(ok_c, ok_h) >= g.min_requests
    if scored and psi > g.max_score_psi:
        breaches.append({"rule": "score_psi", "psi": psi, "threshold": g.max_score_psi,
                         "canary_scored": ok_c, "champion_scored": ok_h})
    return Verdict(readings, breaches, error_judged and sample and scored)


def judge_shadow(g: Guardrails, version: int, counts: Mapping[str, Any]) -> dict[str, Any]:
    """The flip-rate rule for one shadow version: its state ('ok' | 'breach' | 'waiting') and figures."""
    scored, flips = int(counts.get("scored", 0)), int(counts.get("flips", 0))
    rate = flips / scored if scored else float("nan")
    state = "waiting" if scored < g.min_shadow_sample else "breach" if rate > g.max_flip_rate else "ok"
    return {"version": version, "state": state, "flip_rate": rate, "scored": scored, "flips": flips,
            "threshold": g.max_flip_rate, "min_sample": g.min_shadow_sample}
