"""`scoregate compile`: a trained model file -> a verified bundle directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from server.cli.context import emit_json


def _constraints(path: Path | None) -> dict:
    from compiler.build import Constraint
    from compiler.errors import InvalidInput

    if path is None:
        return {}
    try:
        raw = json.loads(path.read_text())
        return {name: Constraint(float(c.get("min", "-inf")), float(c.get("max", "inf")), c.get("nan_allowed"))
                for name, c in raw.items()}
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise InvalidInput(f"constraints file {path}: expected JSON {{feature: {{min, max, nan_allowed}}}} ({exc})")


@click.command("compile")
@click.argument("model_spec", metavar="MODEL_FILE")
@click.option("--sample", "sample_path", required=True, type=click.Path(path_type=Path),
              help="CSV of representative rows (parity, drift reference, metrics)")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="New bundle directory")
@click.option("--label", help="Outcome column in the sample (used for metrics, not as an input)")
@click.option("--threshold", type=float, default=0.5, show_default=True, help="Decision threshold on the score")
@click.option("--constraints", type=click.Path(path_type=Path), help="JSON {feature: {min, max, nan_allowed}}")
@click.option("--description", default="", help="Intended use, recorded in the manifest")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON")
def compile_command(model_spec: str, sample_path: Path, out_dir: Path, label: str | None, threshold: float,
                    constraints: Path | None, description: str, as_json: bool) -> None:
    """Compile MODEL_FILE (joblib/pickle, or module:function) into a bundle, proving parity on the sample."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from compiler.build import CompileOptions, compile_model
    from compiler.loading import load_model, read_sample

    model = load_model(model_spec)
    sample = read_sample(sample_path)
    options = CompileOptions(threshold=threshold, label=label, constraints=_constraints(constraints),
                             description=description)
    result = compile_model(model, sample, out_dir, options)
    if as_json:
        emit_json({"digest": result.digest, "path": str(result.path), "manifest": result.manifest})
        return
    click.echo(f"bundle  {result.path}")
    click.echo(f"digest  {result.digest}")
    click.echo(result.parity.summary())
    for k, v in result.manifest["metrics"].items():
        click.echo(f"  {k:<9} {v}")


commands = [compile_command]
