"""Real gateways on 127.0.0.1 with real registries: the demo model compiled once per session, copied per test."""

from __future__ import annotations

import asyncio
import shutil
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

import grpc
import numpy as np
import pytest

from compiler.bundle import read_bundle
from compiler.onnx_session import open_session, predict_scores
from server.api.v1 import scoring_pb2_grpc

MODEL = "credit-pd"


@dataclass
class Running:
    """A gateway running on its own event-loop thread."""

    gateway: Any
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    port: int
    home: Path

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stub(self, **options: Any) -> scoring_pb2_grpc.ScoringStub:
        channel = grpc.insecure_channel(self.target)
        return scoring_pb2_grpc.ScoringStub(channel)

    def call(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, grace: float = 1.0) -> None:
        self.call(self.gateway.stop(grace))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def start_gateway(home: Path, **settings: Any) -> Running:
    from server.app import Gateway
    from server.config import ServeConfig
    from server.control.source import RegistrySource

    config = replace(ServeConfig(port=0, poll_interval_ms=50, admin_port=0, metrics_port=0), **settings).validate()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    gateway = Gateway(config, RegistrySource(home))
    port = asyncio.run_coroutine_threadsafe(gateway.start(), loop).result(120)
    return Running(gateway, loop, thread, port, home)


@pytest.fixture(scope="session")
def template_home(demo_registry: Path) -> Path:
    return demo_registry


@pytest.fixture
def home(template_home: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "home"
    shutil.copytree(template_home, dst)
    return dst


@pytest.fixture
def gateway(home: Path) -> Iterator[Running]:
    running = start_gateway(home)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def rows() -> np.ndarray:
    from compiler.demo.data import FEATURES, generate

    return generate(64, seed=123)[list(FEATURES)].to_numpy(dtype=np.float64)


@pytest.fixture(scope="session")
def offline(template_home: Path):
    """What the champion bundle computes for x, outside the gateway."""
    b = read_bundle(template_home / "demo" / "bundle")
    session = open_session(b.onnx_bytes)
    return lambda x: predict_scores(session, b.program.transform(np.atleast_2d(x)), "input", "probabilities", 1)


@pytest.fixture(scope="session")
def start():
    """start(home, **serve settings) -> Running; the caller stops it."""
    return start_gateway
