"""compiler/bundle.py: atomic writes, content-addressed identity, and every tampering refused with the file named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from compiler.bundle import CONTENT_FILES, MANIFEST, read_bundle, write_bundle
from compiler.digest import canonical_json, pretty_json, sha256_bytes
from compiler.errors import AlreadyExists, BundleError, InvalidInput, TamperedBundle


@pytest.fixture
def bundle(demo_bundle: Path, tmp_path: Path) -> Path:
    """A private copy of the session's demo bundle, free to damage."""
    dst = tmp_path / "copy"
    shutil.copytree(demo_bundle, dst)
    return dst


def _manifest(b: Path) -> dict:
    return json.loads((b / MANIFEST).read_bytes())


def test_a_good_bundle_reads_and_its_digest_is_the_manifest_sha256(bundle: Path, credit) -> None:
    b = read_bundle(bundle)
    assert b.digest == sha256_bytes((bundle / MANIFEST).read_bytes())
    assert read_bundle(bundle, expected_digest=b.digest).digest == b.digest
    assert b.manifest["files"] == {n: sha256_bytes((bundle / n).read_bytes()) for n in CONTENT_FILES}
    assert b.parity["passed"] is True
    assert b.schema.names == tuple(c for c in credit.columns if c != "default")
    assert b.program.n_inputs == b.schema.width and len(b.drift.features) == b.schema.width
    assert b.onnx_bytes == (bundle / "model.onnx").read_bytes()


@pytest.mark.parametrize("name", CONTENT_FILES)
@pytest.mark.parametrize("where", [0, 0.5, -1], ids=["first", "middle", "last"])
def test_a_flipped_byte_is_refused_naming_the_file(bundle: Path, name: str, where: float) -> None:
    data = bytearray((bundle / name).read_bytes())
    data[int(len(data) * where) if where != -1 else -1] ^= 0x01
    (bundle / name).write_bytes(bytes(data))
    with pytest.raises(TamperedBundle, match=rf"^bundle .*: {name} has sha256 [0-9a-f]{{12}}…, the manifest says"):
        read_bundle(bundle)


@pytest.mark.parametrize("name", CONTENT_FILES)
def test_a_missing_file_is_refused_naming_it(bundle: Path, name: str) -> None:
    (bundle / name).unlink()
    with pytest.raises(TamperedBundle, match=rf"{name} is missing"):
        read_bundle(bundle)


def test_a_missing_manifest_is_refused(bundle: Path) -> None:
    (bundle / MANIFEST).unlink()
    with pytest.raises(TamperedBundle, match=r"manifest.json is missing or unreadable"):
        read_bundle(bundle)


@pytest.mark.parametrize("extra", ["notes.txt", ".hidden", "model.onnx.bak"])
def test_an_extra_file_is_refused_naming_it(bundle: Path, extra: str) -> None:
    (bundle / extra).write_text("x")
    with pytest.raises(TamperedBundle, match=rf"unexpected file {extra} \(not in the manifest\)"):
        read_bundle(bundle)


def test_an_extra_directory_is_refused(bundle: Path) -> None:
    (bundle / "sub").mkdir()
    with pytest.raises(TamperedBundle, match="unexpected file sub"):
        read_bundle(bundle)


def test_a_hand_edited_manifest_is_refused(bundle: Path) -> None:
    manifest = _manifest(bundle)
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2))  # same content, not canonical
    with pytest.raises(TamperedBundle, match="manifest.json is not in canonical form"):
        read_bundle(bundle)
    (bundle / MANIFEST).write_bytes(b"{not json")
    with pytest.raises(TamperedBundle, match="manifest.json is not valid JSON"):
        read_bundle(bundle)


def test_a_manifest_with_a_changed_file_digest_is_refused(bundle: Path) -> None:
    """Re-canonicalised after the edit, so only the digest check can catch it."""
    manifest = _manifest(bundle)
    manifest["files"]["schema.json"] = "0" * 64
    (bundle / MANIFEST).write_bytes(canonical_json(manifest))
    with pytest.raises(TamperedBundle, match=r"schema.json has sha256 .*the manifest says 000000000000"):
        read_bundle(bundle)


def test_a_consistently_forged_file_changes_the_digest(bundle: Path) -> None:
    """An attacker who edits a file *and* its manifest entry still changes the bundle's identity."""
    original = read_bundle(bundle).digest
    schema = json.loads((bundle / "schema.json").read_bytes())
    schema["threshold"] = 0.9
    data = pretty_json(schema)
    (bundle / "schema.json").write_bytes(data)
    manifest = _manifest(bundle)
    manifest["files"]["schema.json"] = sha256_bytes(data)
    (bundle / MANIFEST).write_bytes(canonical_json(manifest))
    assert read_bundle(bundle).digest != original
    with pytest.raises(TamperedBundle, match="differs from the expected"):
        read_bundle(bundle, expected_digest=original)


