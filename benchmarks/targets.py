"""Start and stop the servers a benchmark drives: scoregate itself and the baselines, as real processes.

`prepare_home` builds one registry with the demo model compiled, registered, approved and deployed, plus
the fitted sklearn pipeline for the hand-written baseline, so every target serves the same model.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODEL = "credit-pd"


@dataclass
class Target:
    name: str
    address: str
    process: subprocess.Popen

    @property
    def pids(self) -> list[int]:
        """The server process and its workers (children), for CPU accounting."""
        pids = [self.process.pid]
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            pids += [int(c) for c in children]
        except OSError:
            pass
        return pids

    def stop(self) -> None:
        if self.process.poll() is None:
            for pid in self.pids:  # a server the suite paused must run to handle its SIGTERM
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def prepare_home(home: Path) -> Path:
    """Compile + register + approve + deploy the demo model under `home` (idempotent)."""
    import joblib

    from server.demo import DemoConfig, compile_demo, govern_demo

    home.mkdir(parents=True, exist_ok=True)
    if not (home / "demo_model.joblib").exists():
        from compiler.demo.model import train

        joblib.dump(train(), home / "demo_model.joblib")
    config = DemoConfig(home=home, actor="bench")
    result = compile_demo(config, say=lambda _: None)
    govern_demo(config, result, say=lambda _: None)
    return home


def prepare_deployment(home: Path, kind: str) -> Path:
    """The bench home as is ("champion"), or a copy beside it (`<home>-<kind>`) whose deployment adds a
    canary at 10 % and/or a shadow at 100 %: a retrained demo model, or for "...slow-shadow" a gradient-
    boosted model about ten times slower per row. Copies, because every gateway on a home follows its
    deployment: one bench run serves several routing states at once."""
    if kind == "champion":
        return home
    import shutil

    from registry.service import Registry

    out = home.parent / f"{home.name}-{kind.replace('+', '-')}"
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(home, out)
    reg = Registry(out)
    try:
        change: dict = {}
        if "canary" in kind:
            change.update(canary=_candidate(reg, out, "canary", _retrained(seed=8)), canary_weight=10.0)
        if "shadow" in kind:
            model = _slow_model() if "slow" in kind else _retrained(seed=9)
            change["shadows"] = [{"version": _candidate(reg, out, "shadow", model), "sample_rate": 1.0}]
        reg.set_deployment(MODEL, "bench", f"bench: {kind}", **change)
    finally:
        reg.close()
    return out


def _retrained(seed: int = 8):  # noqa: ANN202
    from compiler.demo.model import train

    return train(seed=seed)


def _slow_model():  # noqa: ANN202
    from sklearn.ensemble import HistGradientBoostingClassifier

    from compiler.demo.data import FEATURES, LABEL, generate

    df = generate(20_000, seed=8)
    return HistGradientBoostingClassifier(max_iter=400, max_leaf_nodes=63, early_stopping=False,
                                          random_state=0).fit(df[list(FEATURES)], df[LABEL])


def _candidate(reg, home: Path, name: str, model) -> int:  # noqa: ANN001
    from compiler.build import CompileOptions, compile_model
    from compiler.demo.data import LABEL, generate
    from compiler.demo.model import CONSTRAINTS

    compile_model(model, generate(2000, seed=77), home / f"bench-{name}", CompileOptions(label=LABEL,
                                                                                    constraints=CONSTRAINTS))
    version = reg.register(home / f"bench-{name}", MODEL, "bench", description=f"bench {name}").version
    reg.approve(MODEL, version, "bench-approver")
    return version


def sample_rows(n: int, seed: int = 99) -> np.ndarray:
    from compiler.demo.data import FEATURES, generate

    return generate(n, seed=seed)[list(FEATURES)].to_numpy(dtype=np.float64)


def _start(name: str, argv: list[str], env: dict[str, str] | None = None, timeout: float = 120.0) -> Target:
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=full_env)
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"listening on ([\d.]+):(\d+)", line)
        if m:
            return Target(name, f"{m.group(1)}:{m.group(2)}", proc)
    proc.kill()
    raise RuntimeError(f"{name} did not start (exit code {proc.poll()})")


def start_scoregate(home: Path, workers: int = 1, extra: list[str] | None = None) -> Target:
    argv = [sys.executable, "-m", "server.cli", "--home", str(home), "serve", "--port", "0",
            "--workers", str(workers), "--admin-port", "0", "--metrics-port", "0", "--log-level", "WARNING",
            *(extra or [])]
    return _start(f"scoregate(w={workers})" if workers > 1 else "scoregate", argv)


def start_baseline(kind: str, home: Path) -> Target:
    return _start(kind, [sys.executable, "-m", "benchmarks.baselines", kind, "--home", str(home)])
