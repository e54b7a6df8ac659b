"""Content-addressed artefact storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.bundle import read_bundle
from compiler.errors import InvalidInput, NotFound, TamperedBundle
from registry.artefacts import ArtefactStore


def test_put_copies_under_the_digest_and_get_verifies(tmp_path: Path, make_bundle) -> None:
    store = ArtefactStore(tmp_path / "artefacts")
    bundle = read_bundle(make_bundle(1))
    path = store.put(bundle)
    assert path == tmp_path / "artefacts" / bundle.digest
    assert store.put(bundle) == path  # idempotent
    assert store.get(bundle.digest).digest == bundle.digest
    assert [p.name for p in (tmp_path / "artefacts").iterdir()] == [bundle.digest]  # no temp dirs left


def test_a_tampered_or_missing_copy_is_refused(tmp_path: Path, make_bundle) -> None:
    store = ArtefactStore(tmp_path / "artefacts")
    bundle = read_bundle(make_bundle(1))
    store.put(bundle)
    (store.path(bundle.digest) / "drift.json").write_text("{}")
    with pytest.raises(TamperedBundle, match="drift.json"):
        store.get(bundle.digest)
    with pytest.raises(NotFound, match="missing"):
        store.get("0" * 64)
    with pytest.raises(InvalidInput, match="64 lowercase hex"):
        store.get("../../etc")