def test_a_manifest_listing_other_files_is_refused(bundle: Path) -> None:
    manifest = _manifest(bundle)
    del manifest["files"]["drift.json"]
    (bundle / MANIFEST).write_bytes(canonical_json(manifest))
    with pytest.raises(TamperedBundle, match=r"manifest lists \[.*\], expected \['drift.json', "):
        read_bundle(bundle)


def test_expected_digest_mismatch(bundle: Path) -> None:
    with pytest.raises(TamperedBundle, match=r"digest [0-9a-f]{12}… differs from the expected 000000000000…"):
        read_bundle(bundle, expected_digest="0" * 64)


@pytest.mark.parametrize("parity", [{"passed": False}, None], ids=["failed", "absent"])
def test_a_bundle_without_passing_parity_is_refused(bundle: Path, parity) -> None:
    manifest = _manifest(bundle)
    if parity is None:
        del manifest["parity"]
    else:
        manifest["parity"].update(parity)
    (bundle / MANIFEST).write_bytes(canonical_json(manifest))
    with pytest.raises(BundleError, match="no passing parity report in the manifest"):
        read_bundle(bundle)


def test_an_unknown_format_is_refused(bundle: Path) -> None:
    manifest = _manifest(bundle)
    manifest["format"] = 99
    (bundle / MANIFEST).write_bytes(canonical_json(manifest))
    with pytest.raises(BundleError, match="unsupported bundle format 99"):
        read_bundle(bundle)


def test_a_signed_but_malformed_program_is_refused(bundle: Path) -> None:
    """Digests verify (the manifest was rewritten to match) but the content is nonsense: BundleError, not a crash."""
    data = pretty_json({"format": 1, "n_inputs": 10, "lanes": [{"source": 99, "label": "x", "steps": []}]})
    (bundle / "program.json").write_bytes(data)
    manifest = _manifest(bundle)
    manifest["files"]["program.json"] = sha256_bytes(data)
    (bundle / MANIFEST).write_bytes(canonical_json(manifest))
    with pytest.raises(BundleError, match="program.json: a lane reads a column outside the input width"):
        read_bundle(bundle)


def test_reading_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        read_bundle(tmp_path / "nope")


# --- writing ----------------------------------------------------------------------------------------------


FILES = {"model.onnx": b"\x08\x07", "program.json": b"{}\n", "schema.json": b"{}\n", "drift.json": b"{}\n"}


def test_write_bundle_is_atomic_and_content_addressed(tmp_path: Path) -> None:
    digest = write_bundle(tmp_path / "out" / "b", FILES, {"parity": {"passed": True}})
    b = tmp_path / "out" / "b"
    assert sorted(p.name for p in b.iterdir()) == sorted([*FILES, MANIFEST])
    assert digest == sha256_bytes((b / MANIFEST).read_bytes())
    manifest = _manifest(b)
    assert manifest["format"] == 1 and manifest["files"]["model.onnx"] == sha256_bytes(b"\x08\x07")
    assert (b / MANIFEST).read_bytes() == canonical_json(manifest)
    assert not list((tmp_path / "out").glob(".b.*"))
    assert write_bundle(tmp_path / "again", FILES, {"parity": {"passed": True}}) == digest  # same inputs


def test_write_bundle_refuses_a_non_empty_dir_and_a_file(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("x")
    with pytest.raises(AlreadyExists, match="not empty"):
        write_bundle(tmp_path / "b", FILES, {})
    (tmp_path / "f").write_text("x")
    with pytest.raises(AlreadyExists, match="not empty"):
        write_bundle(tmp_path / "f", FILES, {})
    assert (tmp_path / "f").read_text() == "x"


@pytest.mark.parametrize("failing", ["fsync", "rename"])
def test_a_failed_write_leaves_no_temporary_directory(tmp_path: Path, monkeypatch, nothing_written,
                                                      failing: str) -> None:
    """A crash half-way (disk full while writing a file, or the final rename failing) leaves nothing behind."""
    import compiler.bundle as bundle_module

    calls = []

    def boom(*args, **kwargs):
        calls.append(args)
        if failing == "rename" or len(calls) == 2:  # fsync: the second file fails
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    real = getattr(bundle_module.os, failing)
    monkeypatch.setattr(bundle_module.os, failing, boom)
    with pytest.raises(OSError, match="No space left"):
        write_bundle(tmp_path / "b", FILES, {})
    assert calls, "the failure was injected after the temporary directory existed"
    nothing_written(tmp_path / "b")


def test_a_manifest_with_nan_cannot_be_written(tmp_path: Path, nothing_written) -> None:
    with pytest.raises(ValueError):
        write_bundle(tmp_path / "b", FILES, {"metrics": {"auc": float(np.nan)}})
    nothing_written(tmp_path / "b")
