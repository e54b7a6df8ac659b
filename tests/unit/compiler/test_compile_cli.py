"""`scoregate compile` (server/cli/compile_cmd.py over compiler/): every bad input is one line on stderr, a
non-zero exit, and nothing half-written. Runs the CLI in process (its `run` is what the console script calls)."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PolynomialFeatures

from compiler.bundle import read_bundle


@pytest.fixture
def files(numeric_frame, tmp_path: Path) -> dict[str, Path]:
    x, y = numeric_frame()
    paths = {name: tmp_path / f"{name}.joblib" for name in ("good", "knn", "poly", "multi")}
    joblib.dump(LogisticRegression().fit(x, y), paths["good"])
    joblib.dump(KNeighborsClassifier().fit(x, y), paths["knn"])
    joblib.dump(Pipeline([("poly", PolynomialFeatures()), ("lr", LogisticRegression())]).fit(x, y), paths["poly"])
    joblib.dump(LogisticRegression(max_iter=300).fit(x, x["c"].astype(int)), paths["multi"])
    (tmp_path / "broken.joblib").write_bytes(b"garbage")
    paths["broken"] = tmp_path / "broken.joblib"
    x.assign(y=y).to_csv(tmp_path / "labelled.csv", index=False)
    x.to_csv(tmp_path / "plain.csv", index=False)
    x.drop(columns="d").to_csv(tmp_path / "missing.csv", index=False)
    x.assign(c=np.where(x.index == 5, "gold", x["c"].astype(str))).to_csv(tmp_path / "text.csv", index=False)
    x.iloc[:0].to_csv(tmp_path / "header.csv", index=False)
    for name in ("labelled", "plain", "missing", "text", "header"):
        paths[name] = tmp_path / f"{name}.csv"
    return paths


def _compile(capsys, *args: str) -> tuple[int, str, str]:
    from server.cli.main import run

    code = run(["compile", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_success_prints_the_digest_and_parity(files, tmp_path: Path, capsys) -> None:
    code, out, err = _compile(capsys, str(files["good"]), "--sample", str(files["labelled"]), "--label", "y",
                              "--out", str(tmp_path / "b"))
    assert code == 0, err
    assert f"digest  {read_bundle(tmp_path / 'b').digest}" in out and "parity PASSED: 400 rows" in out


@pytest.mark.parametrize("model,sample,extra,match", [
    ("knn", "plain", [], "estimator KNeighborsClassifier is not supported; supported: "),
    ("poly", "plain", [], "preprocessing step 'poly' (PolynomialFeatures) cannot be compiled"),
    ("multi", "plain", [], "only binary classifiers are supported"),
    ("good", "missing", [], "sample is missing column(s) ['d']"),
    ("good", "labelled", [], "sample has extra column(s) ['y'] the model does not use (pass --label NAME"),
    ("good", "text", [], "sample column 'c' holds non-numeric data (e.g. 'gold'); expected numbers"),
    ("good", "header", [], "sample has no rows"),
    ("broken", "plain", [], "is not a readable joblib/pickle file"),
    ("absent", "plain", [], "absent.joblib does not exist"),
    ("compiler.demo.model:no_such_function", "plain", [], "cannot import 'no_such_function'"),
    ("good", "absent", [], "absent.csv does not exist"),
    ("good", "plain", ["--threshold", "2"], "threshold must lie in [0, 1]"),
], ids=["unknown-estimator", "unsupported-step", "non-binary", "missing-column", "extra-column", "non-numeric",
        "empty-sample", "unreadable-model", "no-model-file", "bad-module-function", "no-sample-file", "threshold"])
def test_bad_input_is_one_line_and_writes_nothing(files, tmp_path: Path, capsys, nothing_written, model: str,
                                                  sample: str, extra: list[str], match: str) -> None:
    model_arg = str(files.get(model, tmp_path / f"{model}.joblib")) if ":" not in model else model
    out = tmp_path / "out" / "b"
    code, _, err = _compile(capsys, model_arg, "--sample", str(files.get(sample, tmp_path / f"{sample}.csv")),
                            "--out", str(out), *extra)
    assert code != 0
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert match in err and "Traceback" not in err and "internal error" not in err
    nothing_written(out)
    assert not (tmp_path / "out").exists()


def test_a_non_empty_output_dir_is_refused_and_kept(files, tmp_path: Path, capsys, nothing_written) -> None:
    out = tmp_path / "b"
    out.mkdir()
    (out / "README").write_text("someone else's")
    code, _, err = _compile(capsys, str(files["good"]), "--sample", str(files["plain"]), "--out", str(out))
    assert code == 1 and err.count("\n") == 1 and "is not empty; choose a new directory" in err
    nothing_written(out, before=["README"])
