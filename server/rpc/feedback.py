"""The Feedback service (RecordOutcomes) on the admin port: back-office jobs post outcomes as they arrive.

Why the admin port and token: outcomes decide whether a model is reported as degraded, so only trusted
jobs may write them (no token is UNAUTHENTICATED, a scoring token PERMISSION_DENIED, as for Admin).
The rules are registry/outcomes.py's, shared with `scoregate outcomes import`. SQLite work (an index refresh
over the decision files, then one write transaction, FULL sync) runs on the default executor, never on the
event loop that serves scoring traffic. The store is opened on first use, so a gateway that never receives
outcomes never creates outcomes.db.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import grpc

from compiler.errors import InvalidInput
from registry.outcomes import ImportReport, OutcomeItem, OutcomeStore, Problem, check_source
from server.api.v1 import feedback_pb2, feedback_pb2_grpc
from server.rpc.admin import AdminAuth, actor_of
from server.rpc.status import abort

MAX_OUTCOMES = 10_000
SERVICE_NAME = feedback_pb2.DESCRIPTOR.services_by_name["Feedback"].full_name


def items_of(request: feedback_pb2.RecordOutcomesRequest) -> list[OutcomeItem]:
    """Request-level checks (raise InvalidInput naming the field); per-item values go to the store's rules."""
    n = len(request.outcomes)
    if n == 0:
        raise InvalidInput("outcomes: at least one outcome is required, got none")
    if n > MAX_OUTCOMES:
        raise InvalidInput(f"outcomes: at most {MAX_OUTCOMES} per call, got {n}; split the batch")
    items = []
    for i, o in enumerate(request.outcomes):
        label: Any = o.label if o.HasField("label") else None
        observed: Any = None
        error = None
        if o.HasField("observed_time"):
            try:
                observed = o.observed_time.ToDatetime(tzinfo=timezone.utc)
            except (ValueError, OverflowError):
                error = f"outcomes[{i}].observed_time: not a valid timestamp"
        items.append(OutcomeItem(i, o.request_id, label, observed, error))
    return items


def _error(p: Problem) -> feedback_pb2.OutcomeError:
    """An invalid field is named by its path in the request, e.g. `outcomes[3].label: expected 0 or 1, got 7`."""
    message = p.message
    if p.kind == "invalid" and not message.startswith("outcomes["):
        message = f"outcomes[{p.position}].{message}"
    return feedback_pb2.OutcomeError(index=p.position, request_id=p.request_id, kind=p.kind, message=message)


class FeedbackServicer(feedback_pb2_grpc.FeedbackServicer):
    def __init__(self, auth: AdminAuth, home: Path, settle: Callable[[], Awaitable[Any]] | None = None) -> None:
        self._auth = auth
        self._settle = settle  # waits until this gateway's recent decisions are in the chain (or None)
        self._home = Path(home)
        self._store: OutcomeStore | None = None
        self._lock = threading.Lock()

    def _open(self) -> OutcomeStore:
        with self._lock:
            if self._store is None:
                self._store = OutcomeStore(self._home)
            return self._store

    def _record(self, items: list[OutcomeItem], source: str, all_or_nothing: bool) -> ImportReport:
        return self._open().record(items, source, all_or_nothing)

    async def RecordOutcomes(self, request: feedback_pb2.RecordOutcomesRequest,
                             context: grpc.aio.ServicerContext) -> feedback_pb2.RecordOutcomesReply:
        try:
            self._auth.check(context)
            items = items_of(request)
            source = check_source(request.source) if request.source else f"rpc:{actor_of(context)}"
            if self._settle is not None:
                await self._settle()  # an outcome may follow its decision by milliseconds (the demo does)
            report = await asyncio.get_running_loop().run_in_executor(
                None, self._record, items, source, request.all_or_nothing)
            return feedback_pb2.RecordOutcomesReply(accepted=report.accepted, duplicates=report.duplicates,
                                                    errors=[_error(p) for p in report.problems], stored=report.stored)
        except Exception as exc:  # noqa: BLE001 - translated in one place
            await abort(context, exc)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def register_feedback(server: grpc.aio.Server, auth: AdminAuth, home: Path,
                      settle: Callable[[], Awaitable[Any]] | None = None) -> str:
    """Add the Feedback service to the admin server; return its full name (for the reflection list)."""
    feedback_pb2_grpc.add_FeedbackServicer_to_server(FeedbackServicer(auth, home, settle), server)
    return SERVICE_NAME
