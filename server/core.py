"""The scoring core: route -> check -> batch -> reply. Transport-free (no grpc import) and lock-free: it
reads one immutable routing-table snapshot per request; the control plane swaps that snapshot."""

from __future__ import annotations

import time

import numpy as np

from compiler.errors import NotFound, PreconditionFailed
from server.errors import DeadlineExceeded, Unavailable
from server.routing.router import decide
from server.routing.table import ModelRoutes, RoutingTable
from server.types import ModelView, ScoreCall, ScoreResult


class ScoringCore:
    def __init__(self) -> None:
        self._table = RoutingTable()
        self._live = True
        self._accepting = False

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
        if not self._accepting:
            raise Unavailable("the gateway is not accepting requests (starting or shutting down)")
        routes = self._routes(call.model)
        if call.deadline is not None and call.deadline <= time.monotonic():
            raise DeadlineExceeded("deadline already passed on arrival; the request was not run")
        route, arm = decide(routes, call.entity_key, call.request_id)
        runner = arm.runner
        runner.check(call.x)
        served = await arm.batcher.submit(call.x, call.deadline)
        scores = served.scores
        decisions = scores.astype(np.float64) >= runner.threshold
        for lane in routes.shadows:  # O(1) each, never waited for
            lane.offer(call.request_id, call.x, scores, decisions)
        return ScoreResult(
            request_id=call.request_id, model=runner.key.model, version=runner.key.version, route=route,
            digest=runner.key.digest, scores=scores, decisions=decisions, threshold=runner.threshold,
        )
