"""The composition root: builds the gateway from its parts, starts it, stops it gracefully.

Start: load and warm the deployed versions (first routing poll), bind the ports (scoring, admin, metrics),
then report SERVING. Stop (SIGTERM): health NOT_SERVING, refuse new work, let in-flight requests finish
within the grace period, drain the batchers, flush and fsync the decision log, exit.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from server.api.v1 import admin_pb2, admin_pb2_grpc, scoring_pb2, scoring_pb2_grpc
from server.batching.batcher import BatchConfig
from server.config import ServeConfig
from server.control.guard import Guard, read_published
from server.control.rollout import Rollouts
from server.control.watcher import RoutingSource, RoutingWatcher, RuntimeConfig
from server.core import ScoringCore
from server.routing.table import RoutingTable
from server.rpc.admin import AdminAuth, AdminServicer
from server.rpc.auth import BearerTokenInterceptor
from server.rpc.scoring import ScoringServicer
from server.runtime.runner import ModelRunner
from server.security import admin_tokens
from server.telemetry.alerts import DriftThresholds, DriftWatch
from server.telemetry.metrics import Telemetry

log = logging.getLogger("scoregate.app")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def server_credentials(config: ServeConfig) -> grpc.ServerCredentials | None:
    if not config.tls_cert:
        return None
    key, cert = Path(config.tls_key).read_bytes(), Path(config.tls_cert).read_bytes()
    ca = Path(config.tls_client_ca).read_bytes() if config.tls_client_ca else None
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=ca is not None)


def new_run_dir(home: Path) -> Path:
    """Where this serving run's workers leave their telemetry snapshots (one directory per run)."""
    run = Path(home) / "telemetry" / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    run.mkdir(parents=True, exist_ok=True)
    return run


def _nice() -> None:
    """Make this (shadow) thread idle-class: it runs only on CPU time nothing else wants, and any serving
    thread that wakes takes its core at once. Nice 10 still let a 10x slower shadow double the primary p99
    on 2 cores, because a nice-10 thread keeps its core until its slice ends. Falls back to nice 10."""
    tid = threading.get_native_id()
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        try:
            os.setpriority(os.PRIO_PROCESS, tid, 10)
        except (AttributeError, OSError):  # not Linux, or not permitted: shadows still run off the primary executor
            pass


