"""System tests run the `scoregate` CLI as a subprocess, the way an operator would."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, home: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 180) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "server.cli", *(["--home", str(home)] if home else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


@dataclass
class Served:
    process: subprocess.Popen
    port: int
    admin_port: int = 0
    metrics_port: int = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def terminate(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def serve(home: Path, *flags: str, timeout: float = 120) -> Served:
    argv = [sys.executable, "-m", "server.cli", "--home", str(home), "serve", "--port", "0",
            "--admin-port", "0", "--metrics-port", "0", "--log-level", "WARNING", *flags]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"listening on [\d.]+:(\d+).*admin port (-?\d+), metrics port (-?\d+)", line or "")
        if m:
            return Served(proc, int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"serve did not start: {proc.stderr.read()[-2000:]}")


@pytest.fixture(scope="session")
def served_home(demo_registry: Path) -> Path:
    return demo_registry


@pytest.fixture
def home_copy(served_home: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "home"
    shutil.copytree(served_home, dst)
    return dst


@pytest.fixture
def running(home_copy: Path) -> Iterator[Served]:
    s = serve(home_copy)
    yield s
    s.terminate()


@pytest.fixture(scope="session")
def run_cli():
    return cli


@pytest.fixture(scope="session")
def start_serve():
    return serve
