"""The degradation rule: realised AUC against the bundle's training AUC, one ledger entry per state change.

Rule (per model version, over every outcome joined to it, whatever `--since` / `--by` a report shows, so
the state does not flip with the view someone asked for): with at least `min_outcomes` joined outcomes and
at least `min_per_class` of each label, the version is "degraded" when training AUC - realised AUC > margin,
else "ok". With fewer outcomes, or no training AUC in the manifest, the state is not judged and stays
what it was (like drift's `min_count`). Defaults: margin 0.05, 500 outcomes, 20 per class.

State changes are persisted in outcomes.db (`performance_state`, the initial state is "ok"), so evaluating
again writes nothing new. The ledger entry ("performance.degraded" / "performance.ok", with the figures
and the thresholds) is appended while the outcomes.db write lock is held and the new state is committed
after it: two concurrent evaluations cannot both write it, and a failed ledger write leaves the state
unchanged (the next evaluation retries). Only a crash between the two commits can repeat an entry.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Callable, Mapping

from compiler.errors import InvalidInput
from registry.outcomes import OutcomeStore
from registry.performance import metrics
from registry.records import utc_now
from registry.store import Tx

OK, DEGRADED = "ok", "degraded"


@dataclass(frozen=True)
class DegradationRule:
    margin: float = 0.05
    min_outcomes: int = 500
    min_per_class: int = 20

    def __post_init__(self) -> None:
        if not 0.0 <= self.margin < 1.0:
            raise InvalidInput(f"margin: expected 0 <= margin < 1, got {self.margin}")
        if self.min_outcomes < 1 or self.min_per_class < 1:
            raise InvalidInput(f"min_outcomes and min_per_class must be >= 1, got {self.min_outcomes}, "
                               f"{self.min_per_class}")

    def unjudged(self, figures: Mapping[str, Any], training_auc: float | None) -> str | None:
        """Why the evidence is not enough to judge, or None when it is."""
        count, bads = figures["count"], figures["bads"]
        if training_auc is None:
            return "the bundle's manifest has no training AUC"
        if count < self.min_outcomes:
            return f"{count} outcomes, needs {self.min_outcomes}"
        if min(bads, count - bads) < self.min_per_class or figures["auc"] is None:
            return f"{bads} bads and {count - bads} goods, needs {self.min_per_class} of each"
        return None

    def judge(self, figures: Mapping[str, Any], training_auc: float | None) -> str | None:
        """"ok", "degraded", or None when there is not enough evidence to judge."""
        if self.unjudged(figures, training_auc) is not None:
            return None
        # rounded so a drop of exactly the margin in decimal terms (0.75 - 0.70) is not "beyond" it by 4e-17
        return DEGRADED if round(training_auc - figures["auc"], 12) > self.margin else OK


# record(action, model, version, details): appends one ledger entry (Registry.record with the actor bound)
Recorder = Callable[[str, str, int, dict[str, Any]], Any]


def evaluate(store: OutcomeStore, model: str, training: Mapping[int, Mapping[str, Any]], rule: DegradationRule,
             record: Recorder) -> list[dict[str, Any]]:
    """Judge every version with outcomes; write a ledger entry for each state change; return the verdicts."""
    per_version: dict[int, tuple[list[int], list[float]]] = {}
    for version, _route, _time, score, label in store.joined(model):
        ys, ss = per_version.setdefault(version, ([], []))
        ys.append(label)
        ss.append(score)
    verdicts = []
    for version, (ys, ss) in sorted(per_version.items()):
        figures = metrics(ys, ss)
        training_auc = (training.get(version) or {}).get("auc")
        state = rule.judge(figures, training_auc)
        verdict = {"version": version, "state": state, "previous": None, "changed": False,
                   "auc": figures["auc"], "training_auc": training_auc,
                   "drop": None if figures["auc"] is None or training_auc is None else training_auc - figures["auc"],
                   "count": figures["count"], "bads": figures["bads"], "rule": asdict(rule),
                   "not_judged": rule.unjudged(figures, training_auc)}
        verdict.update(store.store.write(partial(_transition, model=model, version=version, state=state,
                                                 figures=figures, verdict=verdict, record=record)))
        verdicts.append(verdict)
    return verdicts


def evaluate_all(store: OutcomeStore, registry: Any, actor: str, rule: DegradationRule | None = None
                 ) -> list[dict[str, Any]]:
    """Apply the rule to every model in the registry (new outcomes are new evidence); return the state
    changes, each already written to the ledger as one entry by `actor`."""
    rule = rule or DegradationRule()
    versions = registry.versions()
    changes = []
    for model in sorted({v.model for v in versions}):
        training = {v.version: dict(v.metrics) for v in versions if v.model == model}
        for verdict in evaluate(store, model, training, rule,
                                lambda action, m, v, d: registry.record(actor, action, m, v, d)):
            if verdict.get("changed"):
                changes.append({"model": model, **verdict})
    return changes


def _transition(tx: Tx, model: str, version: int, state: str | None, figures: Mapping[str, Any],
                verdict: Mapping[str, Any], record: Recorder) -> dict[str, Any]:
    row = tx.one("SELECT state FROM performance_state WHERE model = ? AND version = ?", (model, version))
    previous = row[0] if row else OK
    if state is None or state == previous:
        return {"previous": previous, "state": state or previous, "judged": state is not None}
    details = {"from": previous, "to": state, "auc": figures["auc"], "training_auc": verdict["training_auc"],
               "drop": verdict["drop"], "gini": figures["gini"], "ks": figures["ks"], "brier": figures["brier"],
               "bad_rate": figures["bad_rate"], "count": figures["count"], "bads": figures["bads"],
               "thresholds": verdict["rule"]}
    record(f"performance.{state}", model, version, details)
    tx.execute("INSERT OR REPLACE INTO performance_state (model, version, state, changed_at, details) "
               "VALUES (?, ?, ?, ?, ?)", (model, version, state, utc_now(), json.dumps(details, sort_keys=True)))
    return {"previous": previous, "state": state, "changed": True, "judged": True}
