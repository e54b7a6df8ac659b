"""`scoregate retrain` as an operator runs it, on a copy of the demo home (credit-pd v1 deployed as champion):
a registered challenger with lineage, the same digest from a second process, four-eyes, one-line errors."""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
from pathlib import Path

import pytest

from compiler.demo.data import generate

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "compiler" / "demo" / "retrain.toml"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("retrain-cli") / "applications.csv"
    generate(2500, seed=31, shift=0.5).to_csv(path, index=False)
    return path


def _home(demo_registry: Path, tmp_path: Path, name: str) -> Path:
    home = tmp_path / name
    shutil.copytree(demo_registry, home)
    return home


def _one_line_error(r) -> str:
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr and r.stderr.startswith("error: "), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stderr


def test_retrain_registers_a_challenger_and_prints_the_next_steps(run_cli, demo_registry: Path, data: Path,
                                                                 tmp_path: Path) -> None:
    home = _home(demo_registry, tmp_path, "home")
    r = run_cli("--actor", "carol", "retrain", "--spec", str(SPEC), "--data", str(data),
                "--out", str(tmp_path / "bundle"), home=home)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "registered credit-pd v2 (registered, by carol)" in out
    assert "parity PASSED" in out and "metrics on 500 held-out rows: auc" in out
    assert "lineage  parent v1 (" in out
    assert f"data sha256 {hashlib.sha256(data.read_bytes()).hexdigest()} (2500 rows, 2000 trained on), seed 7" in out
    assert "scoregate rollout shadow credit-pd --version 2 --sample 0.2" in out
    approve = next(line.strip() for line in out.splitlines() if "registry approve credit-pd 2" in line)

    shown = json.loads(run_cli("registry", "show", "credit-pd", "2", "--json", home=home).stdout)
    assert shown["parent_version"] == 1 and shown["state"] == "registered" and "spec sha256 " in shown["description"]
    digest = out.split("digest   ")[1].split()[0]
    assert shown["digest"] == digest

    # four-eyes: the retrainer cannot approve; the printed command works for someone else
    assert "four-eyes" in _one_line_error(run_cli("--actor", "carol", "registry", "approve", "credit-pd", "2",
                                                  home=home))
    argv = shlex.split(approve.replace("<another person>", "bob"))
    assert argv[0] == "scoregate"
    assert run_cli(*argv[1:], home=home).returncode == 0
    # the printed next step is the rollout command's real spelling
    shadow_help = run_cli("rollout", "shadow", "--help").stdout
    assert "--version" in shadow_help and "--sample" in shadow_help

    # a second process on a second copy of the home reproduces the bundle exactly
    other = _home(demo_registry, tmp_path, "other")
    r2 = run_cli("--actor", "dave", "retrain", "--spec", str(SPEC), "--data", str(data), "--json", home=other)
    assert r2.returncode == 0, r2.stderr
    again = json.loads(r2.stdout)
    assert again["digest"] == digest and again["version"]["version"] == 2
    assert again["lineage"]["parent_version"] == 1 and again["parity"]["passed"]
    # and retraining the same thing into the first home again registers nothing new
    assert "reproduce it" in _one_line_error(run_cli("--actor", "erin", "retrain", "--spec", str(SPEC), "--data",
                                                     str(data), home=home))
    assert run_cli("audit", "verify", home=home).returncode == 0


def test_bad_inputs_are_one_line_errors(run_cli, demo_registry: Path, data: Path, tmp_path: Path) -> None:
    home = _home(demo_registry, tmp_path, "home")
    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC.read_text().replace("seed = 7", 'seed = "seven"'))
    err = _one_line_error(run_cli("retrain", "--spec", str(bad), "--data", str(data), home=home))
    assert f"training spec {bad}: seed: expected an integer" in err
    typo = tmp_path / "typo.toml"
    typo.write_text(SPEC.read_text().replace('{ kind = "log1p" }', '{ kind = "log2" }'))
    assert "preprocessing.money.steps[1].kind" in _one_line_error(
        run_cli("retrain", "--spec", str(typo), "--data", str(data), home=home))
    assert "data file" in _one_line_error(
        run_cli("retrain", "--spec", str(SPEC), "--data", str(tmp_path / "absent.csv"), home=home))
    assert "has no version 9" in _one_line_error(
        run_cli("retrain", "--spec", str(SPEC), "--data", str(data), "--parent", "9", home=home))
    listing = run_cli("registry", "list", home=home).stdout
    assert "carol" not in listing and listing.count("credit-pd") == 1  # nothing was registered
