"""Drift states: ok -> warn -> alert (and back) per model version and feature/score, judged on the
aggregated counts of a window. One ledger entry per state change, with the figures and the thresholds,
never one per request. Runs in one process only (worker 0), so workers do not write duplicate entries."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from server.periodic import Periodic

log = logging.getLogger("scoregate.drift")


@dataclass(frozen=True)
class DriftThresholds:
    warn: float = 0.1
    alert: float = 0.25
    min_count: int = 500
    window: str = "5m"

    def state(self, psi: float) -> str:
        if psi != psi:
            return "ok"
        return "alert" if psi >= self.alert else "warn" if psi >= self.warn else "ok"


class DriftStates:
    """The last state per (model, version, feature); `update` returns only the changes."""

    def __init__(self, thresholds: DriftThresholds) -> None:
        self.thresholds = thresholds
        self.states: dict[tuple[str, int, str], str] = {}

    def restore(self, changes: list[dict[str, Any]]) -> None:
        """Resume from earlier state changes (the ledger's drift entries, oldest first), so a restart does
        not announce an alert that is already on record."""
        for c in changes:
            try:
                self.states[(str(c["model"]), int(c["version"]), str(c["feature"]))] = str(c["to"])
            except (KeyError, TypeError, ValueError):
                continue

    def update(self, report: dict[str, Any]) -> list[dict[str, Any]]:
        changes = []
        t = self.thresholds
        for v in report["versions"]:
            for f in v["figures"]:
                if f["count"] < t.min_count:
                    continue
                key = (report["model"], v["version"], f["name"])
                new = t.state(f["psi"])
                old = self.states.get(key, "ok")
                if new != old:
                    self.states[key] = new
                    changes.append({"model": key[0], "version": key[1], "feature": key[2], "from": old, "to": new,
                                    "psi": round(f["psi"], 6), "count": f["count"], "window": t.window,
                                    "nan_share": f["nan_share"], "out_of_range_share": f["out_of_range_share"],
                                    "thresholds": {"warn": t.warn, "alert": t.alert, "min_count": t.min_count}})
        return changes


class DriftWatch:
    def __init__(self, models: Callable[[], list[str]], report: Callable[[str, str], dict[str, Any]],
                 write: Callable[[dict[str, Any]], None], thresholds: DriftThresholds, interval_s: float) -> None:
        self._models = models
        self._report = report
        self._write = write
        self.states = DriftStates(thresholds)
        self._timer = Periodic("scoregate-drift", interval_s, self.check, log)

    def check(self) -> list[dict[str, Any]]:
        changes = []
        for model in self._models():
            for change in self.states.update(self._report(model, self.states.thresholds.window)):
                log.warning("drift %s -> %s: %s v%s %s psi %.4f", change["from"], change["to"], change["model"],
                            change["version"], change["feature"], change["psi"])
                self._write(change)
                changes.append(change)
        return changes

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
