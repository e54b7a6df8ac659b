"""The composition root: builds the gateway from its parts, starts it, stops it gracefully.

Start: bind the port, load and warm the deployed versions (first routing poll), then report SERVING.
Stop (SIGTERM): health NOT_SERVING, refuse new work, let in-flight requests finish within the grace
period, drain the batchers, exit.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from server.api.v1 import scoring_pb2, scoring_pb2_grpc
from server.batching.batcher import BatchConfig
from server.config import ServeConfig
from server.control.watcher import RoutingSource, RoutingWatcher, RuntimeConfig
from server.core import ScoringCore
from server.routing.table import RoutingTable
from server.rpc.auth import BearerTokenInterceptor
from server.rpc.scoring import ScoringServicer

log = logging.getLogger("scoregate.app")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def server_credentials(config: ServeConfig) -> grpc.ServerCredentials | None:
    if not config.tls_cert:
        return None
    key, cert = Path(config.tls_key).read_bytes(), Path(config.tls_cert).read_bytes()
    ca = Path(config.tls_client_ca).read_bytes() if config.tls_client_ca else None
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=ca is not None)


class Gateway:
    def __init__(self, config: ServeConfig, source: RoutingSource) -> None:
        self.config = config
        self.source = source
        self.core = ScoringCore()
        self.health = health_aio.HealthServicer()
        self.port = 0
        self._server: grpc.aio.Server | None = None
        self._watcher: RoutingWatcher | None = None
        self._executor = ThreadPoolExecutor(config.executor_threads, thread_name_prefix="scoregate-compute")
        self._stopping = False

    def _grpc_server(self) -> grpc.aio.Server:
        cfg = self.config
        tokens = cfg.tokens()
        options = [("grpc.max_receive_message_length", cfg.max_message_bytes),
                   ("grpc.max_send_message_length", cfg.max_message_bytes),
                   ("grpc.so_reuseport", 1 if cfg.workers > 1 else 0)]
        interceptors = [BearerTokenInterceptor(tokens)] if tokens else []
        # admission control: past max_concurrent_rpcs grpc answers RESOURCE_EXHAUSTED at once, so overload
        # sheds fast instead of queueing every caller into its deadline
        return grpc.aio.server(options=options, interceptors=interceptors,
                               maximum_concurrent_rpcs=cfg.max_concurrent_rpcs)

    def _add_services(self, server: grpc.aio.Server) -> None:
        scoring_pb2_grpc.add_ScoringServicer_to_server(
            ScoringServicer(self.core, self.config.max_rows, self.config.stream_window), server)
        names = [scoring_pb2.DESCRIPTOR.services_by_name["Scoring"].full_name, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
        try:
            from server.api.oip import grpc_predict_v2_pb2, grpc_predict_v2_pb2_grpc
            from server.rpc.oip import OipServicer

            grpc_predict_v2_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(OipServicer(self.core, self.config.max_rows), server)
            names.append(grpc_predict_v2_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name)
        except ImportError:  # pragma: no cover - OIP stubs are generated; absent only mid-development
            log.warning("Open Inference Protocol stubs missing; OIP not served")
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection([*names, reflection.SERVICE_NAME], server)

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        server = self._server = self._grpc_server()
        self._add_services(server)
        address = f"{self.config.host}:{self.config.port}"
        creds = server_credentials(self.config)
        self.port = server.add_secure_port(address, creds) if creds else server.add_insecure_port(address)
        await self.health.set("", NOT_SERVING)
        cfg = self.config
        runtime = RuntimeConfig(BatchConfig(cfg.max_batch_size, cfg.max_wait_us, cfg.max_queue, cfg.inline_max_rows),
                                cfg.intra_op_threads, cfg.max_rows, cfg.poll_interval_ms / 1000.0)
        self._watcher = RoutingWatcher(self.source, self._install, lambda: self.core.table, loop, self._executor, runtime)
        # load + warm before the port accepts anything: with SO_REUSEPORT a starting worker must not take
        # connections it cannot serve yet
        await loop.run_in_executor(None, self._watcher.poll_once)
        await server.start()
        self.core.set_accepting(True)
        await self.health.set("", SERVING)
        self._watcher.start()
        log.info("scoregate listening on %s (port %d)", address, self.port)
        return self.port

    def _install(self, table: RoutingTable) -> None:
        old = self.core.table
        self.core.install(table)
        if self._stopping:
            return
        for name in table.models:
            asyncio.get_running_loop().create_task(self.health.set(name, SERVING))
        for name in set(old.models) - set(table.models):
            asyncio.get_running_loop().create_task(self.health.set(name, NOT_SERVING))

    async def stop(self, grace: float | None = None) -> None:
        if self._stopping:
            return
        self._stopping = True
        await self.health.enter_graceful_shutdown()
        if self._watcher is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._watcher.stop)
        if self._server is not None:
            await self._server.stop(self.config.grace_s if grace is None else grace)
        self.core.set_accepting(False)
        table = self.core.table
        await asyncio.gather(*(arm.batcher.close() for arm in table.arms()),
                             *(lane.close() for lane in table.lanes()), return_exceptions=True)
        self._executor.shutdown(wait=False)
        close = getattr(self.source, "close", None)
        if close is not None:
            close()

    async def wait(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()


async def serve_forever(config: ServeConfig, source: Any, announce: Callable[[int], None] | None = None) -> None:
    """Run one gateway process until SIGTERM/SIGINT, then stop gracefully."""
    import signal

    gateway = Gateway(config, source)
    port = await gateway.start()
    if announce is not None:
        announce(port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping: finishing in-flight requests (grace %.1fs)", config.grace_s)
    await gateway.stop()
