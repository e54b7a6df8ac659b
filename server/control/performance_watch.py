"""Realised performance, re-judged by the gateway when outcomes arrive over RecordOutcomes.

`scoregate outcomes import` and `scoregate performance` judge on the spot; outcomes posted over gRPC are
judged here: worker 0 checks every `interval_s` whether outcomes.db holds more outcomes than last time and,
if so, applies the degradation rule to every model (one ledger entry per state change, never one per check).
Off the event loop, on its own thread: the join reads every outcome of a model.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from registry.degradation import evaluate_all

log = logging.getLogger("scoregate.performance")


class PerformanceWatch:
    def __init__(self, home: Path, registry: Any, actor: str, interval_s: float = 60.0) -> None:
        self._home = Path(home)
        self._registry = registry
        self._actor = actor
        self._interval = interval_s
        self._seen = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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
        self._thread = threading.Thread(target=self._loop, name="scoregate-performance", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watch must outlive one bad evaluation
                log.exception("performance check failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
