"""Domain errors shared by every scoregate package.

Inside the code we raise these; the edges translate them exactly once: the gRPC layer maps each class to a
status code (server/rpc/status.py), the CLI prints the message as one line and exits non-zero. Messages
name the field or file and say what was expected, because an operator reads them, not a developer.
"""

from __future__ import annotations


class ScoregateError(Exception):
    """Base class: a failure whose message is fit to show an operator as one line."""


class InvalidInput(ScoregateError):
    """The caller's input is malformed: wrong shape, type, value, or a file that cannot be used."""


class Unsupported(InvalidInput):
    """The model or a preprocessing step is not something scoregate can compile faithfully."""


class NotFound(ScoregateError):
    """A named thing (model, version, alias, file) does not exist."""


class AlreadyExists(ScoregateError):
    """Creating something that exists already (a non-empty output dir, a duplicate converter)."""


class PreconditionFailed(ScoregateError):
    """The request is well-formed but the state forbids it (not approved, already approved, ...)."""


class PermissionDenied(ScoregateError):
    """The actor may not do this (self-approval, scoring credentials on the admin API, ...)."""


class ParityError(PreconditionFailed):
    """The compiled model disagrees with the source model beyond tolerance; no bundle is written."""


class BundleError(ScoregateError):
    """A bundle cannot be read or does not verify."""


class TamperedBundle(BundleError):
    """A bundle file's digest differs from the manifest, or files are missing or extra."""
