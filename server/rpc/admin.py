"""The Admin service: operators' statistics and drift views (and, with rollouts, control), on its own port.

Only callers holding an admin token get in: no token is UNAUTHENTICATED, a scoring token is PERMISSION_DENIED.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any, Callable

import grpc
from google.protobuf import struct_pb2
from google.protobuf.json_format import MessageToDict, ParseDict

from server.api.v1 import admin_pb2, admin_pb2_grpc
from server.control.guard import json_safe
from server.errors import Unauthenticated, Unavailable
from compiler.errors import PermissionDenied
from server.rpc.status import abort


def _struct(doc: dict[str, Any]) -> struct_pb2.Struct:
    return ParseDict(json_safe(doc), struct_pb2.Struct())


def bearer(context: grpc.aio.ServicerContext) -> bytes | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            raw = value.encode() if isinstance(value, str) else value
            return raw[7:] if raw.startswith(b"Bearer ") else b""
    return None


class AdminAuth:
    """Admin tokens let a caller in; scoring tokens are recognised and refused explicitly."""

    def __init__(self, admin_tokens: frozenset[str], scoring_tokens: frozenset[str]) -> None:
        self._admin = tuple(t.encode() for t in admin_tokens)
        self._scoring = tuple(t.encode() for t in scoring_tokens)

    def check(self, context: grpc.aio.ServicerContext) -> None:
        token = bearer(context)
        if token is None:
            raise Unauthenticated("admin API: missing bearer token (metadata 'authorization: Bearer <admin token>')")
        if any(hmac.compare_digest(token, t) for t in self._admin):
            return
        if any(hmac.compare_digest(token, t) for t in self._scoring):
            raise PermissionDenied("admin API: scoring credentials cannot call the admin API")
        raise Unauthenticated("admin API: invalid bearer token")


def actor_of(context: grpc.aio.ServicerContext) -> str:
    """The operator named by the CLI (`x-scoregate-actor`), recorded in the ledger with every change."""
    for key, value in context.invocation_metadata() or ():
        if key == "x-scoregate-actor" and value:
            return str(value)
    return "admin-api"


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(self, auth: AdminAuth, stats: Callable[[str | None], dict[str, Any]],
                 drift: Callable[[str, str], dict[str, Any]], rollouts: Any = None) -> None:
        self._auth = auth
        self._stats = stats
        self._drift = drift
        self._rollouts = rollouts

    async def _rollout(self, context: grpc.aio.ServicerContext, fn: Callable[[str], dict[str, Any]]
                       ) -> admin_pb2.RolloutStatus:
        try:
            self._auth.check(context)
            if self._rollouts is None:
                raise Unavailable("rollouts are not available on this gateway")
            actor = actor_of(context)
            # registry writes (SQLite, fsync) run off the event loop: scoring traffic keeps flowing
            status = await asyncio.get_running_loop().run_in_executor(None, fn, actor)
            return admin_pb2.RolloutStatus(status=_struct(status))
        except Exception as exc:  # noqa: BLE001 - translated in one place
            await abort(context, exc)

    async def StartRollout(self, request, context):  # noqa: ANN001, ANN201, N802
        settings = MessageToDict(request.guardrails) if request.HasField("guardrails") else {}
        if request.steps:
            settings["steps"] = list(request.steps)
        if request.step_after:
            settings["step_after"] = request.step_after
        return await self._rollout(context, lambda actor: self._rollouts.start(
            request.model, int(request.version), request.weight, actor, request.reason, settings))

    async def StepRollout(self, request, context):  # noqa: ANN001, ANN201, N802
        return await self._rollout(context, lambda actor: self._rollouts.step(
            request.model, request.weight, actor, request.reason))

    async def Promote(self, request, context):  # noqa: ANN001, ANN201, N802
        return await self._rollout(context, lambda actor: self._rollouts.promote(request.model, actor, request.reason))

    async def Rollback(self, request, context):  # noqa: ANN001, ANN201, N802
        return await self._rollout(context, lambda actor: self._rollouts.rollback(request.model, actor, request.reason))

    async def SetShadow(self, request, context):  # noqa: ANN001, ANN201, N802
        return await self._rollout(context, lambda actor: self._rollouts.shadow(
            request.model, int(request.version), request.sample, request.off, actor, request.reason))

    async def GetRollout(self, request, context):  # noqa: ANN001, ANN201, N802
        return await self._rollout(context, lambda actor: self._rollouts.status(request.model))

    async def GetStats(self, request: admin_pb2.StatsRequest, context: grpc.aio.ServicerContext) -> admin_pb2.StatsReply:
        try:
            self._auth.check(context)
            return admin_pb2.StatsReply(stats=_struct(self._stats(request.model or None)))
        except Exception as exc:  # noqa: BLE001 - translated in one place
            await abort(context, exc)

    async def GetDrift(self, request: admin_pb2.DriftRequest, context: grpc.aio.ServicerContext) -> admin_pb2.DriftReply:
        try:
            self._auth.check(context)
            return admin_pb2.DriftReply(drift=_struct(self._drift(request.model, request.window or "5m")))
        except Exception as exc:  # noqa: BLE001
            await abort(context, exc)
