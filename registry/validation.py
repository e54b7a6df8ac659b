"""Input checks shared by the facade: names that are safe in paths, URLs and tables; required free text."""

from __future__ import annotations

import re

from compiler.errors import InvalidInput

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_name(kind: str, value: str) -> str:
    """Model and alias names: 1-128 of letters, digits, '.', '_', '-', starting with a letter or digit."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidInput(f"{kind} must be 1-128 characters of letters, digits, '.', '_' or '-' "
                           f"(starting with a letter or digit), got {value!r}")
    return value


def check_text(kind: str, value: str | None) -> str:
    """Required free text (a reason, an actor): non-blank."""
    if value is None or not str(value).strip():
        raise InvalidInput(f"{kind} is required and must not be blank")
    return str(value).strip()


def check_version(value: object) -> int:
    """A version number: a positive int, or its text ("3" or "v3", as operators type it)."""
    text = str(value).strip().lower().removeprefix("v") if isinstance(value, (int, str)) else ""
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise InvalidInput(f"version must be a positive integer, got {value!r}")
    return int(text)
