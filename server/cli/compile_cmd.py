"""`scoregate compile` and `scoregate demo` (filled in by the compiler)."""

from __future__ import annotations

commands: list = []
