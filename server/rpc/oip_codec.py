"""Open Inference Protocol (KServe V2) messages <-> numpy, validated before anything is allocated.

Pure functions over the generated messages (no grpc): the servicer stays thin and every malformed request is
testable without a socket. Two request layouts are accepted:
  (a) one FP32/FP64 tensor [rows, n_features] (or [n_features] for one row), raw or typed contents;
  (b) n_features tensors, one per schema feature, named after it, each [rows] or [rows, 1].
The single-tensor path has no Python loop over rows or features: raw bytes are viewed with np.frombuffer and
typed contents converted by numpy in one call. Error messages name the field and say expected vs got.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from compiler.errors import InvalidInput
from compiler.schema import Schema
from server.api.oip import grpc_predict_v2_pb2 as pb
from server.errors import TooLarge

ParamValue = bool | int | str | float
INPUT_DTYPES: dict[str, np.dtype] = {"FP32": np.dtype("<f4"), "FP64": np.dtype("<f8")}
TYPED_FIELD = {"FP32": "fp32_contents", "FP64": "fp64_contents"}
OUTPUTS: tuple[str, ...] = ("score", "decision")
_OUTPUT_DTYPES = {"score": "FP32", "decision": "BOOL"}
_CONTENT_FIELDS = ("bool_contents", "int_contents", "int64_contents", "uint_contents", "uint64_contents",
                   "fp32_contents", "fp64_contents", "bytes_contents")
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1

Tensor = pb.ModelInferRequest.InferInputTensor


# InferParameter <-> Python ---------------------------------------------------------------------------------
def param_value(param: pb.InferParameter, field: str = "parameter") -> ParamValue:
    """The Python value of whichever of the 5 choices is set."""
    choice = param.WhichOneof("parameter_choice")
    if choice is None:
        raise InvalidInput(f"{field}: expected one of bool_param, int64_param, string_param, double_param, "
                           f"uint64_param, got none set")
    return getattr(param, choice)


def make_param(value: ParamValue, field: str = "parameter") -> pb.InferParameter:
    """A Python value as an InferParameter; ints use int64 when they fit, uint64 above int64's maximum."""
    param = pb.InferParameter()
    set_param(param, value, field)
    return param


def set_param(param: pb.InferParameter, value: ParamValue, field: str = "parameter") -> None:
    """Set the one choice that carries `value` (in place: map entries cannot be assigned whole)."""
    if isinstance(value, str):
        param.string_param = value
    elif isinstance(value, (bool, np.bool_)):
        param.bool_param = bool(value)
    elif isinstance(value, (int, np.integer)):
        v = int(value)
        if _INT64_MIN <= v <= _INT64_MAX:
            param.int64_param = v
        elif _INT64_MAX < v <= _UINT64_MAX:
            param.uint64_param = v
        else:
            raise InvalidInput(f"{field}: expected an integer in [{_INT64_MIN}, {_UINT64_MAX}], got {v}")
    elif isinstance(value, (float, np.floating)):
        param.double_param = float(value)
    else:
        raise InvalidInput(f"{field}: expected bool, int, float or str, got {type(value).__name__}")


def params_to_dict(params: Mapping[str, pb.InferParameter], field: str = "parameters") -> dict[str, ParamValue]:
    return {key: param_value(p, f"{field}[{key!r}]") for key, p in params.items()}


def fill_params(target: Mapping[str, pb.InferParameter], values: Mapping[str, ParamValue],
                field: str = "parameters") -> None:
    """Copy `values` into a protobuf map field of InferParameter."""
    for key, value in values.items():
        set_param(target[key], value, f"{field}[{key!r}]")  # type: ignore[index]


def entity_key(params: Mapping[str, ParamValue]) -> str:
    """The sticky routing key from the request parameter "entity_key" (a string), "" when absent."""
    value = params.get("entity_key", "")
    if not isinstance(value, str):
        raise InvalidInput(f"parameters['entity_key']: expected string_param, got {type(value).__name__} {value!r}")
    return value


# request -------------------------------------------------------------------------------------------------
def decode_infer_request(req: pb.ModelInferRequest, schema: Schema, max_rows: int) -> tuple[np.ndarray, dict]:
    """(rows, n_features) float64 in schema order, plus the decoded request parameters."""
    params = params_to_dict(req.parameters)
    n_in, raw = len(req.inputs), req.raw_input_contents
    if len(raw) and len(raw) != n_in:
        raise InvalidInput(f"raw_input_contents: expected {n_in} entries (one per input, same order), "
                           f"got {len(raw)}")
    if n_in and n_in == schema.width and {t.name for t in req.inputs} == set(schema.names):
        return _decode_named(req, schema, max_rows), params
    if n_in != 1:
        raise InvalidInput(f"inputs: expected 1 tensor [rows, {schema.width}] or {schema.width} tensors named "
                           f"after the features {list(schema.names)[:5]}..., got {n_in} tensor(s) "
                           f"{[t.name for t in req.inputs][:5]}")
    return _decode_single(req, schema.width, max_rows), params


