"""Bearer-token check for scoring calls, as one server interceptor (health and reflection stay open so
Kubernetes probes and grpcurl work without credentials)."""

from __future__ import annotations

import hmac
from typing import Awaitable, Callable

import grpc

PROTECTED_PREFIXES = ("/scoregate.v1.Scoring/", "/inference.GRPCInferenceService/ModelInfer",
                      "/inference.GRPCInferenceService/ModelMetadata")


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, tokens: frozenset[str]) -> None:
        self._tokens = tuple(t.encode() for t in tokens)

    def _allowed(self, metadata: tuple) -> bool:  # noqa: ANN001 - grpc metadata tuple
        for key, value in metadata or ():
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else value
                if given.startswith(b"Bearer "):
                    token = given[7:]
                    return any(hmac.compare_digest(token, t) for t in self._tokens)
        return False

    async def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
                                details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not details.method.startswith(PROTECTED_PREFIXES):
            return handler
        if self._allowed(details.invocation_metadata):
            return handler
        return _deny(handler)


def _deny(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    message = "missing or invalid bearer token (metadata 'authorization: Bearer <token>')"

    async def unary(request, context):  # noqa: ANN001
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def streaming(request_iterator, context):  # noqa: ANN001
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover - makes this an async generator

    kw = {"request_deserializer": handler.request_deserializer, "response_serializer": handler.response_serializer}
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(streaming, **kw)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(unary, **kw)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(streaming, **kw)
    return grpc.unary_unary_rpc_method_handler(unary, **kw)
