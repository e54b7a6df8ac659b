"""ServeConfig: the gateway's settings from a TOML file, then SCOREGATE_SERVE_* environment, then flags.

Validated at start: a bad value stops the gateway with the setting, the value and what was expected.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from compiler.errors import InvalidInput
from server.telemetry.recorder_config import RecorderConfig

ENV_PREFIX = "SCOREGATE_SERVE_"


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 50051  # 0 = any free port
    workers: int = 1  # processes sharing the port (SO_REUSEPORT)
    max_batch_size: int = 256  # rows per compute call
    max_wait_us: int = 0  # batching window after the first queued request; 0 = natural batching
    max_queue: int = 2048  # queued requests per model version before shedding (RESOURCE_EXHAUSTED)
    inline_max_rows: int = 16  # batches up to this many rows compute on the event loop; 0 = always the executor
    executor_threads: int = 1  # shared compute threads per worker
    intra_op_threads: int = 1  # ONNX Runtime threads per session
    max_rows: int = 4096  # rows per call (ScoreBatch, OIP); capped before allocation
    max_message_bytes: int = 16 * 1024 * 1024
    max_concurrent_rpcs: int = 256  # admitted at once per worker; beyond it grpc sheds with RESOURCE_EXHAUSTED
    stream_window: int = 128  # requests in flight per ScoreStream
    poll_interval_ms: int = 200  # how often the registry's routing revision is read
    grace_s: float = 10.0  # SIGTERM: time for in-flight requests to finish
    tls_cert: str = ""  # PEM server certificate chain; with tls_key enables TLS
    tls_key: str = ""
    tls_client_ca: str = ""  # PEM CA bundle: when set, clients must present a certificate (mutual TLS)
    token_file: str = ""  # bearer tokens for scoring calls, one per line; empty = no token required
    admin_port: int = 50052  # the admin API (stats, drift, rollouts) on its own port; -1 = off
    admin_host: str = "127.0.0.1"
    admin_token_file: str = ""  # admin tokens, one per line; empty = <home>/admin.token (created 0600)
    metrics_port: int = 9464  # Prometheus /metrics; -1 = off
    metrics_host: str = "127.0.0.1"
    telemetry: bool = True  # latency / drift counters (off only to measure their cost)
    decision_log: str = "all"  # all | sample:RATE | off
    decision_fsync: str = "interval:1"  # group | interval:SECONDS (what power loss may cost: see recorder.py)
    decision_on_full: str = "fail"  # fail (UNAVAILABLE, never answer unrecorded) | sample (drop and count)
    drift_warn: float = 0.1  # PSI thresholds (practitioner conventions)
    drift_alert: float = 0.25
    drift_min_count: int = 500  # values in the window before drift is judged
    drift_check_s: float = 10.0
    guard_interval_s: float = 0.5  # rollout guardrail checks (and at once on a canary failure)
    performance_check_s: float = 60.0  # realised performance re-judged when new outcomes have arrived

    def validate(self) -> ServeConfig:
        cores = os.cpu_count() or 1
        _check(0 <= self.port <= 65535, "port", self.port, "0..65535")
        _check(1 <= self.workers <= 64, "workers", self.workers, "1..64")
        for name in ("max_batch_size", "max_queue", "executor_threads", "intra_op_threads", "max_rows",
                     "stream_window", "poll_interval_ms", "max_message_bytes", "max_concurrent_rpcs"):
            _check(getattr(self, name) >= 1, name, getattr(self, name), "a positive integer")
        _check(self.max_wait_us >= 0, "max_wait_us", self.max_wait_us, ">= 0")
        _check(self.inline_max_rows >= 0, "inline_max_rows", self.inline_max_rows, ">= 0")
        _check(self.grace_s >= 0, "grace_s", self.grace_s, ">= 0")
        _check(0.01 <= self.guard_interval_s <= 60, "guard_interval_s", self.guard_interval_s, "0.01..60 seconds")
        _check(self.performance_check_s > 0, "performance_check_s", self.performance_check_s, "> 0 seconds")
        for name in ("admin_port", "metrics_port"):
            _check(-1 <= getattr(self, name) <= 65535, name, getattr(self, name), "-1 (off), 0 (any) or a port")
        _check(0 < self.drift_warn < self.drift_alert, "drift_warn/drift_alert",
               f"{self.drift_warn}/{self.drift_alert}", "0 < warn < alert")
        _check(self.decision_on_full in ("fail", "sample"), "decision_on_full", self.decision_on_full, "fail or sample")
        self.recorder_config().rate()
        self.recorder_config().durability()
        _check(self.executor_threads * self.intra_op_threads <= cores, "executor_threads x intra_op_threads",
               self.executor_threads * self.intra_op_threads, f"<= {cores} cores (oversubscription slows every request)")
        _check(bool(self.tls_cert) == bool(self.tls_key), "tls_cert/tls_key", f"{self.tls_cert!r}/{self.tls_key!r}",
               "both set or both empty")
        _check(not self.tls_client_ca or bool(self.tls_cert), "tls_client_ca", self.tls_client_ca,
               "mutual TLS needs tls_cert and tls_key too")
        for name in ("tls_cert", "tls_key", "tls_client_ca", "token_file"):
            path = getattr(self, name)
            _check(not path or Path(path).is_file(), name, path, "an existing file")
        return self

    def recorder_config(self) -> RecorderConfig:
        return RecorderConfig(mode=self.decision_log, fsync=self.decision_fsync, on_full=self.decision_on_full)

    def tokens(self) -> frozenset[str]:
        if not self.token_file:
            return frozenset()
        tokens = frozenset(t.strip() for t in Path(self.token_file).read_text().splitlines() if t.strip())
        _check(bool(tokens), "token_file", self.token_file, "at least one token")
        return tokens


def _check(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise InvalidInput(f"serve setting {name} = {value!r} is invalid; expected {expected}")


def _coerce(name: str, kind: type, raw: Any) -> Any:
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError(raw)
            return str(raw).lower() in ("1", "true", "yes", "on")
        return kind(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"serve setting {name} = {raw!r} is invalid; expected {kind.__name__}") from exc


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> ServeConfig:
    """File < environment < flags (None values in overrides are ignored)."""
    types = {f.name: type(f.default) for f in fields(ServeConfig)}
    values: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInput(f"config file {path}: cannot read it as TOML ({exc})") from exc
        table = raw.get("serve", raw)
        unknown = sorted(set(table) - set(types))
        if unknown:
            raise InvalidInput(f"config file {path}: unknown setting(s) {unknown}; known: {sorted(types)}")
        values.update(table)
    for key, raw in (env if env is not None else os.environ).items():
        if key.startswith(ENV_PREFIX):
            name = key[len(ENV_PREFIX):].lower()
            if name not in types:
                raise InvalidInput(f"environment {key}: unknown setting {name!r}; known: {sorted(types)}")
            values[name] = raw
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    coerced = {name: _coerce(name, types[name], raw) for name, raw in values.items()}
    return dataclasses.replace(ServeConfig(), **coerced).validate()
