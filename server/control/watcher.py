"""RoutingWatcher: polls the registry's routing revision (one cheap read), and when it moves, loads and
warms new runners on its own thread, then swaps the routing table on the event loop and drains old arms.

Control never reaches into the hot path: requests only ever see a complete, warmed table. A version that
fails to load (digest mismatch, bad ONNX) leaves the current one serving, with a ledger entry and a log line.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

from compiler.bundle import Bundle
from server.batching.batcher import BatchConfig, Batcher
from server.routing.shadow import ShadowLane
from server.routing.table import Arm, ModelRoutes, RoutingTable
from server.runtime.runner import ModelRunner, RunnerKey

log = logging.getLogger("scoregate.control")


class RoutingSource(Protocol):
    """What the watcher needs from the registry (registry.service.Registry provides it)."""

    def routing_revision(self) -> int: ...
    def deployments(self) -> Sequence[Any]: ...
    def version(self, name: str, version: int) -> Any: ...
    def open_bundle(self, name: str, version: int) -> Bundle: ...
    def record_gateway_event(self, action: str, model: str, version: int | None, details: dict) -> None: ...


@dataclass(frozen=True)
class RuntimeConfig:
    batch: BatchConfig
    intra_op_threads: int
    max_rows: int
    poll_interval_s: float


class RoutingWatcher:
    def __init__(self, source: RoutingSource, install: Callable[[RoutingTable], None], current: Callable[[], RoutingTable],
                 loop: asyncio.AbstractEventLoop, executor: Executor, config: RuntimeConfig,
                 attach: Callable[[ModelRunner], None] | None = None,
                 shadow_executor: Executor | None = None) -> None:
        self._source = source
        self._install = install
        self._current = current
        self._loop = loop
        self._executor = executor
        self._config = config
        self._attach = attach  # gives a new runner its metrics before it serves
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.applied_revision = -1
        self.failures: dict[RunnerKey, str] = {}  # keys that failed to load, so one bad bundle is tried once
        self._poll_lock = threading.Lock()  # the poll thread and the guard (converging at once) take turns
        self._shadow_executor = shadow_executor or executor

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop_forever, name="scoregate-routing", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - the watcher must survive a bad poll (db briefly unavailable, ...)
                log.exception("routing poll failed; keeping the current routing table")
            self._stop.wait(self._config.poll_interval_s)

    def poll_once(self) -> bool:
        """Apply the registry's routing state if its revision moved; True when a new table was installed."""
        with self._poll_lock:
            return self._poll()

    def _poll(self) -> bool:
        revision = self._source.routing_revision()
        if revision == self.applied_revision:
            return False
        deployments = self._source.deployments()
        current = self._current()
        existing = {arm.runner.key: arm.runner for arm in current.arms()}
        existing.update({lane.runner.key: lane.runner for lane in current.lanes()})
        plan: dict[str, dict[str, Any]] = {}
        pending: dict[str, str] = {}
        for d in deployments:
            if d.champion is None:
                pending[d.model] = "no champion is deployed"
                continue
            champion = self._runner(d.model, d.champion, existing)
            if champion is None:
                pending[d.model] = f"version {d.champion} failed to load (see the ledger)"
                continue
            canary = self._runner(d.model, d.canary, existing) if d.canary and d.canary_weight > 0 else None
            shadows = [(r, s.sample_rate) for s in d.shadows
                       if (r := self._runner(d.model, s.version, existing)) is not None and r is not champion]
            plan[d.model] = {"champion": champion, "canary": canary, "shadows": shadows,
                             "weight": d.canary_weight if canary else 0.0, "salt": f"{d.model}:{d.canary}"}
        future = asyncio.run_coroutine_threadsafe(self._swap(revision, plan, pending), self._loop)
        future.result(timeout=60)
        self.applied_revision = revision
        return True

    def _runner(self, model: str, version: int | None, existing: dict[RunnerKey, ModelRunner]) -> ModelRunner | None:
        if version is None:
            return None
        record = self._source.version(model, version)
        key = RunnerKey(model, version, record.digest)
        if key in existing:
            return existing[key]
        if key in self.failures:
            return self._fallback(model, existing)
        try:
            runner = ModelRunner(key, self._source.open_bundle(model, version), self._config.intra_op_threads,
                                 self._config.max_rows)
            runner.warm()
            if self._attach is not None:
                self._attach(runner)
            log.info("loaded %s v%d (%s…)", model, version, key.digest[:12])
            return runner
        except Exception as exc:  # noqa: BLE001 - any load failure keeps the current version serving
            self.failures[key] = f"{type(exc).__name__}: {exc}"
            log.error("model %s v%d failed to load, keeping the current version: %s", model, version, exc)
            self._source.record_gateway_event("load_failed", model, version, {"error": str(exc)[:500]})
            return self._fallback(model, existing)

    def _fallback(self, model: str, existing: dict[RunnerKey, ModelRunner]) -> ModelRunner | None:
        routes = self._current().models.get(model)
        return routes.champion.runner if routes is not None else None

    async def _swap(self, revision: int, plan: dict[str, dict[str, Any]], pending: dict[str, str]) -> None:
        old = self._current()
        arms = {arm.runner.key: arm for arm in old.arms()}
        lanes = {(lane.runner.key, lane.sample_rate): lane for lane in old.lanes()}
        models = {}
        for name, p in plan.items():
            champion = self._arm(p["champion"], arms)
            canary = self._arm(p["canary"], arms) if p["canary"] is not None else None
            shadows = tuple(self._lane(runner, rate, lanes) for runner, rate in p["shadows"])
            models[name] = ModelRoutes(name, champion, canary, p["weight"], p["salt"], shadows)
        table = RoutingTable(revision, models, pending)
        self._install(table)
        live = {arm.runner.key for arm in table.arms()}
        live_lanes = {id(lane) for lane in table.lanes()}
        loop = asyncio.get_running_loop()
        for key, arm in arms.items():
            if key not in live:
                loop.create_task(arm.batcher.close())  # drain: finish queued, then stop
        for lane in lanes.values():
            if id(lane) not in live_lanes:
                loop.create_task(lane.close())

    def _lane(self, runner: ModelRunner, rate: float, lanes: dict[tuple[RunnerKey, float], ShadowLane]) -> ShadowLane:
        lane = lanes.get((runner.key, rate))
        if lane is None:
            lane = ShadowLane(runner, rate, self._shadow_executor, self._config.batch.max_queue // 2 or 1,
                              min(ShadowLane.MAX_BATCH, self._config.batch.max_batch_size))
            lane.start()
            lanes[(runner.key, rate)] = lane
        return lane

    def _arm(self, runner: ModelRunner, arms: dict[RunnerKey, Arm]) -> Arm:
        arm = arms.get(runner.key)
        if arm is None:
            batcher = Batcher(runner.run_timed, self._config.batch, self._executor)
            batcher.start()
            arm = Arm(runner, batcher)
            arms[runner.key] = arm
        return arm