def _decode_single(req: pb.ModelInferRequest, width: int, max_rows: int) -> np.ndarray:
    tensor = req.inputs[0]
    shape = list(tensor.shape)
    if len(shape) == 1 and shape[0] == width:
        rows = 1
    elif len(shape) == 2 and shape[1] == width:
        rows = shape[0]
    else:
        raise InvalidInput(f"inputs[0].shape: expected [rows, {width}] or [{width}], got {shape}")
    _check_rows(rows, max_rows, "inputs[0].shape")
    values = _values(req, 0, rows * width)
    return values.reshape(rows, width)


def _decode_named(req: pb.ModelInferRequest, schema: Schema, max_rows: int) -> np.ndarray:
    """One [rows] / [rows, 1] tensor per feature; all validated before the output array is allocated."""
    index = {t.name: i for i, t in enumerate(req.inputs)}
    rows = _named_rows(req.inputs[0], 0, max_rows)
    for i, tensor in enumerate(req.inputs):
        got = _named_rows(tensor, i, max_rows)
        if got != rows:
            raise InvalidInput(f"inputs[{i}].shape: expected {rows} rows like inputs[0], got {list(tensor.shape)}")
    columns = [_values(req, index[name], rows) for name in schema.names]  # validates every tensor first
    x = np.empty((rows, schema.width), dtype=np.float64)
    for j, column in enumerate(columns):
        x[:, j] = column
    return x


def _named_rows(tensor: Tensor, i: int, max_rows: int) -> int:
    shape = list(tensor.shape)
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
        raise InvalidInput(f"inputs[{i}].shape: expected [rows] or [rows, 1] for feature {tensor.name!r}, "
                           f"got {shape}")
    _check_rows(shape[0], max_rows, f"inputs[{i}].shape")
    return shape[0]


def _check_rows(rows: int, max_rows: int, field: str) -> None:
    if rows < 1:
        raise InvalidInput(f"{field}: expected at least 1 row, got {rows}")
    if rows > max_rows:
        raise TooLarge(f"{field}: at most {max_rows} rows per call, got {rows}")


def _values(req: pb.ModelInferRequest, i: int, count: int) -> np.ndarray:
    """Input i's `count` elements as float64, from raw_input_contents[i] or its typed contents."""
    tensor = req.inputs[i]
    dtype = INPUT_DTYPES.get(tensor.datatype)
    if dtype is None:
        raise InvalidInput(f"inputs[{i}].datatype: expected FP32 or FP64, got {tensor.datatype!r}")
    if len(req.raw_input_contents):
        if tensor.HasField("contents"):
            raise InvalidInput(f"inputs[{i}].contents: given together with raw_input_contents[{i}]; give one")
        data = req.raw_input_contents[i]
        if len(data) != count * dtype.itemsize:
            raise InvalidInput(f"raw_input_contents[{i}]: expected {count * dtype.itemsize} bytes ({count} "
                               f"{tensor.datatype} elements for shape {list(tensor.shape)}), got {len(data)}")
        return np.frombuffer(data, dtype=dtype).astype(np.float64)
    want = TYPED_FIELD[tensor.datatype]
    for name in _CONTENT_FIELDS:
        if name != want and len(getattr(tensor.contents, name)):
            raise InvalidInput(f"inputs[{i}].contents: datatype {tensor.datatype} expects {want}, got {name}")
    typed = getattr(tensor.contents, want)
    if len(typed) != count:
        raise InvalidInput(f"inputs[{i}].contents.{want}: expected {count} values for shape "
                           f"{list(tensor.shape)}, got {len(typed)}")
    return np.asarray(typed, dtype=np.float64)  # FP32 values arrive widened to Python floats: exact


# response ------------------------------------------------------------------------------------------------
def encode_infer_response(model: str, version: int, request_id: str, scores: np.ndarray, decisions: np.ndarray,
                          requested_outputs: Sequence[str], parameters: Mapping[str, ParamValue],
                          ) -> pb.ModelInferResponse:
    """"score" (FP32 [rows]) and "decision" (BOOL [rows]) as raw little-endian bytes, index-aligned with
    `outputs`; only the requested ones, in the requested order (all when none are requested)."""
    names = output_names(requested_outputs)
    rows = int(scores.shape[0])
    resp = pb.ModelInferResponse(model_name=model, model_version=str(version), id=request_id,
                                 raw_output_contents=[_raw_output(n, scores, decisions) for n in names])
    for name in names:
        resp.outputs.add(name=name, datatype=_OUTPUT_DTYPES[name], shape=[rows])
    fill_params(resp.parameters, parameters)
    return resp


def _raw_output(name: str, scores: np.ndarray, decisions: np.ndarray) -> bytes:
    if name == "score":
        return np.ascontiguousarray(scores, dtype="<f4").tobytes()
    return np.ascontiguousarray(decisions, dtype=np.bool_).tobytes()  # BOOL: one byte per element


def output_names(requested: Sequence[str]) -> tuple[str, ...]:
    """The outputs to send, in order: all when none are requested; unknown or repeated names are invalid."""
    if not requested:
        return OUTPUTS
    seen: set[str] = set()
    for i, name in enumerate(requested):
        if name not in OUTPUTS:
            raise InvalidInput(f"outputs[{i}].name: expected one of {list(OUTPUTS)}, got {name!r}")
        if name in seen:
            raise InvalidInput(f"outputs[{i}].name: {name!r} is requested more than once")
        seen.add(name)
    return tuple(requested)
