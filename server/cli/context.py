"""What every command needs: the data directory, the acting person, and one-line error/output helpers."""

from __future__ import annotations

import getpass
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import click


@dataclass(frozen=True)
class CliContext:
    home: Path  # --home / SCOREGATE_HOME: registry database, artefacts, logs
    actor: str  # --actor / SCOREGATE_ACTOR, falling back to the OS user


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


pass_cli = click.make_pass_decorator(CliContext)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def emit_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned text table (no colour codes, so it pastes cleanly into a ticket)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for k, r in enumerate(cells):
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")
        if k == 0:
            sys.stdout.write("  ".join("-" * w for w in widths) + "\n")