class Gateway:
    def __init__(self, config: ServeConfig, source: RoutingSource, run_dir: Path | None = None,
                 worker_index: int = 0) -> None:
        self.config = config
        self.source = source
        self.home = Path(getattr(source, "home", "."))
        self.worker = f"w{worker_index}-{os.getpid()}"
        self.leader = worker_index == 0  # evaluates drift and writes its ledger entries
        self.telemetry = Telemetry(run_dir or new_run_dir(self.home), self.worker) if config.telemetry else None
        self.recorder: Any = None
        self.core = ScoringCore()
        self.health = health_aio.HealthServicer()
        self.port = self.admin_port = self.metrics_port = 0
        self._server: grpc.aio.Server | None = None
        self._admin: grpc.aio.Server | None = None
        self._metrics: Any = None
        self._watcher: RoutingWatcher | None = None
        self._drift: DriftWatch | None = None
        self._guard: Guard | None = None
        self._performance: Any = None
        self._executor = ThreadPoolExecutor(config.executor_threads, thread_name_prefix="scoregate-compute")
        # shadows compute on their own low-priority thread: a slow shadow never queues primary batches
        self._shadow_executor = ThreadPoolExecutor(1, thread_name_prefix="scoregate-shadow", initializer=_nice)
        self._stopping = False

    # -- parts -------------------------------------------------------------------------------------------
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
        from server.api.oip import grpc_predict_v2_pb2, grpc_predict_v2_pb2_grpc
        from server.rpc.oip import OipServicer

        scoring_pb2_grpc.add_ScoringServicer_to_server(
            ScoringServicer(self.core, self.config.max_rows, self.config.stream_window), server)
        grpc_predict_v2_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
            OipServicer(self.core, self.config.max_rows), server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        names = [scoring_pb2.DESCRIPTOR.services_by_name["Scoring"].full_name,
                 grpc_predict_v2_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name,
                 health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME]
        reflection.enable_server_reflection(names, server)

    def _stats(self, model: str | None) -> dict[str, Any]:
        if self.telemetry is None:
            return {"versions": [], "note": "telemetry is off"}
        out = self.telemetry.stats(model)
        depth = {arm.runner.key.version: arm.batcher.depth for r in self.core.table.models.values()
                 for arm in ([r.champion] + ([r.canary] if r.canary else [])) if not model or r.name == model}
        for v in out["versions"]:
            v["queue_depth_here"] = depth.get(v["version"], 0)
        guard = read_published(self._guard_file()) or {}
        out["rollouts"] = {m: g for m, g in sorted(guard.items()) if not model or m == model}
        if self.recorder is not None:
            r = self.recorder
            out["decision_log"] = r.stats()
        return out

    def _drift_report(self, model: str, window: str) -> dict[str, Any]:
        if self.telemetry is None:
            return {"model": model, "window": window, "versions": [], "note": "telemetry is off"}
        self.core.model(model)  # NotFound for a model not served here
        report = self.telemetry.drift_report(model, window)
        if self._drift is not None:
            states = self._drift.states.states
            for v in report["versions"]:
                for f in v["figures"]:
                    f["state"] = states.get((model, v["version"], f["name"]), "ok")
        return report

    async def _start_admin(self) -> None:
        cfg = self.config
        if cfg.admin_port < 0:
            return
        server = self._admin = grpc.aio.server(options=[("grpc.so_reuseport", 1 if cfg.workers > 1 else 0)])
        auth = AdminAuth(admin_tokens(cfg, self.home), cfg.tokens())
        rollouts = self._rollouts()
        admin_pb2_grpc.add_AdminServicer_to_server(AdminServicer(auth, self._stats, self._drift_report, rollouts),
                                                   server)
        from server.rpc.feedback import register_feedback  # outcomes (issue 8): RecordOutcomes on the admin port
        feedback = register_feedback(server, auth, self.home, self.recorder.caught_up if self.recorder else None)
        reflection.enable_server_reflection([admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name, feedback,
                                             reflection.SERVICE_NAME], server)
        self.admin_port = server.add_insecure_port(f"{cfg.admin_host}:{cfg.admin_port}")
        await server.start()

    def _rollouts(self) -> Rollouts | None:
        registry = getattr(self.source, "registry", None)
        if registry is None:
            return None
        return Rollouts(registry, self._stats, lambda model: read_published(self._guard_file(), model))

    def _guard_file(self) -> Path | None:
        run_dir = self.telemetry.run_dir if self.telemetry is not None else None
        return run_dir / "guard.json" if run_dir is not None else None

    def _start_guard(self) -> None:
        """Worker 0 guards every rollout on the counters of all workers (telemetry is its only input)."""
        rollouts = self._rollouts()
        if not self.leader or self.telemetry is None or rollouts is None or self._watcher is None:
            return
        self._guard = Guard(self.source.deployments, self.telemetry.aggregates, rollouts, self._watcher.poll_once,
                            self.source.record_gateway_event, self._guard_file(), self.config.guard_interval_s)
        events = getattr(self.source, "gateway_events", None)
        if events is not None:
            self._guard.restore(events("guardrail.shadow"))
        self.core.alarm = self._guard.alarm
        self._guard.start()

    def _start_performance(self) -> None:
        """Worker 0 re-judges realised performance when outcomes arrive over RecordOutcomes."""
        registry = getattr(self.source, "registry", None)
        if not self.leader or registry is None:
            return
        from server.control.performance_watch import PerformanceWatch

        self._performance = PerformanceWatch(self.home, registry, getattr(self.source, "actor", "gateway"),
                                             self.config.performance_check_s)
        self._performance.start()

    def _attach(self, runner: ModelRunner) -> None:
        if self.telemetry is not None:
            k = runner.key
            runner.metrics = self.telemetry.runner((k.model, k.version, k.digest), runner.schema, runner.drift_ref)

    def _start_recorder(self, loop: asyncio.AbstractEventLoop) -> None:
        rc = self.config.recorder_config()
        if rc.rate() <= 0.0:
            return
        from registry.decisions import chain_for
        from server.telemetry.recorder import DecisionRecorder, load_or_create_key

        key, key_id = load_or_create_key(self.home)
        self.recorder = DecisionRecorder(self.home, chain_for(self.worker), rc, key, key_id, loop)
        self.recorder.start()
        self.core._recorder = self.recorder

    def _start_telemetry(self) -> None:
        cfg = self.config
        if self.telemetry is None:
            return
        self.telemetry.start()
        if cfg.metrics_port >= 0:
            from server.telemetry.prometheus import start_http

            self._metrics, self.metrics_port = start_http(self.telemetry, cfg.metrics_host, cfg.metrics_port)
        if self.leader:
            thresholds = DriftThresholds(cfg.drift_warn, cfg.drift_alert, cfg.drift_min_count)
            write = lambda c: self.source.record_gateway_event(  # noqa: E731
                f"drift.{c['to']}", c["model"], c["version"], c)
            self._drift = DriftWatch(lambda: list(self.core.table.models), self.telemetry.drift_report, write,
                                     thresholds, cfg.drift_check_s)
            events = getattr(self.source, "gateway_events", None)
            if events is not None:
                self._drift.states.restore(events("drift"))
            self._drift.start()

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        cfg = self.config
        self._start_recorder(loop)
        server = self._server = self._grpc_server()
        self._add_services(server)
        address = f"{cfg.host}:{cfg.port}"
        creds = server_credentials(cfg)
        self.port = server.add_secure_port(address, creds) if creds else server.add_insecure_port(address)
        await self.health.set("", NOT_SERVING)
        runtime = RuntimeConfig(BatchConfig(cfg.max_batch_size, cfg.max_wait_us, cfg.max_queue, cfg.inline_max_rows),
                                cfg.intra_op_threads, cfg.max_rows, cfg.poll_interval_ms / 1000.0)
        self._watcher = RoutingWatcher(self.source, self._install, lambda: self.core.table, loop, self._executor,
                                       runtime, attach=self._attach,
                                       shadow_executor=self._shadow_executor)
        # load + warm before the port accepts anything: with SO_REUSEPORT a starting worker must not take
        # connections it cannot serve yet
        await loop.run_in_executor(None, self._watcher.poll_once)
        await server.start()
        await self._start_admin()
        self._start_telemetry()
        if self.telemetry is not None:
            self.telemetry.drain_on(loop)
        self.core.set_accepting(True)
        await self.health.set("", SERVING)
        self._watcher.start()
        self._start_guard()
        self._start_performance()
        log.info("scoregate listening on %s (port %d, admin %d, metrics %d)", address, self.port, self.admin_port,
                 self.metrics_port)
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
        loop = asyncio.get_running_loop()
        await self.health.enter_graceful_shutdown()
        for part in (self._guard, self._performance, self._watcher, self._drift):
            if part is not None:
                await loop.run_in_executor(None, part.stop)
        if self._server is not None:
            await self._server.stop(self.config.grace_s if grace is None else grace)
        if self._admin is not None:
            await self._admin.stop(0)
        self.core.set_accepting(False)
        table = self.core.table
        await asyncio.gather(*(arm.batcher.close() for arm in table.arms()),
                             *(lane.close() for lane in table.lanes()), return_exceptions=True)
        if self.recorder is not None:
            await self.recorder.close()  # flush and fsync every pending decision record
        if self.telemetry is not None:
            await loop.run_in_executor(None, self.telemetry.close)
        if self._metrics is not None:
            self._metrics.shutdown()
        self._executor.shutdown(wait=False)
        self._shadow_executor.shutdown(wait=False)
        close = getattr(self.source, "close", None)
        if close is not None:
            close()

    async def wait(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()


async def serve_forever(config: ServeConfig, source: Any, announce: Callable[[int, int, int], None] | None = None,
                        run_dir: Path | None = None, worker_index: int = 0) -> None:
    """Run one gateway process until SIGTERM/SIGINT, then stop gracefully."""
    import signal

    gateway = Gateway(config, source, run_dir, worker_index)
    port = await gateway.start()
    # everything allocated so far (libraries, models, warm-up) lives as long as the process: move it out of
    # the collector's sight, so a full collection under load walks only request-time objects instead of
    # pausing the event loop for tens of milliseconds (process-wide, hence here and not in Gateway.start)
    gc.collect()
    gc.freeze()
    if announce is not None:
        announce(port, gateway.admin_port, gateway.metrics_port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping: finishing in-flight requests (grace %.1fs)", config.grace_s)
    await gateway.stop()
