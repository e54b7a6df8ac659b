"""The typed Scoring service: decode, hand to the core, encode. Errors go through status.abort only."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator

import grpc

from compiler.errors import NotFound
from server.api.v1 import scoring_pb2 as pb
from server.api.v1 import scoring_pb2_grpc
from server.core import ScoringCore
from server.rpc import scoring_codec as codec
from server.rpc.status import abort, describe
from server.types import ModelView


def deadline_of(context: grpc.aio.ServicerContext) -> float | None:
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


class ScoringServicer(scoring_pb2_grpc.ScoringServicer):
    def __init__(self, core: ScoringCore, max_rows: int, stream_window: int = 128) -> None:
        self._core = core
        self._max_rows = max_rows
        self._window = stream_window

    def _view(self, model: str) -> ModelView | None:
        try:
            return self._core.model(model)
        except NotFound:
            return None

    async def _score(self, req: pb.ScoreRequest, deadline: float | None) -> pb.ScoreReply:
        view = self._view(req.model) if req.named_features else None
        x = codec.score_rows(req, view)
        call = codec.score_call(req.model, x, codec.request_id(req.request_id), req.entity_key, "", deadline)
        return codec.score_reply(await self._core.score(call))

    async def Score(self, request: pb.ScoreRequest, context: grpc.aio.ServicerContext) -> pb.ScoreReply:
        try:
            return await self._score(request, deadline_of(context))
        except Exception as exc:  # noqa: BLE001 - translated at the edge, in one place
            await abort(context, exc)

    async def ScoreBatch(self, request: pb.ScoreBatchRequest, context: grpc.aio.ServicerContext) -> pb.ScoreBatchReply:
        try:
            view = self._core.model(request.model)
            x = codec.batch_rows(request, view.schema.width, min(self._max_rows, view.max_batch_rows))
            call = codec.score_call(request.model, x, codec.request_id(request.request_id), request.entity_key, "",
                                    deadline_of(context))
            return codec.batch_reply(await self._core.score(call))
        except Exception as exc:  # noqa: BLE001
            await abort(context, exc)

    async def ScoreStream(self, request_iterator: AsyncIterator[pb.ScoreRequest],
                          context: grpc.aio.ServicerContext) -> AsyncIterator[pb.ScoreReply]:
        """Pipelined: up to `stream_window` requests in flight, replies in request order; a failed request
        yields a reply with `error` set and the stream goes on."""
        deadline = deadline_of(context)
        queue: asyncio.Queue[asyncio.Task | None] = asyncio.Queue(maxsize=self._window)

        async def produce() -> None:
            async for req in request_iterator:
                await queue.put(asyncio.ensure_future(self._stream_one(req, deadline)))
            await queue.put(None)

        producer = asyncio.ensure_future(produce())
        try:
            while (task := await queue.get()) is not None:
                yield await task
            await producer
        finally:
            producer.cancel()
            while not queue.empty():
                task = queue.get_nowait()
                if task is not None:
                    task.cancel()

    async def _stream_one(self, req: pb.ScoreRequest, deadline: float | None) -> pb.ScoreReply:
        try:
            return await self._score(req, deadline)
        except Exception as exc:  # noqa: BLE001 - one request's failure is its own reply, not the stream's end
            code, message = describe(exc)
            return pb.ScoreReply(request_id=req.request_id, model=req.model,
                                 error=pb.ErrorDetail(code=code.value[0], message=message))

    async def GetModelInfo(self, request: pb.ModelInfoRequest, context: grpc.aio.ServicerContext) -> pb.ModelInfo:
        try:
            return codec.model_info(self._core.model(request.model))
        except Exception as exc:  # noqa: BLE001
            await abort(context, exc)
