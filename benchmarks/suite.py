"""Runs scenarios against real servers started in the same run, so every ratio compares like with like."""

from __future__ import annotations

import os
import platform
import signal
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks import payloads
from benchmarks.loadgen import ClientPool, LoadSpec, merge
from benchmarks.scenario import Scenario, Series, load_all
from benchmarks.targets import Target, prepare_deployment, prepare_home, sample_rows, start_baseline, start_scoregate

HIST_EDGES_US = np.geomspace(50, 2_000_000, 61)


@dataclass(frozen=True)
class SuiteConfig:
    quick: bool
    scenarios: tuple[str, ...] = ()
    home: Path | None = None

    @property
    def duration_s(self) -> float:
        return 0.8 if self.quick else 4.0

    @property
    def warmup_s(self) -> float:
        return 0.2 if self.quick else 1.0


class TargetPool:
    """Starts each distinct server configuration once and keeps it for the run."""

    def __init__(self, home: Path, stack: ExitStack) -> None:
        self._home = home
        self._stack = stack
        self._running: dict[tuple, Target] = {}

    @staticmethod
    def key(s: Series, copy: int = 0) -> tuple:
        return (s.target, s.workers, s.serve, s.deployment, copy)

    def focus(self, target: Target) -> None:
        """Pause (SIGSTOP) every other server while `target` is measured: even idle, a gateway wakes a
        dozen times a second (routing poll, snapshots, guard), and on 2 cores that shows in the tail
        latency of the one being measured. Paused servers hold no client connections."""
        for other in self._running.values():
            for pid in other.pids:
                try:
                    os.kill(pid, signal.SIGCONT if other is target else signal.SIGSTOP)
                except ProcessLookupError:
                    pass

    def resume_all(self) -> None:
        for other in self._running.values():
            for pid in other.pids:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass

    def keep_only(self, keys: set[tuple]) -> None:
        """Stop servers no remaining scenario uses: idle servers still poll and snapshot, which shows up in
        the tail latency of whatever is measured next on 2 cores."""
        self.resume_all()
        for key in [k for k in self._running if k not in keys]:
            self._running.pop(key).stop()

    def get(self, s: Series, copy: int = 0) -> Target:
        key = self.key(s, copy)
        if key not in self._running:
            if s.target == "scoregate":
                home = prepare_deployment(self._home, s.deployment)
                target = start_scoregate(home, s.workers, list(s.serve))
            else:
                target = start_baseline(s.target, self._home)
            self._stack.callback(target.stop)
            self._running[key] = target
        return self._running[key]


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for lib in ("scoregate", "grpcio", "protobuf", "onnxruntime", "numba", "numpy", "scikit-learn"):
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            pass
    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions}


def _spec(s: Series, target: Target, point: float, capacity: float, reqs: tuple[bytes, ...], cfg: SuiteConfig,
          duration_s: float = 0.0) -> LoadSpec:
    conc = int(point) if s.mode != "open" else 64
    procs = 2 if (conc >= 32 or s.mode == "open") else 1
    return LoadSpec(
        target=target.address, method=payloads.METHODS[s.request], payloads=reqs, mode=s.mode, concurrency=conc,
        rate=point * capacity if s.mode == "open" else 0.0, duration_s=duration_s if duration_s and not cfg.quick else cfg.duration_s,
        warmup_s=cfg.warmup_s,
        processes=procs, rows_per_request=s.batch_rows, timeout_s=5.0,
    )


def _capacity(results: dict[str, Any], scenario: Scenario) -> float:
    source = results.get(scenario.capacity_from, {}).get("series", {})
    runs = [r for label, rs in source.items() if label.startswith("scoregate") for r in rs]
    return max((r["rps"] for r in runs), default=0.0)


def run_suite(cfg: SuiteConfig, tick: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    scenarios = load_all(list(cfg.scenarios) or None)
    started = time.time()
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        home = cfg.home or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="scoregate-bench-"))) / "home"
        prepare_home(home)
        rows = sample_rows(4096)
        pool = TargetPool(home, stack)
        clients = stack.enter_context(ClientPool(2))
        for i, scenario in enumerate(scenarios):
            pool.keep_only({pool.key(s, c) for later in scenarios[i:] for s in later.series
                            for c in range(later.copies)}
                           | {pool.key(Series(label="scoregate", target="scoregate"))})  # capacity probe
            capacity = _capacity(results, scenario) if scenario.capacity_from else 0.0
            if scenario.capacity_from and capacity == 0.0:
                capacity = _measure_capacity(pool, clients, rows, cfg)
            runs: dict[tuple[str, float], list[Any]] = {}
            rounds = 1 if cfg.quick else scenario.rounds
            for turn in range(rounds):
                for s in scenario.series:
                    target = pool.get(s, turn % scenario.copies) if s.points_for(cfg.quick) else None
                    reqs = payloads.build(s.request, rows, s.batch_rows, count=64)
                    for point in s.points_for(cfg.quick):
                        tick(f"{scenario.name}: {s.label} @ {point:g}")
                        pool.focus(target)
                        runs.setdefault((s.label, point), []).append(clients.run(
                            _spec(s, target, point, capacity, reqs, cfg, scenario.duration_s), target.pids))
            pool.resume_all()
            out: dict[str, list[dict[str, Any]]] = {}
            for s in scenario.series:
                for point in s.points_for(cfg.quick):
                    r = merge(runs[(s.label, point)])
                    per_round = [x.summary() for x in runs[(s.label, point)]]
                    summary = r.summary() | {"point": point, "target": s.target, "rounds": rounds,
                                             "copies": min(rounds, scenario.copies),
                                             "round_rps": [x["rps"] for x in per_round],
                                             "round_p99_us": [x["p99_us"] for x in per_round]}
                    summary["histogram"] = np.histogram(r.latencies_us, HIST_EDGES_US)[0].tolist()
                    out.setdefault(s.label, []).append(summary)
            results[scenario.name] = {"title": scenario.title, "reference": scenario.reference,
                                      "capacity_rps": capacity or None, "series": out}
    return {"machine": machine(), "mode": "quick" if cfg.quick else "full", "started": started,
            "elapsed_s": round(time.time() - started, 1), "histogram_edges_us": HIST_EDGES_US.tolist(),
            "scenarios": results}


def _measure_capacity(pool: TargetPool, clients: ClientPool, rows: np.ndarray, cfg: SuiteConfig) -> float:
    s = Series(label="scoregate", target="scoregate", points=(64.0,))
    target = pool.get(s)
    pool.focus(target)
    r = clients.run(_spec(s, target, 64, 0.0, payloads.build("score", rows), cfg), target.pids)
    pool.resume_all()
    return r.rps
