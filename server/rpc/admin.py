"""The Admin service: operators' statistics and drift views (and, with rollouts, control), on its own port.

Only callers holding an admin token get in: no token is UNAUTHENTICATED, a scoring token is PERMISSION_DENIED.
"""

from __future__ import annotations

import hmac
import math
from typing import Any, Callable

import grpc
from google.protobuf import struct_pb2
from google.protobuf.json_format import ParseDict

from server.api.v1 import admin_pb2, admin_pb2_grpc
from server.errors import Unauthenticated
from compiler.errors import PermissionDenied
from server.rpc.status import abort


def _plain(value: Any) -> Any:
    """JSON-safe values for a Struct: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _struct(doc: dict[str, Any]) -> struct_pb2.Struct:
    return ParseDict(_plain(doc), struct_pb2.Struct())


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


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(self, auth: AdminAuth, stats: Callable[[str | None], dict[str, Any]],
                 drift: Callable[[str, str], dict[str, Any]]) -> None:
        self._auth = auth
        self._stats = stats
        self._drift = drift

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
