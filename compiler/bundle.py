"""The bundle: a directory of five files whose identity is the sha256 of its manifest.

    model.onnx     the estimator as ONNX (probabilities as a plain tensor)
    program.json   the feature program (preprocessing as data)
    schema.json    inputs (names, order, ranges, NaN policy, categories), threshold, outputs
    drift.json     the drift reference (bins and expected proportions per feature and for the score)
    manifest.json  source, library versions, opset, sample digest, metrics, parity report, sha256 of each file

Writing is atomic (a temporary sibling directory renamed into place) so nothing half-written is ever seen.
Reading verifies every digest and refuses a bundle with a tampered, missing or extra file, naming it. The
serving path reads bundles with this module only: it never unpickles anything.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from compiler.digest import canonical_json, pretty_json, sha256_bytes
from compiler.drift import DriftReference
from compiler.errors import AlreadyExists, BundleError, InvalidInput, TamperedBundle
from compiler.schema import Schema
from compiler.transforms.program import FeatureProgram

BUNDLE_FORMAT = 1
MANIFEST = "manifest.json"
CONTENT_FILES = ("model.onnx", "program.json", "schema.json", "drift.json")


@dataclass(frozen=True)
class Bundle:
    path: Path
    digest: str  # sha256 of manifest.json: the version's identity
    manifest: Mapping[str, Any]
    schema: Schema
    program: FeatureProgram
    drift: DriftReference
    onnx_bytes: bytes

    @property
    def parity(self) -> Mapping[str, Any]:
        return self.manifest.get("parity", {})


def content_files(onnx_bytes: bytes, program: FeatureProgram, schema: Schema, drift: DriftReference) -> dict[str, bytes]:
    return {
        "model.onnx": onnx_bytes,
        "program.json": pretty_json(program.to_dict()),
        "schema.json": pretty_json(schema.to_dict()),
        "drift.json": pretty_json(drift.to_dict()),
    }


def write_bundle(out_dir: Path, files: Mapping[str, bytes], manifest: Mapping[str, Any]) -> str:
    """Write files + manifest (with their digests added) atomically; return the bundle digest."""
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise AlreadyExists(f"output directory {out_dir} is not empty; choose a new directory")
    full = dict(manifest)
    full["format"] = BUNDLE_FORMAT
    full["files"] = {name: sha256_bytes(data) for name, data in sorted(files.items())}
    manifest_bytes = canonical_json(full)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for name, data in {**files, MANIFEST: manifest_bytes}.items():
            with open(tmp / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if out_dir.exists():
            out_dir.rmdir()
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sha256_bytes(manifest_bytes)


def read_manifest(path: Path) -> tuple[str, dict[str, Any], bytes]:
    path = Path(path)
    mpath = path / MANIFEST
    if not path.is_dir():
        raise InvalidInput(f"bundle directory {path} does not exist")
    try:
        raw = mpath.read_bytes()
    except OSError as exc:
        raise TamperedBundle(f"bundle {path}: {MANIFEST} is missing or unreadable") from exc
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise TamperedBundle(f"bundle {path}: {MANIFEST} is not valid JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"bundle {path}: unsupported bundle format {manifest.get('format')!r}")
    if canonical_json(manifest) != raw:
        raise TamperedBundle(f"bundle {path}: {MANIFEST} is not in canonical form (edited by hand?)")
    return sha256_bytes(raw), manifest, raw


def verify_files(path: Path, manifest: Mapping[str, Any]) -> dict[str, bytes]:
    """Check every listed file's digest and that no file is missing or extra; return their bytes."""
    listed: Mapping[str, str] = manifest.get("files", {})
    if sorted(listed) != sorted(CONTENT_FILES):
        raise TamperedBundle(f"bundle {path}: manifest lists {sorted(listed)}, expected {sorted(CONTENT_FILES)}")
    present = {p.name for p in Path(path).iterdir()}
    extra = sorted(present - set(CONTENT_FILES) - {MANIFEST})
    if extra:
        raise TamperedBundle(f"bundle {path}: unexpected file {extra[0]} (not in the manifest)")
    out = {}
    for name, want in listed.items():
        try:
            data = (Path(path) / name).read_bytes()
        except OSError as exc:
            raise TamperedBundle(f"bundle {path}: {name} is missing") from exc
        got = sha256_bytes(data)
        if got != want:
            raise TamperedBundle(f"bundle {path}: {name} has sha256 {got[:12]}…, the manifest says {want[:12]}…")
        out[name] = data
    return out


def read_bundle(path: Path | str, expected_digest: str | None = None) -> Bundle:
    """Load and verify a bundle. Refuses tampered files, naming the file, and a bundle without passing parity."""
    path = Path(path)
    digest, manifest, _ = read_manifest(path)
    if expected_digest is not None and digest != expected_digest:
        raise TamperedBundle(f"bundle {path}: digest {digest[:12]}… differs from the expected {expected_digest[:12]}…")
    files = verify_files(path, manifest)
    if not manifest.get("parity", {}).get("passed"):
        raise BundleError(f"bundle {path}: no passing parity report in the manifest")
    try:
        program = FeatureProgram.from_dict(json.loads(files["program.json"]))
        schema = Schema.from_dict(json.loads(files["schema.json"]))
        drift = DriftReference.from_dict(json.loads(files["drift.json"]))
    except ValueError as exc:
        raise BundleError(f"bundle {path}: unreadable JSON ({exc})") from exc
    if program.n_inputs != schema.width:
        raise BundleError(f"bundle {path}: program reads {program.n_inputs} inputs, schema lists {schema.width}")
    return Bundle(path, digest, manifest, schema, program, drift, files["model.onnx"])
