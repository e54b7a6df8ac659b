"""Realised performance, re-judged by the gateway when outcomes arrive over RecordOutcomes.

`scoregate outcomes import` and `scoregate performance` judge on the spot; outcomes posted over gRPC are
judged here: worker 0 checks every `interval_s` whether outcomes.db holds more outcomes than last time and,
if so, applies the degradation rule to every model (one ledger entry per state change, never one per check).
Off the event loop, on its own thread: the join reads every outcome of a model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from registry.degradation import evaluate_all
from server.periodic import Periodic

log = logging.getLogger("scoregate.performance")


class PerformanceWatch:
    def __init__(self, home: Path, registry: Any, actor: str, interval_s: float = 60.0) -> None:
        self._home = Path(home)
        self._registry = registry
        self._actor = actor
        self._seen = -1
        self._timer = Periodic("scoregate-performance", interval_s, self.check, log)

    def check(self) -> list[dict[str, Any]]:
        from registry.outcomes import OutcomeStore

        if not (self._home / "outcomes.db").exists():
            return []
        store = OutcomeStore(self._home)
        try:
            count = store.count()
            if count == self._seen:
                return []
            changes = evaluate_all(store, self._registry, self._actor)
            self._seen = count
        finally:
            store.close()
        for c in changes:
            log.warning("realised performance %s -> %s: %s v%s (AUC %.4f, training %.4f)", c["previous"],
                        c["state"], c["model"], c["version"], c["auc"], c["training_auc"])
        return changes

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
