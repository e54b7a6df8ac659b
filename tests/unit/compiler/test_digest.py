"""compiler/digest.py: the one definition of "same bytes" (canonical JSON, float encoding, sha256)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from compiler.digest import (
    canonical_json,
    decode_float,
    encode_float,
    pretty_json,
    sha256_bytes,
    sha256_file,
)


def test_canonical_json_is_key_order_independent_and_compact() -> None:
    assert canonical_json({"b": 1, "a": [1.5, "é"]}) == b'{"a":[1.5,"\\u00e9"],"b":1}'
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})
    assert pretty_json({"b": 1, "a": 2}).endswith(b"\n") and json.loads(pretty_json({"b": 1})) == {"b": 1}


@pytest.mark.parametrize("fn", [canonical_json, pretty_json])
def test_nan_and_infinity_are_refused(fn) -> None:
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError):
            fn({"x": bad})


def test_float_encoding_round_trips() -> None:
    for v in (0.0, -0.0, 1.5, 1e300, 5e-324, float("inf"), float("-inf")):
        assert decode_float(encode_float(v)) == v
    assert encode_float(float("nan")) == "nan" and math.isnan(decode_float("nan"))
    assert encode_float(float("-inf")) == "-inf" and encode_float(2) == 2.0


def test_sha256(tmp_path: Path) -> None:
    assert sha256_bytes(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    data = bytes(range(256)) * 5000
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f", chunk=1000) == sha256_bytes(data)
