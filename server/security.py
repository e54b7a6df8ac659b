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
        tmp = path.with_name(f".{ADMIN_TOKEN_FILE}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(tmp, path)  # atomic: a complete file appears, or another process's does
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return read_tokens(path)
