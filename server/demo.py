"""The demo: the main job end to end on the embedded default (a local SQLite registry under --home).

It grows with the project: today it builds the demo credit model and compiles it into a verified bundle,
printing the parity report; later steps register, approve (as a second actor), deploy, serve and score.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from compiler.build import CompileOptions, CompileResult, compile_model


@dataclass(frozen=True)
class DemoConfig:
    home: Path
    actor: str
    sample_rows: int = 5_000


def compile_demo(config: DemoConfig, say: Callable[[str], None] = print) -> CompileResult:
    from compiler.demo.data import LABEL, generate
    from compiler.demo.model import CONSTRAINTS, train

    say("training the demo credit model (synthetic data, fixed seed) ...")
    model = train()
    sample = generate(config.sample_rows, seed=11)
    out = config.home / "demo" / "bundle"
    if out.exists():
        shutil.rmtree(out)  # the demo's own scratch directory
    result = compile_model(model, sample, out, CompileOptions(
        label=LABEL, constraints=CONSTRAINTS, description="demo: probability of default, retail credit"))
    say(f"compiled bundle {result.path} (digest {result.digest[:16]}…)")
    say(result.parity.summary())
    metrics = result.manifest["metrics"]
    say("sample metrics: " + ", ".join(f"{k} {metrics[k]:.4f}" for k in ("auc", "gini", "ks", "brier")))
    return result


def run_demo(config: DemoConfig, say: Callable[[str], None] = print) -> None:
    compile_demo(config, say)
