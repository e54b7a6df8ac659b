"""OIP request decoding: both layouts, raw and typed contents, FP32/FP64, NaN/inf bit patterns preserved."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from compiler.schema import FeatureSpec, Schema
from server.api.oip import grpc_predict_v2_pb2 as pb
from server.rpc import oip_codec as codec

INF = float("inf")
NP = {"FP32": np.dtype("<f4"), "FP64": np.dtype("<f8")}
BITS = {"FP32": np.uint32, "FP64": np.uint64}


def schema_of(width: int) -> Schema:
    feats = tuple(FeatureSpec(f"f{i}", "numeric", -INF, INF, True) for i in range(width))
    return Schema(features=feats, threshold=0.5, classes=("0", "1"))


def single_request(x: np.ndarray, datatype: str, raw: bool, shape: list[int] | None = None) -> pb.ModelInferRequest:
    """A one-tensor request as tritonclient builds it (raw) or with typed contents."""
    req = pb.ModelInferRequest(model_name="m", id="r1")
    tensor = req.inputs.add(name="input", datatype=datatype, shape=shape if shape is not None else list(x.shape))
    flat = np.ascontiguousarray(x, dtype=NP[datatype]).ravel()
    if raw:
        req.raw_input_contents.append(flat.tobytes())
    else:
        getattr(tensor.contents, codec.TYPED_FIELD[datatype]).extend(flat.tolist())
    return req


def named_request(x: np.ndarray, datatype: str, raw: bool, order: list[int], column: bool) -> pb.ModelInferRequest:
    """One tensor per feature, in `order`, each [rows] or [rows, 1]."""
    req = pb.ModelInferRequest(model_name="m")
    rows = x.shape[0]
    for j in order:
        col = np.ascontiguousarray(x[:, j], dtype=NP[datatype])
        tensor = req.inputs.add(name=f"f{j}", datatype=datatype, shape=[rows, 1] if column else [rows])
        if raw:
            req.raw_input_contents.append(col.tobytes())
        else:
            getattr(tensor.contents, codec.TYPED_FIELD[datatype]).extend(col.tolist())
    return req


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def any_floats(datatype: str, shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Every bit pattern, so NaN payloads (quiet and signalling), infinities and -0.0 all appear."""
    return hnp.arrays(BITS[datatype], shape).map(lambda a: a.view(NP[datatype]))


@st.composite
def matrices(draw: st.DrawFn) -> tuple[np.ndarray, str]:
    datatype = draw(st.sampled_from(["FP32", "FP64"]))
    rows, width = draw(st.integers(1, 17)), draw(st.integers(1, 9))
    return draw(any_floats(datatype, (rows, width))), datatype


@settings(max_examples=150, deadline=None)
@given(matrices(), st.booleans())
def test_single_tensor_round_trip_is_bit_exact(case: tuple[np.ndarray, str], raw: bool) -> None:
    x, datatype = case
    req = pb.ModelInferRequest.FromString(single_request(x, datatype, raw).SerializeToString())
    got, params = codec.decode_infer_request(req, schema_of(x.shape[1]), max_rows=64)
    assert same_bits(got, x.astype(np.float64))
    assert params == {}


@settings(max_examples=50, deadline=None)
@given(matrices(), st.booleans())
def test_one_row_may_be_given_as_a_vector(case: tuple[np.ndarray, str], raw: bool) -> None:
    x, datatype = case
    row = x[:1]
    req = single_request(row, datatype, raw, shape=[row.shape[1]])
    got, _ = codec.decode_infer_request(req, schema_of(row.shape[1]), max_rows=1)
    assert same_bits(got, row.astype(np.float64))


@settings(max_examples=100, deadline=None)
@given(matrices(), st.booleans(), st.booleans(), st.randoms(use_true_random=False))
def test_one_tensor_per_feature_in_any_order(case: tuple[np.ndarray, str], raw: bool, column: bool,
                                             rnd) -> None:  # noqa: ANN001
    x, datatype = case
    order = list(range(x.shape[1]))
    rnd.shuffle(order)
    req = named_request(x, datatype, raw, order, column)
    got, _ = codec.decode_infer_request(req, schema_of(x.shape[1]), max_rows=64)
    assert same_bits(got, x.astype(np.float64))


def test_a_single_feature_model_accepts_its_named_vector() -> None:
    x = np.array([[1.0], [2.0], [3.0]])
    got, _ = codec.decode_infer_request(named_request(x, "FP64", True, [0], False), schema_of(1), max_rows=8)
    assert got.tolist() == [[1.0], [2.0], [3.0]]


def test_single_tensor_path_views_raw_bytes_without_a_python_loop() -> None:
    x = np.arange(512 * 30, dtype=np.float64).reshape(512, 30)
    got, _ = codec.decode_infer_request(single_request(x, "FP64", True), schema_of(30), max_rows=512)
    assert got.flags.c_contiguous and got.shape == (512, 30) and np.array_equal(got, x)


def test_request_parameters_are_decoded() -> None:
    req = single_request(np.zeros((1, 2)), "FP64", True)
    req.parameters["entity_key"].string_param = "cust-9"
    req.parameters["priority"].uint64_param = 2**64 - 1
    req.parameters["sequence_start"].bool_param = True
    _, params = codec.decode_infer_request(req, schema_of(2), max_rows=1)
    assert params == {"entity_key": "cust-9", "priority": 2**64 - 1, "sequence_start": True}
    assert codec.entity_key(params) == "cust-9"
    assert codec.entity_key({}) == ""
