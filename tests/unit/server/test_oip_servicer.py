"""OipServicer on a real grpc.aio server (127.0.0.1, port 0) in a background thread, over a fake core.

Clients: our generated stub here, and tritonclient's gRPC client in a subprocess. The subprocess is required,
not a style choice: tritonclient's service_pb2 registers the same `inference.*` message names in protobuf's
default descriptor pool, so it cannot be imported into a process that imports our OIP stubs.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from importlib import metadata

import grpc
import numpy as np
import pytest

from compiler.errors import NotFound, PreconditionFailed
from compiler.schema import FeatureSpec, Schema
from server.api.oip import grpc_predict_v2_pb2 as pb
from server.api.oip import grpc_predict_v2_pb2_grpc as pb_grpc
from server.errors import Overloaded
from server.rpc.oip import OipServicer
from server.types import ModelView, ScoreCall, ScoreResult

INF = float("inf")
SCHEMA = Schema(features=tuple(FeatureSpec(f"f{i}", "numeric", -INF, INF, True) for i in range(3)),
                threshold=0.5, classes=("0", "1"))
WEIGHTS = np.array([0.5, -1.0, 2.0])


def expected_scores(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-(x @ WEIGHTS)))).astype(np.float32)


class FakeCore:
    """The core's interface with a checkable model: score = sigmoid(x . WEIGHTS)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.live, self.ready, self.version = True, True, 7
        self.calls: list[ScoreCall] = []
        self.error: BaseException | None = None

    def model(self, name: str) -> ModelView:
        if name != "credit":
            raise NotFound(f"model {name!r} is not served here; served models: credit")
        return ModelView("credit", self.version, "sha256:abc", SCHEMA, self.ready, 8)

    def models(self) -> list[ModelView]:
        return [self.model("credit")]

    async def score(self, call: ScoreCall) -> ScoreResult:
        self.calls.append(call)
        if self.error is not None:
            raise self.error
        s = expected_scores(call.x)
        return ScoreResult(call.request_id, call.model, self.version, "champion", "sha256:abc", s, s >= 0.5, 0.5)


class ServerThread:
    """A grpc.aio server on its own event loop in a daemon thread (pytest-asyncio is not a dependency)."""

    def __init__(self, servicer: OipServicer) -> None:
        self._servicer = servicer
        self._started = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)
        self.port = 0

    async def _serve(self) -> None:
        server = grpc.aio.server()
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(self._servicer, server)
        self.port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._started.set()
        await self._stop.wait()
        await server.stop(grace=None)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        assert self._started.wait(10), "server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[int, FakeCore]]:
    core = FakeCore()
    with ServerThread(OipServicer(core)) as server:
        yield server.port, core


@pytest.fixture()
def core(served: tuple[int, FakeCore]) -> FakeCore:
    served[1].reset()
    return served[1]


