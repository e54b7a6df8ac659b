"""The guard: watches every running canary against its champion and acts on the guardrails' verdict.

Runs on its own thread in one process only (worker 0), reading the telemetry aggregated over all workers,
and changes routing only through the registry (via Rollouts): a breach sets the canary weight to 0 with one
ledger entry carrying the evidence; a healthy rollout with automatic steps moves to its next weight, and
after its last step holds, is promoted. Then it converges its own worker at once; other workers follow
within their poll interval.

Why it wakes on canary errors: a canary that fails every request must be stopped after a handful of errors,
not after a polling period's worth of them. The core calls `alarm()` on each canary failure (an Event set,
on the error path only); otherwise the guard checks every `interval_s`.

The window of every reading is "since this rollout started, as seen by this guard" (a baseline per rollout
taken on first sight): canary and champion are compared over the same period, and a gateway restart starts
a fresh window (it waits for its minimum sample again rather than judging on counters it did not see).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from server.control.guardrails import RUNNING, ArmReading, Guardrails, judge, judge_shadow, rollout_of
from server.telemetry import histogram as hist
from server.telemetry.comparison import GRID, ShadowCounters, shadow_summary

log = logging.getLogger("scoregate.guard")
GUARD_ACTOR = "scoregate-guard"
MIN_GAP_S = 0.02  # between two checks, however often the alarm rings


def json_safe(value: Any) -> Any:
    """Plain JSON values: NaN and infinities become None, numpy scalars plain numbers."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def arm_reading(aggregate: Any, route: str) -> ArmReading:
    """An arm's counters from a telemetry Aggregate (zeros when the version has not served yet)."""
    if aggregate is None:
        return ArmReading(0, 0, np.zeros(hist.N_BUCKETS, dtype=np.int64), np.zeros(GRID, dtype=np.int64))
    n, errors = aggregate.requests(route)
    latency = aggregate.latency.get(f"{route}|total")
    return ArmReading(n, errors, latency.copy() if latency is not None else np.zeros(hist.N_BUCKETS, dtype=np.int64),
                      aggregate.score_grid.copy())


