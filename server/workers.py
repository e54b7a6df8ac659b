"""Multi-core serving: N worker processes share one port through SO_REUSEPORT.

The parent reserves the port (binding, not listening, a SO_REUSEPORT socket: the kernel spreads
connections over listening sockets only), then forks the workers before any gRPC object exists. Each
worker builds its own gateway and registry connection and converges on the registry's routing state by
itself. The parent announces the port once every worker is ready, forwards SIGTERM/SIGINT and restarts a worker
that dies unexpectedly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import socket
import time
from typing import Any, Callable

from server.app import serve_forever
from server.config import ServeConfig

log = logging.getLogger("scoregate.workers")


def reserve_port(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _child(config: ServeConfig, make_source: Callable[[], Any], ready_fd: int, run_dir: Any, index: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    code = 0

    def ready(*_ports: int) -> None:
        os.write(ready_fd, b"1")
        os.close(ready_fd)

    try:
        asyncio.run(serve_forever(config, make_source(), ready, run_dir, index))
    except BaseException:  # noqa: BLE001 - a worker reports and exits; the parent decides what next
        log.exception("worker %d failed", os.getpid())
        code = 1
    os._exit(code)


def _wait_ready(fd: int, workers: int, timeout: float = 300.0) -> None:
    """Block until every worker has loaded its models and listens (each writes one byte), or timeout."""
    import select

    seen, deadline = 0, time.monotonic() + timeout
    while seen < workers and time.monotonic() < deadline:
        readable, _, _ = select.select([fd], [], [], 1.0)
        if readable:
            data = os.read(fd, workers)
            if not data:
                break
            seen += len(data)


def run_workers(config: ServeConfig, make_source: Callable[[], Any], announce: Callable[[int, int, int], None],
                run_dir: Any = None) -> int:
    """Serve with config.workers processes until SIGTERM/SIGINT; returns the exit code."""
    if config.workers == 1:
        asyncio.run(serve_forever(config, make_source(), announce, run_dir, 0))
        return 0
    holders = [reserve_port(config.host, config.port)]
    changes = {"port": holders[0].getsockname()[1]}
    for name, host in (("admin_port", config.admin_host), ("metrics_port", config.metrics_host)):
        if getattr(config, name) == 0:  # every worker must bind the same port: pick it here
            holders.append(reserve_port(host, 0))
            changes[name] = holders[-1].getsockname()[1]
    config = dataclasses.replace(config, **changes)
    stopping = False
    children: dict[int, tuple[float, int]] = {}
    ready_r, ready_w = os.pipe()

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            for h in holders:
                h.close()
            os.close(ready_r)
            _child(config, make_source, ready_w, run_dir, index)
        children[pid] = (time.monotonic(), index)

    def forward(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for index in range(config.workers):
        spawn(index)
    _wait_ready(ready_r, config.workers)
    announce(config.port, config.admin_port, config.metrics_port)
    failed = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        child = children.pop(pid, None)
        if child is None:
            continue
        if not stopping and (not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0):
            failed += 1
            log.error("worker %d exited unexpectedly (status %d); restarting", pid, status)
            time.sleep(min(5.0, 0.2 * failed))
            spawn(child[1])
    for h in holders:
        h.close()
    return 0
