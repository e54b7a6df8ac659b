"""Bad input to the compiler: one clear error, and nothing half-written."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from compiler.build import CompileOptions, compile_model
from compiler.errors import AlreadyExists, InvalidInput, ParityError, Unsupported
from compiler.export.families import CONVERTERS, _sklearn
from compiler.export.table import Converter, ConverterTable
from compiler.loading import load_model, read_sample


def _nothing_written(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir())
    assert not list(out.parent.glob(f".{out.name}.*")), "a temporary directory was left behind"


@pytest.fixture
def fitted(numeric_frame):
    x, y = numeric_frame()
    return LogisticRegression().fit(x, y), x


def test_unknown_estimator_names_it_and_lists_supported(numeric_frame, tmp_path: Path) -> None:
    x, y = numeric_frame()
    with pytest.raises(Unsupported, match=r"KNeighborsClassifier is not supported; supported: .*LogisticRegression"):
        compile_model(KNeighborsClassifier().fit(x, y), x, tmp_path / "b")
    _nothing_written(tmp_path / "b")


def test_regressor_and_multiclass_are_refused(numeric_frame, tmp_path: Path) -> None:
    x, y = numeric_frame()
    with pytest.raises(Unsupported, match="LinearRegression is not supported"):
        compile_model(LinearRegression().fit(x, y), x, tmp_path / "b")
    multi = LogisticRegression(max_iter=300).fit(x, x["c"].astype(int))
    with pytest.raises(Unsupported, match="only binary classifiers"):
        compile_model(multi, x, tmp_path / "b")


@pytest.mark.parametrize("change,match", [
    (lambda x: x.drop(columns=["b"]), r"missing column\(s\) \['b'\]"),
    (lambda x: x.assign(extra=1.0), r"extra column\(s\) \['extra'\].*--label"),
    (lambda x: x.assign(b="oops"), r"column 'b' holds non-numeric data \(e.g. 'oops'\)"),
    (lambda x: x.iloc[:0], "sample has no rows"),
], ids=["missing", "extra", "non-numeric", "empty"])
def test_bad_samples(fitted, tmp_path: Path, change, match: str) -> None:
    model, x = fitted
    with pytest.raises(InvalidInput, match=match):
        compile_model(model, change(x), tmp_path / "b")
    _nothing_written(tmp_path / "b")


def test_label_must_exist(fitted, tmp_path: Path) -> None:
    model, x = fitted
    with pytest.raises(InvalidInput, match="no label column 'y'"):
        compile_model(model, x, tmp_path / "b", CompileOptions(label="y"))


def test_output_dir_not_empty(fitted, tmp_path: Path) -> None:
    model, x = fitted
    out = tmp_path / "b"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises((InvalidInput, AlreadyExists), match="not empty"):
        compile_model(model, x, out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "model.joblib"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(InvalidInput, match="not a readable joblib/pickle"):
        load_model(str(bad))
    with pytest.raises(InvalidInput, match="does not exist"):
        load_model(str(tmp_path / "absent.joblib"))
    with pytest.raises(InvalidInput, match="cannot import 'nope'"):
        load_model("compiler.demo.model:nope")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InvalidInput, match="is empty"):
        read_sample(empty)
    with pytest.raises(InvalidInput, match="does not exist"):
        read_sample(tmp_path / "absent.csv")


def test_header_only_csv_is_an_empty_sample(fitted, tmp_path: Path) -> None:
    model, x = fitted
    path = tmp_path / "s.csv"
    x.iloc[:0].to_csv(path, index=False)
    with pytest.raises(InvalidInput, match="sample has no rows"):
        compile_model(model, read_sample(path), tmp_path / "b")


def test_joblib_and_module_function_load(fitted, tmp_path: Path) -> None:
    model, _ = fitted
    joblib.dump(model, tmp_path / "m.joblib")
    assert type(load_model(str(tmp_path / "m.joblib"))) is LogisticRegression
    assert load_model("compiler.demo.model:pipeline").steps[-1][0] == "model"


def test_parity_failure_writes_nothing(numeric_frame, tmp_path: Path) -> None:
    x, y = numeric_frame()
    model = LogisticRegression().fit(x, y)
    impostor = LogisticRegression().fit(x, 1 - y)  # a different model behind the same class
    table = ConverterTable()
    table.register(Converter("wrong", ("sklearn.linear_model.LogisticRegression",),
                             lambda est, n: _sklearn(impostor, n), nan_native=False, tolerance=1e-5))
    with pytest.raises(ParityError, match=r"parity FAILED: 400 rows, max \|diff\| .*no bundle written"):
        compile_model(model, x, tmp_path / "b", table=table)
    _nothing_written(tmp_path / "b")


def test_converter_table_refuses_silent_overwrite() -> None:
    table = ConverterTable()
    for conv in CONVERTERS:
        table.register(conv)
    with pytest.raises(AlreadyExists, match="already has a converter"):
        table.register(CONVERTERS[0])
    assert table.families() == sorted({c.family for c in CONVERTERS})


def test_bad_threshold_and_unknown_constraint(fitted, tmp_path: Path) -> None:
    from compiler.build import Constraint

    model, x = fitted
    with pytest.raises(InvalidInput, match=r"threshold must lie in \[0, 1\]"):
        compile_model(model, x, tmp_path / "b", CompileOptions(threshold=1.5))
    with pytest.raises(InvalidInput, match=r"unknown feature\(s\) \['zz'\]"):
        compile_model(model, x, tmp_path / "b", CompileOptions(constraints={"zz": Constraint(0, 1)}))
    assert np.isfinite(x.to_numpy()).all()
