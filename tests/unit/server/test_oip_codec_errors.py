"""Every malformed OIP request fails with the right error class and a message naming the field, expected vs got.

InvalidInput maps to INVALID_ARGUMENT and TooLarge (a subclass) to RESOURCE_EXHAUSTED in server/rpc/status.py;
sizes are checked before anything is allocated, so a lying shape cannot make the server allocate it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.errors import InvalidInput
from compiler.schema import FeatureSpec, Schema
from server.api.oip import grpc_predict_v2_pb2 as pb
from server.errors import TooLarge
from server.rpc import oip_codec as codec

INF = float("inf")
SCHEMA = Schema(features=tuple(FeatureSpec(f"f{i}", "numeric", -INF, INF, True) for i in range(3)),
                threshold=0.5, classes=("0", "1"))
MAX_ROWS = 4


def raw_req(shape: list[int], data: bytes, datatype: str = "FP64") -> pb.ModelInferRequest:
    req = pb.ModelInferRequest(model_name="m")
    req.inputs.add(name="input", datatype=datatype, shape=shape)
    req.raw_input_contents.append(data)
    return req


def typed_req(shape: list[int], **contents: list) -> pb.ModelInferRequest:
    req = pb.ModelInferRequest(model_name="m")
    req.inputs.add(name="input", datatype="FP64", shape=shape, contents=pb.InferTensorContents(**contents))
    return req


def named_req(shapes: list[list[int]], names: list[str] | None = None) -> pb.ModelInferRequest:
    req = pb.ModelInferRequest(model_name="m")
    for j, shape in enumerate(shapes):
        req.inputs.add(name=(names or [f"f{i}" for i in range(len(shapes))])[j], datatype="FP64", shape=shape)
        req.raw_input_contents.append(np.zeros(int(np.prod(shape)), "<f8").tobytes())
    return req


def with_raw_and_typed() -> pb.ModelInferRequest:
    req = raw_req([1, 3], bytes(24))
    req.inputs[0].contents.fp64_contents.extend([1.0, 2.0, 3.0])
    return req


def with_extra_raw() -> pb.ModelInferRequest:
    req = raw_req([1, 3], bytes(24))
    req.raw_input_contents.append(bytes(24))
    return req


def with_empty_parameter() -> pb.ModelInferRequest:
    req = raw_req([1, 3], bytes(24))
    req.parameters["entity_key"].SetInParent()
    return req


CASES: list[tuple[str, Callable[[], pb.ModelInferRequest], type[Exception], list[str]]] = [
    ("no inputs", lambda: pb.ModelInferRequest(model_name="m"), InvalidInput, ["inputs:", "got 0 tensor"]),
    ("unknown datatype", lambda: raw_req([1, 3], bytes(12), "INT32"), InvalidInput,
     ["inputs[0].datatype", "FP32 or FP64", "'INT32'"]),
    ("BYTES datatype", lambda: raw_req([1, 3], bytes(12), "BYTES"), InvalidInput, ["inputs[0].datatype"]),
    ("wrong width", lambda: raw_req([1, 4], bytes(32)), InvalidInput, ["inputs[0].shape", "[rows, 3]", "[1, 4]"]),
    ("vector of wrong width", lambda: raw_req([2], bytes(16)), InvalidInput, ["inputs[0].shape", "[2]"]),
    ("rank 3", lambda: raw_req([1, 1, 3], bytes(24)), InvalidInput, ["inputs[0].shape", "[1, 1, 3]"]),
    ("zero rows", lambda: raw_req([0, 3], b""), InvalidInput, ["inputs[0].shape", "at least 1 row", "got 0"]),
    ("negative rows", lambda: raw_req([-1, 3], b""), InvalidInput, ["inputs[0].shape", "got -1"]),
    ("too many rows", lambda: raw_req([5, 3], bytes(120)), TooLarge, ["inputs[0].shape", "at most 4", "got 5"]),
    ("huge shape, tiny body", lambda: raw_req([2**40, 3], bytes(24)), TooLarge, ["inputs[0].shape", "got 1099511627776"]),
    ("short raw bytes", lambda: raw_req([2, 3], bytes(40)), InvalidInput,
     ["raw_input_contents[0]", "expected 48 bytes", "got 40"]),
    ("FP32 length for FP64", lambda: raw_req([1, 3], bytes(12)), InvalidInput, ["raw_input_contents[0]", "24", "12"]),
    ("raw and typed", with_raw_and_typed, InvalidInput, ["inputs[0].contents", "raw_input_contents[0]"]),
    ("raw count", with_extra_raw, InvalidInput, ["raw_input_contents:", "expected 1", "got 2"]),
    ("typed count", lambda: typed_req([2, 3], fp64_contents=[1.0] * 5), InvalidInput,
     ["inputs[0].contents.fp64_contents", "expected 6", "got 5"]),
    ("typed missing", lambda: typed_req([1, 3]), InvalidInput, ["inputs[0].contents.fp64_contents", "got 0"]),
    ("typed wrong field", lambda: typed_req([1, 3], fp32_contents=[1.0] * 3), InvalidInput,
     ["inputs[0].contents", "expects fp64_contents", "got fp32_contents"]),
    ("typed ints", lambda: typed_req([1, 3], int_contents=[1, 2, 3]), InvalidInput, ["got int_contents"]),
    ("names not features", lambda: named_req([[2]] * 3, ["f0", "f1", "x"]), InvalidInput, ["inputs:", "'x'"]),
    ("duplicate names", lambda: named_req([[2]] * 3, ["f0", "f1", "f1"]), InvalidInput, ["inputs:", "got 3"]),
    ("too few named", lambda: named_req([[2]] * 2), InvalidInput, ["inputs:", "got 2 tensor"]),
    ("named rows differ", lambda: named_req([[2], [3], [2]]), InvalidInput,
     ["inputs[1].shape", "expected 2 rows", "[3]"]),
    ("named wide column", lambda: named_req([[2, 2], [2], [2]]), InvalidInput,
     ["inputs[0].shape", "[rows] or [rows, 1]", "'f0'", "[2, 2]"]),
    ("named too many rows", lambda: named_req([[9]] * 3), TooLarge, ["inputs[0].shape", "at most 4", "got 9"]),
    ("parameter with no value", with_empty_parameter, InvalidInput, ["parameters['entity_key']", "none set"]),
]


@pytest.mark.parametrize(("build", "error", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_request_names_the_field(build: Callable[[], pb.ModelInferRequest], error: type[Exception],
                                           fragments: list[str]) -> None:
    with pytest.raises(error) as caught:
        codec.decode_infer_request(build(), SCHEMA, MAX_ROWS)
    assert type(caught.value) is error  # TooLarge must not degrade to plain InvalidInput, nor the reverse
    for fragment in fragments:
        assert fragment in str(caught.value)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, MAX_ROWS), st.sampled_from(["FP32", "FP64"]), st.integers(0, 200))
def test_any_raw_length_but_the_right_one_is_rejected(rows: int, datatype: str, length: int) -> None:
    itemsize = 4 if datatype == "FP32" else 8
    req = raw_req([rows, 3], bytes(length), datatype)
    if length == rows * 3 * itemsize:
        x, _ = codec.decode_infer_request(req, SCHEMA, MAX_ROWS)
        assert x.shape == (rows, 3)
        return
    with pytest.raises(InvalidInput, match=rf"raw_input_contents\[0\]: expected {rows * 3 * itemsize} bytes"):
        codec.decode_infer_request(req, SCHEMA, MAX_ROWS)


def test_entity_key_must_be_a_string() -> None:
    with pytest.raises(InvalidInput, match=r"parameters\['entity_key'\]: expected string_param, got int 7"):
        codec.entity_key({"entity_key": 7})