@pytest.fixture()
def stub(served: tuple[int, FakeCore]) -> Iterator[pb_grpc.GRPCInferenceServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{served[0]}") as channel:
        yield pb_grpc.GRPCInferenceServiceStub(channel)


def infer_request(x: np.ndarray, **fields: object) -> pb.ModelInferRequest:
    req = pb.ModelInferRequest(model_name="credit", **fields)  # type: ignore[arg-type]
    req.inputs.add(name="input", datatype="FP64", shape=list(x.shape))
    req.raw_input_contents.append(np.ascontiguousarray(x, "<f8").tobytes())
    return req


def status_of(call, *args: object, **kwargs: object) -> tuple[grpc.StatusCode, str]:  # noqa: ANN001
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value.code(), caught.value.details()


def test_health_and_metadata(stub: pb_grpc.GRPCInferenceServiceStub, core: FakeCore) -> None:
    assert stub.ServerLive(pb.ServerLiveRequest()).live
    assert stub.ServerReady(pb.ServerReadyRequest()).ready
    assert stub.ModelReady(pb.ModelReadyRequest(name="credit", version="7")).ready
    core.ready = False
    assert not stub.ServerReady(pb.ServerReadyRequest()).ready
    assert not stub.ModelReady(pb.ModelReadyRequest(name="credit")).ready
    meta = stub.ServerMetadata(pb.ServerMetadataRequest())
    assert (meta.name, meta.version, list(meta.extensions)) == ("scoregate", metadata.version("scoregate"), [])
    md = stub.ModelMetadata(pb.ModelMetadataRequest(name="credit"))
    assert (md.name, list(md.versions), md.platform) == ("credit", ["7"], "scoregate")
    assert [(t.name, t.datatype, list(t.shape)) for t in md.inputs] == [("input", "FP64", [-1, 3])]
    assert [(t.name, t.datatype, list(t.shape)) for t in md.outputs] == [("score", "FP32", [-1]),
                                                                        ("decision", "BOOL", [-1])]


@pytest.mark.parametrize("method, request_", [
    ("ModelReady", pb.ModelReadyRequest(name="nope")), ("ModelMetadata", pb.ModelMetadataRequest(name="nope")),
    ("ModelReady", pb.ModelReadyRequest(name="credit", version="6")),
    ("ModelMetadata", pb.ModelMetadataRequest(name="credit", version="8")),
])
def test_unknown_model_or_version_is_not_found(stub: pb_grpc.GRPCInferenceServiceStub, core: FakeCore,
                                               method: str, request_: object) -> None:
    code, details = status_of(getattr(stub, method), request_)
    assert code is grpc.StatusCode.NOT_FOUND
    assert "'nope'" in details or "serves version 7" in details


def test_model_infer(stub: pb_grpc.GRPCInferenceServiceStub, core: FakeCore) -> None:
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, np.nan]])
    req = infer_request(x, id="req-1", model_version="7")
    req.parameters["entity_key"].string_param = "cust-42"
    resp = stub.ModelInfer(req, timeout=30)
    assert (resp.model_name, resp.model_version, resp.id) == ("credit", "7", "req-1")
    scores = np.frombuffer(resp.raw_output_contents[0], np.float32)
    np.testing.assert_array_equal(scores, expected_scores(x))
    assert np.frombuffer(resp.raw_output_contents[1], np.bool_).tolist() == (expected_scores(x) >= 0.5).tolist()
    assert resp.parameters["route"].string_param == "champion"
    assert resp.parameters["bundle_digest"].string_param == "sha256:abc"
    (call,) = core.calls
    assert (call.model, call.request_id, call.entity_key) == ("credit", "req-1", "cust-42")
    assert call.deadline is not None and call.x.dtype == np.float64
    np.testing.assert_array_equal(call.x, x)


def test_model_infer_without_id_or_deadline(stub: pb_grpc.GRPCInferenceServiceStub, core: FakeCore) -> None:
    resp = stub.ModelInfer(infer_request(np.zeros((1, 3))))
    assert re.fullmatch(r"[0-9a-f]{32}", resp.id) and core.calls[0].request_id == resp.id
    assert core.calls[0].deadline is None and core.calls[0].entity_key == ""


@pytest.mark.parametrize("error, code, fragment", [
    (PreconditionFailed("model 'credit' is not approved"), grpc.StatusCode.FAILED_PRECONDITION, "not approved"),
    (Overloaded("queue full"), grpc.StatusCode.RESOURCE_EXHAUSTED, "queue full"),
    (RuntimeError("secret /etc/path"), grpc.StatusCode.INTERNAL, "internal error, incident "),
])
def test_core_errors_go_through_the_status_table(stub: pb_grpc.GRPCInferenceServiceStub, core: FakeCore,
                                                 error: Exception, code: grpc.StatusCode, fragment: str) -> None:
    core.error = error
    got, details = status_of(stub.ModelInfer, infer_request(np.zeros((1, 3))))
    assert got is code and fragment in details and "secret" not in details


@pytest.mark.parametrize("mutate, code, fragment", [
    (lambda r: r.inputs[0].shape.__setitem__(1, 4), grpc.StatusCode.INVALID_ARGUMENT, "inputs[0].shape"),
    (lambda r: r.outputs.add(name="probabilities"), grpc.StatusCode.INVALID_ARGUMENT, "outputs[0].name"),
    (lambda r: setattr(r, "model_version", "6"), grpc.StatusCode.NOT_FOUND, "model_version"),
    (lambda r: setattr(r, "model_name", "nope"), grpc.StatusCode.NOT_FOUND, "'nope'"),
    (lambda r: r.parameters["entity_key"].CopyFrom(pb.InferParameter(int64_param=3)),
     grpc.StatusCode.INVALID_ARGUMENT, "parameters['entity_key']"),
])
def test_bad_requests_never_reach_the_core(stub: pb_grpc.GRPCInferenceServiceStub, core: FakeCore,
                                           mutate, code: grpc.StatusCode, fragment: str) -> None:  # noqa: ANN001
    req = infer_request(np.zeros((2, 3)))
    mutate(req)
    got, details = status_of(stub.ModelInfer, req)
    assert got is code and fragment in details
    assert core.calls == []


