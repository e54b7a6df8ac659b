"""The scoring core: route -> check -> batch -> count -> record -> reply. Transport-free (no grpc import)
and lock-free: it reads one immutable routing-table snapshot per request; the control plane swaps it."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from compiler.errors import NotFound, PreconditionFailed, ScoregateError
from server.errors import DeadlineExceeded, Overloaded, Unavailable, status_name
from server.routing.router import CANARY, decide
from server.routing.table import ModelRoutes, RoutingTable
from server.runtime.runner import ModelRunner
from server.types import ModelView, ScoreCall, ScoreResult

_US = 1e6


class ScoringCore:
    def __init__(self, recorder: object | None = None) -> None:
        self._table = RoutingTable()
        self._live = True
        self._accepting = False
        self._recorder = recorder  # DecisionRecorder, or None when decision records are off
        self.alarm: Callable[[], None] | None = None  # the guard's wake-up, rung on each canary failure

    # control plane -------------------------------------------------------------------------------------
    @property
    def table(self) -> RoutingTable:
        return self._table

    def install(self, table: RoutingTable) -> None:
        """Swap the routing table (one reference assignment: requests see the old or the new, never a mix)."""
        self._table = table

    def set_accepting(self, accepting: bool) -> None:
        self._accepting = accepting

    # queries -------------------------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        return self._live

    @property
    def ready(self) -> bool:
        return self._accepting and bool(self._table.models)

    def models(self) -> list[ModelView]:
        return [self._view(r) for r in self._table.models.values()]

    def model(self, name: str) -> ModelView:
        return self._view(self._routes(name))

    def _view(self, routes: ModelRoutes) -> ModelView:
        r = routes.champion.runner
        return ModelView(r.key.model, r.key.version, r.key.digest, r.schema, self._accepting and r.warmed, r.max_rows)

    def _routes(self, name: str) -> ModelRoutes:
        table = self._table
        routes = table.models.get(name)
        if routes is not None:
            return routes
        if not name:
            raise NotFound("model: a model name is required")
        why = table.pending.get(name)
        if why is not None:
            raise PreconditionFailed(f"model {name!r} is not served: {why}")
        known = ", ".join(sorted(table.models)) or "none"
        raise NotFound(f"model {name!r} is not served here; served models: {known}")

    # the hot path --------------------------------------------------------------------------------------
    async def score(self, call: ScoreCall) -> ScoreResult:
        t0 = time.perf_counter()
        if not self._accepting:
            raise Unavailable("the gateway is not accepting requests (starting or shutting down)")
        try:
            routes = self._routes(call.model)
        except ScoregateError as exc:
            await self.reject(call.model, call.request_id, call.caller, exc, t0)
            raise
        route, arm = decide(routes, call.entity_key, call.request_id)
        runner = arm.runner
        try:
            if call.deadline is not None and call.deadline <= time.monotonic():
                raise DeadlineExceeded("deadline already passed on arrival; the request was not run")
            runner.check(call.x)
            served = await arm.batcher.submit(call.x, call.deadline)
        except ScoregateError as exc:
            await self.reject(call.model, call.request_id, call.caller, exc, t0, runner, route, call.x)
            raise
        scores = served.scores
        decisions = scores.astype(np.float64) >= runner.threshold
        for lane in routes.shadows:  # O(1) each, never waited for
            lane.offer(call.request_id, call.x, scores, decisions)
        total_us = int((time.perf_counter() - t0) * _US)
        m = runner.metrics
        if m is not None:
            m.served(route, int(served.queue_s * _US), int(served.transform_s * _US), int(served.infer_s * _US),
                     total_us)
        recorder = self._recorder
        if recorder is not None:  # journaled before the reply (DecisionRecorder.record)
            k = runner.key
            future = recorder.record(call.request_id, call.caller, call.model, k.version, k.digest, route, call.x,
                                     scores, decisions, "OK", total_us)
            if future is not None:
                await future
        return ScoreResult(
            request_id=call.request_id, model=runner.key.model, version=runner.key.version, route=route,
            digest=runner.key.digest, scores=scores, decisions=decisions, threshold=runner.threshold,
        )

    async def reject(self, model: str, request_id: str, caller: str, exc: BaseException, t0: float,
                     runner: ModelRunner | None = None, route: str = "", x: np.ndarray | None = None) -> None:
        """Count and record a failed request (also called by the edge for requests it could not decode)."""
        status = status_name(exc)
        if runner is not None and runner.metrics is not None:
            runner.metrics.count(route, status)
            if isinstance(exc, Overloaded):
                runner.metrics.shed()
            elif isinstance(exc, DeadlineExceeded):
                runner.metrics.expired()
        if route == CANARY and self.alarm is not None:
            self.alarm()
        if self._recorder is not None:
            version, digest = (runner.key.version, runner.key.digest) if runner else (0, "")
            try:
                future = self._recorder.record(request_id, caller, model, version, digest, route, x, None, None,
                                               status, int((time.perf_counter() - t0) * _US))
                if future is not None:
                    await future
            except Unavailable:
                pass  # the request fails anyway; the failure to record it is counted by the recorder
