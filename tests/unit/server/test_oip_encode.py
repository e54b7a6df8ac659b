"""OIP responses (raw outputs index-aligned with `outputs`) and the 5-choice InferParameter."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from compiler.errors import InvalidInput
from server.api.oip import grpc_predict_v2_pb2 as pb
from server.rpc import oip_codec as codec

PARAMS = {"route": "champion", "bundle_digest": "sha256:ab"}


def outputs_of(resp: pb.ModelInferResponse) -> dict[str, np.ndarray]:
    """Read outputs back the way tritonclient's as_numpy does: raw bytes by index."""
    dtypes = {"FP32": np.float32, "BOOL": np.bool_}
    assert len(resp.raw_output_contents) == len(resp.outputs)
    return {o.name: np.frombuffer(resp.raw_output_contents[i], dtype=dtypes[o.datatype]).reshape(tuple(o.shape))
            for i, o in enumerate(resp.outputs)}


def encode(scores: np.ndarray, requested: list[str] = ()) -> pb.ModelInferResponse:  # type: ignore[assignment]
    resp = codec.encode_infer_response("credit", 7, "req-1", scores, scores >= 0.5, list(requested), PARAMS)
    return pb.ModelInferResponse.FromString(resp.SerializeToString())


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.uint32, st.integers(1, 64)).map(lambda a: a.view(np.float32)))
def test_scores_round_trip_bit_exact(scores: np.ndarray) -> None:
    out = outputs_of(encode(scores))
    assert np.array_equal(out["score"].view(np.uint32), scores.view(np.uint32))
    assert np.array_equal(out["decision"], scores >= 0.5)


def test_response_header_fields() -> None:
    resp = encode(np.array([0.25, 0.75], np.float32))
    assert (resp.model_name, resp.model_version, resp.id) == ("credit", "7", "req-1")
    assert [(o.name, o.datatype, list(o.shape)) for o in resp.outputs] == [("score", "FP32", [2]),
                                                                          ("decision", "BOOL", [2])]
    assert codec.params_to_dict(resp.parameters) == PARAMS
    assert resp.parameters["route"].WhichOneof("parameter_choice") == "string_param"
    assert resp.raw_output_contents[1] == b"\x00\x01"  # BOOL: one byte per element


@pytest.mark.parametrize("requested", [["score"], ["decision"], ["decision", "score"]])
def test_only_requested_outputs_in_requested_order(requested: list[str]) -> None:
    resp = encode(np.array([0.9], np.float32), requested)
    assert [o.name for o in resp.outputs] == requested
    assert outputs_of(resp).keys() == set(requested)


@pytest.mark.parametrize(("requested", "message"), [
    (["probabilities"], r"outputs\[0\].name: expected one of \['score', 'decision'\], got 'probabilities'"),
    (["score", "Score"], r"outputs\[1\].name: expected one of .* got 'Score'"),
    (["score", "score"], r"outputs\[1\].name: 'score' is requested more than once"),
])
def test_unknown_or_repeated_output_is_invalid(requested: list[str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        encode(np.array([0.9], np.float32), requested)


@pytest.mark.parametrize(("value", "choice"), [
    (True, "bool_param"), (False, "bool_param"), (np.bool_(True), "bool_param"),
    (0, "int64_param"), (-(2**63), "int64_param"), (2**63 - 1, "int64_param"), (np.int32(-5), "int64_param"),
    (2**63, "uint64_param"), (2**64 - 1, "uint64_param"), (np.uint64(2**64 - 1), "uint64_param"),
    ("", "string_param"), ("cust-1", "string_param"),
    (0.5, "double_param"), (float("inf"), "double_param"), (np.float32(0.25), "double_param"),
])
def test_each_choice_round_trips(value: object, choice: str) -> None:
    param = pb.InferParameter.FromString(codec.make_param(value).SerializeToString())  # type: ignore[arg-type]
    assert param.WhichOneof("parameter_choice") == choice
    back = codec.param_value(param)
    assert back == value and type(back) is {"bool_param": bool, "int64_param": int, "uint64_param": int,
                                             "string_param": str, "double_param": float}[choice]


@pytest.mark.parametrize(("value", "message"), [
    (2**64, r"p: expected an integer in \[-9223372036854775808, 18446744073709551615\], got 18446744073709551616"),
    (-(2**63) - 1, r"p: expected an integer in .* got -9223372036854775809"),
    (None, r"p: expected bool, int, float or str, got NoneType"),
    (b"x", r"p: expected bool, int, float or str, got bytes"),
])
def test_values_without_a_choice_are_invalid(value: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        codec.make_param(value, "p")  # type: ignore[arg-type]


def test_unset_parameter_names_the_field() -> None:
    with pytest.raises(InvalidInput, match=r"parameters\['x'\]: expected one of bool_param, .* got none set"):
        codec.params_to_dict({"x": pb.InferParameter()})


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.one_of(
    st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(), st.text(max_size=20))))
def test_parameter_maps_round_trip(values: dict[str, object]) -> None:
    req = pb.ModelInferRequest()
    codec.fill_params(req.parameters, values)  # type: ignore[arg-type]
    back = codec.params_to_dict(pb.ModelInferRequest.FromString(req.SerializeToString()).parameters)
    assert back.keys() == values.keys()
    for key, value in values.items():
        assert type(back[key]) is type(value)
        assert back[key] == value or (isinstance(value, float) and math.isnan(value) and math.isnan(back[key]))
