"""Content-addressed bundle storage: `home/artefacts/<digest>/`, written once, verified on every read.

Why content-addressed: the registry row holds only the digest, so two names registering the same bundle
share one copy, a copy can never silently differ from what was approved (every read re-verifies with
`read_bundle(expected_digest=...)`), and a crash between copying and committing the row leaves at worst
an unreferenced directory, never a row pointing at a half-copied bundle (copies land in a temporary
sibling and are renamed into place).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from compiler.bundle import CONTENT_FILES, MANIFEST, Bundle, read_bundle
from compiler.errors import InvalidInput, NotFound

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class ArtefactStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        if not _DIGEST.match(digest):
            raise InvalidInput(f"bundle digest must be 64 lowercase hex characters, got {digest!r}")
        return self.root / digest

    def put(self, bundle: Bundle) -> Path:
        """Copy a verified bundle into the store (idempotent: an existing, verifying copy is kept)."""
        dest = self.path(bundle.digest)
        if dest.is_dir():
            read_bundle(dest, expected_digest=bundle.digest)
            return dest
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{bundle.digest[:12]}.", dir=self.root))
        try:
            for name in (*CONTENT_FILES, MANIFEST):
                _copy_synced(bundle.path / name, tmp / name)
            try:
                os.rename(tmp, dest)
            except OSError:  # another process stored the same digest first
                if not dest.is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        read_bundle(dest, expected_digest=bundle.digest)
        return dest

    def get(self, digest: str) -> Bundle:
        """Load and verify the stored copy; a missing or altered copy is an error naming the file."""
        path = self.path(digest)
        if not path.is_dir():
            raise NotFound(f"artefact {digest[:12]}… is missing from {self.root}")
        return read_bundle(path, expected_digest=digest)


def _copy_synced(src: Path, dst: Path) -> None:
    with open(src, "rb") as f_in, open(dst, "wb") as f_out:
        shutil.copyfileobj(f_in, f_out)
        f_out.flush()
        os.fsync(f_out.fileno())
