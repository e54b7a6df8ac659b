"""compiler/loading.py: the model file or module:function, the sample CSV, and the sample's checks and digest."""

from __future__ import annotations

import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from compiler.errors import InvalidInput
from compiler.loading import load_model, read_sample, sample_digest, sample_matrix

NAMES = ["a", "b", "c", "d"]


def test_joblib_pickle_and_module_function(numeric_frame, tmp_path: Path) -> None:
    x, y = numeric_frame()
    model = LogisticRegression().fit(x, y)
    joblib.dump(model, tmp_path / "m.joblib")
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(model))
    for name in ("m.joblib", "m.pkl"):
        loaded = load_model(str(tmp_path / name))
        np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert load_model("compiler.demo.model:pipeline").steps[-1][0] == "model"


def test_a_file_path_with_a_colon_is_a_file(numeric_frame, tmp_path: Path) -> None:
    x, y = numeric_frame()
    path = tmp_path / "model:v1.joblib"
    joblib.dump(LogisticRegression().fit(x, y), path)
    assert isinstance(load_model(str(path)), LogisticRegression)


@pytest.mark.parametrize("content", [b"not a pickle", b"", b"\x80\x04\x95garbage"], ids=["text", "empty", "truncated"])
def test_an_unreadable_model_file(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "model.joblib"
    bad.write_bytes(content)
    with pytest.raises(InvalidInput, match=r"^model file .*model.joblib is not a readable joblib/pickle file \(\w+\)$"):
        load_model(str(bad))


def test_a_missing_model_file_and_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"^model file .*absent.joblib does not exist$"):
        load_model(str(tmp_path / "absent.joblib"))
    with pytest.raises(InvalidInput, match="does not exist"):
        load_model(str(tmp_path))


@pytest.mark.parametrize("spec,match", [
    ("compiler.demo.model:nope", r"cannot import 'nope' from 'compiler.demo.model'"),
    ("no_such_module_xyz:train", r"cannot import 'train' from 'no_such_module_xyz'"),
    ("compiler.demo.model:", r"cannot import '' from 'compiler.demo.model'"),
])
def test_a_bad_module_function(spec: str, match: str) -> None:
    with pytest.raises(InvalidInput, match=rf"^model {spec!r}: {match}"):
        load_model(spec)


def test_read_sample(numeric_frame, tmp_path: Path) -> None:
    x, _ = numeric_frame()
    x.to_csv(tmp_path / "s.csv", index=False)
    back = read_sample(tmp_path / "s.csv")
    assert list(back.columns) == NAMES and len(back) == len(x)


def test_a_header_only_csv_is_an_empty_sample(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("a,b,c,d\n")
    df = read_sample(path)
    with pytest.raises(InvalidInput, match="^sample has no rows; parity and drift need at least one$"):
        sample_matrix(df, NAMES, None)


@pytest.mark.parametrize("content,match", [
    (b"", r"sample file .*s.csv is empty"),
    (b"\n\n", r"sample file .*s.csv is empty"),
    (b'a,b\n1,"unterminated\n', r"sample file .*s.csv is not a readable CSV \(ParserError\)"),
    (b"a,b\n\xff\xfe\xfa,1\n", r"sample file .*s.csv is not a readable CSV \(UnicodeDecodeError\)"),
], ids=["empty", "blank-lines", "bad-quote", "not-utf8"])
def test_unreadable_samples(tmp_path: Path, content: bytes, match: str) -> None:
    (tmp_path / "s.csv").write_bytes(content)
    with pytest.raises(InvalidInput, match=match):
        read_sample(tmp_path / "s.csv")


def test_a_missing_sample_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="sample file .*absent.csv does not exist"):
        read_sample(tmp_path / "absent.csv")


def test_sample_matrix_orders_columns_and_keeps_the_label_out(numeric_frame) -> None:
    x, y = numeric_frame()
    df = x[["d", "b", "a", "c"]].assign(y=y)
    m = sample_matrix(df, NAMES, "y")
    assert m.dtype == np.float64 and m.flags.c_contiguous
    np.testing.assert_array_equal(m, x[NAMES].to_numpy())


def test_sample_matrix_checks(numeric_frame) -> None:
    x, _ = numeric_frame()
    with pytest.raises(InvalidInput, match=r"missing column\(s\) \['d'\]"):
        sample_matrix(x.drop(columns="d"), NAMES, None)
    with pytest.raises(InvalidInput, match=r"extra column\(s\) \['e'\] the model does not use \(pass --label"):
        sample_matrix(x.assign(e=1), NAMES, None)
    with pytest.raises(InvalidInput, match=r"extra column\(s\) \['e'\] the model does not use$"):
        sample_matrix(x.assign(e=1, y=0), NAMES, "y")  # a label was given: no hint
    with pytest.raises(InvalidInput, match="no label column 'y'"):
        sample_matrix(x, NAMES, "y")
    with pytest.raises(InvalidInput, match=r"column 'c' holds non-numeric data \(e.g. 'card'\); expected numbers"):
        sample_matrix(x.assign(c=["card"] + [1.0] * (len(x) - 1)), NAMES, None)
    ok = sample_matrix(x.assign(c=x["c"] > 1), NAMES, None)  # booleans are numbers
    assert set(np.unique(ok[:, 2])) <= {0.0, 1.0}


def test_a_non_numeric_csv_column_is_refused(numeric_frame, tmp_path: Path) -> None:
    x, _ = numeric_frame()
    x.assign(c=np.where(x.index == 3, "card", x["c"].astype(str))).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(InvalidInput, match=r"column 'c' holds non-numeric data \(e.g. 'card'\)"):
        sample_matrix(read_sample(tmp_path / "s.csv"), NAMES, None)


def test_sample_digest_depends_on_values_and_names_not_formatting(numeric_frame, tmp_path: Path) -> None:
    x, _ = numeric_frame()
    m = x.to_numpy()
    d = sample_digest(NAMES, m)
    x.to_csv(tmp_path / "a.csv", index=False, float_format="%.17g")
    x.to_csv(tmp_path / "b.csv", index=False, float_format="%.25e")
    for p in ("a.csv", "b.csv"):
        assert sample_digest(NAMES, sample_matrix(read_sample(tmp_path / p), NAMES, None)) == d
    changed = m.copy()
    changed[0, 0] = np.nextafter(changed[0, 0], np.inf)
    assert sample_digest(NAMES, changed) != d
    assert sample_digest(["a", "b", "c", "e"], m) != d
    assert sample_digest(NAMES, np.asfortranarray(m)) == d
    assert len(d) == 64
    assert sample_digest(NAMES, pd.DataFrame(m).to_numpy()) == d


def test_a_module_function_that_raises_is_reported_as_the_users_error() -> None:
    """User code failing is one line naming the hook and its error, not an internal error of ours."""
    with pytest.raises(InvalidInput, match=r"^model 'json:loads' raised TypeError: .*missing 1 required"):
        load_model("json:loads")
