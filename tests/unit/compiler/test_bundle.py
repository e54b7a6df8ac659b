"""Reproducible, content-addressed bundles; every tampering is refused with the file named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression

from compiler.build import CompileOptions, compile_model
from compiler.bundle import CONTENT_FILES, MANIFEST, read_bundle
from compiler.digest import canonical_json, sha256_bytes
from compiler.errors import BundleError, TamperedBundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, demo_model, credit) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "demo"
    compile_model(demo_model, credit, out, CompileOptions(label="default"))
    return out


def _copy(bundle: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(bundle, dst)
    return dst


def test_same_model_and_sample_give_the_same_digest(demo_model, credit, bundle: Path, tmp_path: Path) -> None:
    again = compile_model(demo_model, credit, tmp_path / "again", CompileOptions(label="default"))
    assert again.digest == read_bundle(bundle).digest
    for name in (*CONTENT_FILES, MANIFEST):
        assert (tmp_path / "again" / name).read_bytes() == (bundle / name).read_bytes(), name


def test_different_sample_gives_a_different_digest(demo_model, credit, bundle: Path, tmp_path: Path) -> None:
    other = compile_model(demo_model, credit.iloc[:-1], tmp_path / "other", CompileOptions(label="default"))
    assert other.digest != read_bundle(bundle).digest


def test_digest_is_the_manifest_sha256(bundle: Path) -> None:
    b = read_bundle(bundle)
    assert b.digest == sha256_bytes((bundle / MANIFEST).read_bytes())
    assert b.manifest["parity"]["passed"] is True
    assert set(b.manifest["files"]) == set(CONTENT_FILES)
    assert b.manifest["opset"] == {"ai.onnx": 15, "ai.onnx.ml": 3}
    assert b.manifest["preprocessing"]["in_onnx_graph"] == []


@pytest.mark.parametrize("name", CONTENT_FILES)
def test_flipped_byte_is_named(bundle: Path, tmp_path: Path, name: str) -> None:
    b = _copy(bundle, tmp_path)
    data = bytearray((b / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (b / name).write_bytes(bytes(data))
    with pytest.raises(TamperedBundle, match=rf"{name} has sha256"):
        read_bundle(b)


def test_missing_extra_and_edited_manifest(bundle: Path, tmp_path: Path) -> None:
    b = _copy(bundle, tmp_path)
    (b / "drift.json").unlink()
    with pytest.raises(TamperedBundle, match="drift.json is missing"):
        read_bundle(b)
    b2 = tmp_path / "b2"
    shutil.copytree(bundle, b2)
    (b2 / "notes.txt").write_text("x")
    with pytest.raises(TamperedBundle, match="unexpected file notes.txt"):
        read_bundle(b2)
    b3 = tmp_path / "b3"
    shutil.copytree(bundle, b3)
    manifest = json.loads((b3 / MANIFEST).read_text())
    (b3 / MANIFEST).write_text(json.dumps(manifest, indent=2))
    with pytest.raises(TamperedBundle, match="not in canonical form"):
        read_bundle(b3)


def test_expected_digest_and_parity_required(bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(TamperedBundle, match="differs from the expected"):
        read_bundle(bundle, expected_digest="0" * 64)
    b = _copy(bundle, tmp_path)
    manifest = json.loads((b / MANIFEST).read_text())
    manifest["parity"]["passed"] = False
    (b / MANIFEST).write_bytes(canonical_json(manifest))
    with pytest.raises(BundleError, match="no passing parity report"):
        read_bundle(b)


def test_compile_result_round_trips(bundle: Path, credit) -> None:
    b = read_bundle(bundle)
    assert b.schema.names == tuple(c for c in credit.columns if c != "default")
    assert b.program.width == len(b.program.lanes)
    assert len(b.drift.features) == b.schema.width


def test_logistic_numpy_bundle_reads(tmp_path: Path, numeric_frame) -> None:
    x, y = numeric_frame()
    compile_model(LogisticRegression().fit(x, y), x, tmp_path / "b")
    assert read_bundle(tmp_path / "b").schema.names == ("a", "b", "c", "d")