def test_rows_above_the_model_cap_are_resource_exhausted(stub: pb_grpc.GRPCInferenceServiceStub,
                                                         core: FakeCore) -> None:
    code, details = status_of(stub.ModelInfer, infer_request(np.zeros((9, 3))))
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED and "at most 8 rows per call, got 9" in details
    assert core.calls == []


def test_a_version_change_during_scoring_is_not_answered(stub: pb_grpc.GRPCInferenceServiceStub,
                                                         core: FakeCore) -> None:
    async def swap_then_score(call: ScoreCall) -> ScoreResult:
        core.version = 8
        return await FakeCore.score(core, call)

    core.score = swap_then_score  # type: ignore[method-assign]
    try:
        code, details = status_of(stub.ModelInfer, infer_request(np.zeros((1, 3)), model_version="7"))
    finally:
        del core.score
    assert code is grpc.StatusCode.NOT_FOUND and "now serves version 8" in details


TRITON_CLIENT = r'''
import json, sys
import numpy as np
import tritonclient.grpc as tc

client = tc.InferenceServerClient(f"127.0.0.1:{sys.argv[1]}")
x = np.array(json.loads(sys.argv[2]))
out = {"live": client.is_server_live(), "ready": client.is_server_ready(),
       "model_ready": client.is_model_ready("credit"),
       "server": client.get_server_metadata(as_json=True), "model": client.get_model_metadata("credit", as_json=True)}
for datatype, dtype in (("FP32", np.float32), ("FP64", np.float64)):
    inp = tc.InferInput("input", list(x.shape), datatype)
    inp.set_data_from_numpy(x.astype(dtype))
    res = client.infer("credit", [inp], outputs=[tc.InferRequestedOutput("score"), tc.InferRequestedOutput("decision")],
                       request_id="r-" + datatype, parameters={"entity_key": "cust-1"}, priority=3)
    resp = res.get_response()
    out[datatype] = {"score": res.as_numpy("score").tolist(), "decision": res.as_numpy("decision").tolist(),
                     "id": resp.id, "version": resp.model_version, "route": resp.parameters["route"].string_param}
only = client.infer("credit", [inp], outputs=[tc.InferRequestedOutput("decision")])
out["only"] = [only.as_numpy("score") is None, only.as_numpy("decision").tolist()]
for key, call in (("error", lambda: client.infer("nope", [inp])),
                  ("other_ready", lambda: client.is_model_ready("credit", "6"))):
    try:
        call()
    except tc.InferenceServerException as exc:
        out[key] = [exc.status(), exc.message()]
print(json.dumps(out))
'''


def test_tritonclient_grpc_works_unchanged(served: tuple[int, FakeCore], core: FakeCore) -> None:
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.25], [0.0, 0.0, 0.0]])
    done = subprocess.run([sys.executable, "-c", TRITON_CLIENT, str(served[0]), json.dumps(x.tolist())],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["live"], out["ready"], out["model_ready"]) == (True, True, True)
    assert out["other_ready"] == ["StatusCode.NOT_FOUND", "version: model 'credit' serves version 7, got '6'"]
    assert out["server"]["name"] == "scoregate" and out["server"]["version"] == metadata.version("scoregate")
    assert out["model"]["versions"] == ["7"] and out["model"]["inputs"][0]["shape"] == ["-1", "3"]
    for datatype, dtype in (("FP32", np.float32), ("FP64", np.float64)):
        want = expected_scores(x.astype(dtype).astype(np.float64))
        got = out[datatype]
        np.testing.assert_array_equal(np.array(got["score"], np.float32), want)
        assert got["decision"] == (want >= 0.5).tolist()
        assert (got["id"], got["version"], got["route"]) == ("r-" + datatype, "7", "champion")
    assert out["only"] == [True, (expected_scores(x) >= 0.5).tolist()]
    assert out["error"][0] == "StatusCode.NOT_FOUND" and "'nope'" in out["error"][1]
    assert [c.entity_key for c in core.calls[:2]] == ["cust-1", "cust-1"]
