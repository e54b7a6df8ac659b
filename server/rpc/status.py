"""The one table that turns domain errors into gRPC status codes.

Domain code raises; only this module decides what a caller sees. INTERNAL never carries exception text or
paths: it carries an incident id, and the full exception goes to the log under that id.
"""

from __future__ import annotations

import logging
import uuid
from typing import NoReturn

import grpc

from compiler.errors import ScoregateError
from server.errors import status_name

log = logging.getLogger("scoregate.rpc")

def status_for(exc: BaseException) -> grpc.StatusCode:
    """The status for a domain error, from the one table in server/errors.py."""
    return grpc.StatusCode[status_name(exc)]


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
