"""The Open Inference Protocol (KServe V2) gRPC service, `inference.GRPCInferenceService`.

A thin edge so tritonclient and other KServe V2 clients work unchanged: decode with oip_codec, hand the rows to
the core, encode the result. Status codes are never chosen here: every error goes through status.abort, the
one mapping table. The model's champion version is the only version served, so a request naming another
version gets NOT_FOUND rather than an answer from a model it did not ask for.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Awaitable, Callable
from importlib import metadata
from typing import Any, Protocol, TypeVar

import grpc

from compiler.errors import NotFound
from server.api.oip import grpc_predict_v2_pb2 as pb
from server.api.oip import grpc_predict_v2_pb2_grpc
from server.rpc import oip_codec as codec
from server.rpc.status import abort
from server.types import ModelView, ScoreCall, ScoreResult

SERVER_NAME = "scoregate"
PLATFORM = "scoregate"
Reply = TypeVar("Reply")
Handler = Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[Reply]]


class Core(Protocol):
    """What the servicer needs from the scoring core (server/core.py implements it; tests use a fake)."""

    @property
    def live(self) -> bool: ...
    @property
    def ready(self) -> bool: ...
    def model(self, name: str) -> ModelView: ...
    async def score(self, call: ScoreCall) -> ScoreResult: ...


def _server_version() -> str:
    try:
        return metadata.version("scoregate")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a tree that is not installed
        return "0+unknown"


def _edge(method: Handler) -> Handler:
    """Translate any exception at the edge, in one place (status.abort picks the code)."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except Exception as exc:  # noqa: BLE001 - mapped by status.abort, INTERNAL gets an incident id
            await abort(context, exc)

    return wrapper


def deadline_of(context: grpc.aio.ServicerContext) -> float | None:
    """The caller's deadline on the time.monotonic() clock, None when the call has none."""
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


def _check_version(view: ModelView, version: str, field: str) -> None:
    if version and version != str(view.version):
        raise NotFound(f"{field}: model {view.name!r} serves version {view.version}, got {version!r}")


class OipServicer(grpc_predict_v2_pb2_grpc.GRPCInferenceServiceServicer):
    def __init__(self, core: Core, max_rows: int | None = None) -> None:
        """`max_rows` caps rows per call on top of each model's own max_batch_rows (None: the model's)."""
        self._core = core
        self._max_rows = max_rows
        self._metadata = pb.ServerMetadataResponse(name=SERVER_NAME, version=_server_version(), extensions=[])

    @_edge
    async def ServerLive(self, request: pb.ServerLiveRequest, context: grpc.aio.ServicerContext,
                         ) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=self._core.live)

    @_edge
    async def ServerReady(self, request: pb.ServerReadyRequest, context: grpc.aio.ServicerContext,
                          ) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self._core.ready)

    @_edge
    async def ModelReady(self, request: pb.ModelReadyRequest, context: grpc.aio.ServicerContext,
                         ) -> pb.ModelReadyResponse:
        view = self._core.model(request.name)
        _check_version(view, request.version, "version")
        return pb.ModelReadyResponse(ready=view.ready)

    @_edge
    async def ServerMetadata(self, request: pb.ServerMetadataRequest, context: grpc.aio.ServicerContext,
                             ) -> pb.ServerMetadataResponse:
        return self._metadata

    @_edge
    async def ModelMetadata(self, request: pb.ModelMetadataRequest, context: grpc.aio.ServicerContext,
                            ) -> pb.ModelMetadataResponse:
        view = self._core.model(request.name)
        _check_version(view, request.version, "version")
        tensor = pb.ModelMetadataResponse.TensorMetadata
        return pb.ModelMetadataResponse(
            name=view.name, versions=[str(view.version)], platform=PLATFORM,
            inputs=[tensor(name="input", datatype="FP64", shape=[-1, view.schema.width])],
            outputs=[tensor(name="score", datatype="FP32", shape=[-1]),
                     tensor(name="decision", datatype="BOOL", shape=[-1])],
        )

    @_edge
    async def ModelInfer(self, request: pb.ModelInferRequest, context: grpc.aio.ServicerContext,
                         ) -> pb.ModelInferResponse:
        view = self._core.model(request.model_name)
        _check_version(view, request.model_version, "model_version")
        cap = view.max_batch_rows if self._max_rows is None else min(self._max_rows, view.max_batch_rows)
        x, params = codec.decode_infer_request(request, view.schema, cap)
        outputs = codec.output_names([o.name for o in request.outputs])  # before scoring: fail fast
        call = ScoreCall(model=request.model_name, x=x, request_id=request.id or uuid.uuid4().hex,
                         entity_key=codec.entity_key(params), deadline=deadline_of(context))
        result = await self._core.score(call)
        if request.model_version and request.model_version != str(result.version):
            # the champion changed between the lookup and the scoring: never answer from another version
            raise NotFound(f"model_version: model {result.model!r} now serves version {result.version}, "
                           f"got {request.model_version!r}")
        return codec.encode_infer_response(
            result.model, result.version, result.request_id, result.scores, result.decisions,
            outputs, {"route": result.route, "bundle_digest": result.digest},
        )