class Guard:
    def __init__(self, deployments: Callable[[], Sequence[Any]], aggregates: Callable[[], Mapping[tuple, Any]],
                 rollouts: Any, converge: Callable[[], Any], record: Callable[[str, str, int | None, dict], None],
                 publish_to: Path | None, interval_s: float = 0.5, clock: Callable[[], float] = time.monotonic) -> None:
        self._deployments = deployments
        self._aggregates = aggregates
        self._rollouts = rollouts
        self._converge = converge
        self._record = record
        self._publish_to = publish_to
        self._interval = interval_s
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._baselines: dict[tuple, tuple[ArmReading, ArmReading]] = {}
        self._step_start: dict[tuple, tuple[float, int]] = {}
        self._shadow_states: dict[tuple[str, int], str] = {}
        self.readings: dict[str, dict[str, Any]] = {}
        self._published = ""

    def restore(self, events: list[dict[str, Any]]) -> None:
        """Resume shadow flip states from the ledger's earlier `guardrail.shadow_*` entries (oldest first)."""
        for e in events:
            if "version" in e and e.get("state") in ("ok", "breach") and "model" in e:
                self._shadow_states[(str(e["model"]), int(e["version"]))] = e["state"]

    # -- the loop ----------------------------------------------------------------------------------------
    def alarm(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scoregate-guard", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the guard must outlive one bad evaluation
                log.exception("guardrail check failed")
            self._stop.wait(MIN_GAP_S)

    # -- one evaluation ----------------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Judge every deployment once; return the actions taken (for logs and tests)."""
        aggs = {(k[0], k[1]): a for k, a in self._aggregates().items()}
        actions: list[str] = []
        readings: dict[str, dict[str, Any]] = {}
        for d in self._deployments():
            config, rollout = rollout_of(d)
            view: dict[str, Any] = {"state": rollout.get("state", "none"), "config": config.to_dict(),
                                    "shadows": self._shadows(d, config, aggs)}
            readings[d.model] = view
            if d.canary is None or d.canary_weight <= 0 or rollout.get("state") != RUNNING:
                continue
            rid = (d.model, d.canary, rollout.get("started_at", ""))
            canary = arm_reading(aggs.get((d.model, d.canary)), "canary")
            champion = arm_reading(aggs.get((d.model, d.champion)), "champion")
            base = self._baselines.setdefault(rid, (canary, champion))
            verdict = judge(config, canary.minus(base[0]), champion.minus(base[1]))
            view.update(readings=verdict.readings, judged=verdict.judged, breaches=verdict.breaches)
            if verdict.breaches:
                rules = ", ".join(b["rule"] for b in verdict.breaches)
                log.warning("guardrail breach on %s canary v%d: %s; rolling back", d.model, d.canary, rules)
                self._rollouts.guard_rollback(d.model, d.canary, json_safe(verdict.breaches),
                                              json_safe(verdict.readings))
                view["state"] = "rolled_back"
                actions.append(f"rollback {d.model} v{d.canary}: {rules}")
                self._converge()
                continue
            action = self._advance(d, config, rid, canary, verdict)
            if action:
                actions.append(action)
                self._converge()
        self.readings = readings
        self._publish()
        return actions

    def _advance(self, d: Any, config: Guardrails, rid: tuple, canary: ArmReading, verdict: Any) -> str:
        """The next automatic step (or promotion) when the current weight has held long enough, healthy."""
        if not config.steps:
            return ""
        now = self._clock()
        started, at_requests = self._step_start.setdefault((rid, d.canary_weight), (now, canary.requests))
        held = ((not config.step_after_s or now - started >= config.step_after_s)
                and (not config.step_after_requests or canary.requests - at_requests >= config.step_after_requests))
        if not (held and verdict.healthy):
            return ""
        evidence = json_safe(verdict.readings)
        nxt = config.next_step(d.canary_weight)
        if nxt is not None:
            self._rollouts.step(d.model, nxt, GUARD_ACTOR, f"automatic step {d.canary_weight:g}% -> {nxt:g}%: "
                                "guardrails hold", evidence=evidence)
            return f"step {d.model} to {nxt:g}%"
        if config.auto_promote:
            self._rollouts.promote(d.model, GUARD_ACTOR, f"automatic promotion of v{d.canary}: every step held",
                                   evidence=evidence)
            return f"promote {d.model} v{d.canary}"
        return ""

    def _shadows(self, d: Any, config: Guardrails, aggs: Mapping[tuple, Any]) -> list[dict[str, Any]]:
        """Flip-rate readings per shadow; one ledger entry per state change (ok <-> breach), never acted on."""
        out = []
        for s in d.shadows:
            agg = aggs.get((d.model, s.version))
            counts = agg.shadow_counts if agg is not None else np.zeros(len(ShadowCounters.FIELDS), dtype=np.int64)
            delta = agg.shadow_delta if agg is not None else np.zeros(hist.N_BUCKETS, dtype=np.int64)
            summary = shadow_summary(counts, delta)
            reading = {"model": d.model, **judge_shadow(config, s.version, summary), **summary}
            out.append(reading)
            key = (d.model, s.version)
            old = self._shadow_states.get(key, "ok")
            new = reading["state"] if reading["state"] != "waiting" else old
            if new != old:
                self._shadow_states[key] = new
                self._record(f"guardrail.shadow_{new}", d.model, s.version, json_safe(reading))
        return out

    def _publish(self) -> None:
        """Leave the readings where every worker's admin API can show them (`rollout status`)."""
        if self._publish_to is None:
            return
        text = json.dumps(json_safe(self.readings), sort_keys=True)
        if text == self._published:
            return
        tmp = self._publish_to.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self._publish_to)
        self._published = text


def read_published(path: Path | None, model: str | None = None) -> dict[str, Any] | None:
    """The guard's latest readings for `model` (or every model's), as worker 0 left them."""
    if path is None:
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if model is None else doc.get(model)
