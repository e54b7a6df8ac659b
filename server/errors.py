"""Gateway-specific domain errors (the shared base classes live in compiler/errors.py).

Each maps to one gRPC status in server/rpc/status.py; nothing else in the server picks status codes.
"""

from __future__ import annotations

from compiler.errors import InvalidInput, ScoregateError


class TooLarge(InvalidInput):
    """A request bigger than the configured caps (rows x features, message size): RESOURCE_EXHAUSTED."""


class Overloaded(ScoregateError):
    """The model's queue is full; shed now rather than queue into a missed deadline: RESOURCE_EXHAUSTED."""


class DeadlineExceeded(ScoregateError):
    """The caller's deadline passed before the request could run; it was not executed."""


class Unavailable(ScoregateError):
    """Loading, draining or shutting down: retry elsewhere (UNAVAILABLE)."""


class Unauthenticated(ScoregateError):
    """Missing or wrong credentials (UNAUTHENTICATED)."""


class Cancelled(ScoregateError):
    """The caller went away; the request was dropped before it ran."""


def status_name(exc: BaseException) -> str:
    """The gRPC status name for a domain error: the one table, kept transport-free so the core can count
    outcomes by code without importing grpc (server/rpc/status.py turns the name into a grpc.StatusCode)."""
    for cls, name in STATUS_NAMES:
        if isinstance(exc, cls):
            return name
    return "INTERNAL"


def _table() -> tuple[tuple[type[BaseException], str], ...]:
    from compiler.errors import (AlreadyExists, BundleError, NotFound, PermissionDenied, PreconditionFailed)

    # most specific first: the first class that matches wins
    return (
        (TooLarge, "RESOURCE_EXHAUSTED"),
        (Overloaded, "RESOURCE_EXHAUSTED"),
        (InvalidInput, "INVALID_ARGUMENT"),
        (NotFound, "NOT_FOUND"),
        (AlreadyExists, "ALREADY_EXISTS"),
        (PermissionDenied, "PERMISSION_DENIED"),
        (PreconditionFailed, "FAILED_PRECONDITION"),
        (DeadlineExceeded, "DEADLINE_EXCEEDED"),
        (Unavailable, "UNAVAILABLE"),
        (BundleError, "UNAVAILABLE"),
        (Unauthenticated, "UNAUTHENTICATED"),
        (Cancelled, "CANCELLED"),
    )


STATUS_NAMES = _table()
