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
