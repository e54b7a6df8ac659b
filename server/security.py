"""Credentials the gateway reads: the admin tokens (configured, or one generated under home)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from server.config import ServeConfig

ADMIN_TOKEN_FILE = "admin.token"


def read_tokens(path: Path) -> frozenset[str]:
    return frozenset(t.strip() for t in path.read_text().splitlines() if t.strip())


def admin_tokens(config: ServeConfig, home: Path) -> frozenset[str]:
    """The configured admin token file, or `<home>/admin.token`, created with a random token (0600)."""
    if config.admin_token_file:
        return read_tokens(Path(config.admin_token_file))
    path = Path(home) / ADMIN_TOKEN_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32) + "\n")
        except FileExistsError:  # another worker made it first
            pass
    return read_tokens(path)
