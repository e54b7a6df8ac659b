"""The one table that turns domain errors into gRPC status codes.

Domain code raises; only this module decides what a caller sees. INTERNAL never carries exception text or
paths: it carries an incident id, and the full exception goes to the log under that id.
"""

from __future__ import annotations

import logging
import uuid
from typing import NoReturn

import grpc

from compiler.errors import (
    AlreadyExists, BundleError, InvalidInput, NotFound, PermissionDenied, PreconditionFailed, ScoregateError,
)
from server.errors import Cancelled, DeadlineExceeded, Overloaded, TooLarge, Unauthenticated, Unavailable

log = logging.getLogger("scoregate.rpc")

# Most specific first: the first class that matches wins.
STATUS_TABLE: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (TooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Overloaded, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (PreconditionFailed, grpc.StatusCode.FAILED_PRECONDITION),
    (DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
    (BundleError, grpc.StatusCode.UNAVAILABLE),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (Cancelled, grpc.StatusCode.CANCELLED),
)


def status_for(exc: BaseException) -> grpc.StatusCode:
    for cls, code in STATUS_TABLE:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.INTERNAL


def describe(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """(status, message) for a caller; unexpected errors are logged with an incident id."""
    code = status_for(exc)
    if code is grpc.StatusCode.INTERNAL or not isinstance(exc, ScoregateError):
        incident = uuid.uuid4().hex[:12]
        log.error("incident %s: %s", incident, type(exc).__name__, exc_info=exc)
        return grpc.StatusCode.INTERNAL, f"internal error, incident {incident}"
    return code, str(exc)


async def abort(context: grpc.aio.ServicerContext, exc: BaseException) -> NoReturn:
    code, message = describe(exc)
    await context.abort(code, message)
    raise AssertionError("unreachable")  # context.abort raises
