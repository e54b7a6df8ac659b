"""Prometheus exposition: a collector over the aggregated counters (nothing is updated on the hot path for
Prometheus' sake), served over HTTP on its own port. Every worker can answer a scrape with the sum over all
workers, so with SO_REUSEPORT the metrics port is shared like the gRPC port."""

from __future__ import annotations

import socket
import threading
from typing import Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import numpy as np
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from server.telemetry import histogram as hist
from server.telemetry.drift import figures
from server.telemetry.metrics import Telemetry

LE_SECONDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
ROWS_LE = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


def _buckets(counts: np.ndarray, edges: tuple[float, ...], scale: float) -> list[tuple[str, float]]:
    cum = hist.cumulative(counts, np.array(edges) * scale)
    return [(repr(float(e)), float(c)) for e, c in zip(edges, cum)] + [("+Inf", float(counts.sum()))]


def _sum_us(counts: np.ndarray) -> float:
    m = hist.mean(counts)
    return 0.0 if m != m else m * float(counts.sum())


class ScoregateCollector:
    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry

    def collect(self) -> Iterator[Metric]:
        aggs = self._telemetry.aggregates()
        lat = HistogramMetricFamily("scoregate_request_duration_seconds", "Request latency by stage",
                                    labels=["model", "version", "route", "stage"])
        req = CounterMetricFamily("scoregate_requests", "Requests by outcome (gRPC status code name)",
                                  labels=["model", "version", "route", "code"])
        rows = HistogramMetricFamily("scoregate_batch_rows", "Rows per executed batch", labels=["model", "version"])
        shed = CounterMetricFamily("scoregate_shed", "Requests shed because the queue was full",
                                   labels=["model", "version"])
        expired = CounterMetricFamily("scoregate_expired", "Requests dropped because their deadline passed",
                                      labels=["model", "version"])
        psi = GaugeMetricFamily("scoregate_feature_psi", "Population stability index vs the training reference",
                                labels=["model", "version", "feature", "window"])
        nan = GaugeMetricFamily("scoregate_feature_nan_share", "Share of NaN inputs", labels=["model", "version", "feature", "window"])
        oor = GaugeMetricFamily("scoregate_feature_out_of_range_share", "Share of inputs outside the training range",
                                labels=["model", "version", "feature", "window"])
        now = self._telemetry.clock()
        for (model, version, _digest), a in sorted(aggs.items()):
            v = str(version)
            for name, counts in sorted(a.latency.items()):
                route, stage = name.split("|")
                lat.add_metric([model, v, route, stage], _buckets(counts, LE_SECONDS, 1e6), _sum_us(counts) / 1e6)
            for name, n in sorted(a.status.items()):
                route, code = name.split("|")
                req.add_metric([model, v, route, code], float(n))
            rows.add_metric([model, v], _buckets(a.batch_rows, ROWS_LE, 1.0), _sum_us(a.batch_rows))
            shed.add_metric([model, v], float(a.shed))
            expired.add_metric([model, v], float(a.expired))
            local = self._telemetry.runners.get((model, version, _digest))
            if local is None:
                continue
            for window in ("5m", "1h"):
                for f in figures(local.layout, a.drift_counts(window, now)):
                    labels = [model, v, f["name"], window]
                    psi.add_metric(labels, f["psi"])
                    nan.add_metric(labels, f["nan_share"])
                    oor.add_metric(labels, f["out_of_range_share"])
        yield from (lat, req, rows, shed, expired, psi, nan, oor)


class _ReusePortServer(WSGIServer):
    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - scrapes are not news
        pass


def registry_for(telemetry: Telemetry) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScoregateCollector(telemetry))
    return registry


def start_http(telemetry: Telemetry, host: str, port: int) -> tuple[WSGIServer, int]:
    """Serve /metrics on host:port (0 = any free port) from a daemon thread; returns (server, bound port)."""
    server = make_server(host, port, make_wsgi_app(registry_for(telemetry)), server_class=_ReusePortServer,
                         handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="scoregate-metrics", daemon=True).start()
    return server, server.server_port
