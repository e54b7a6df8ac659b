"""`scoregate retrain`: a training spec + data -> a new registered (not approved) version with lineage."""

from __future__ import annotations

import os
from pathlib import Path

import click

from server.cli.context import CliContext, emit_json, pass_cli


@click.command("retrain")
@click.option("--spec", "spec_path", required=True, type=click.Path(path_type=Path),
              help="Training spec (TOML): estimator family/params or hook, preprocessing, label, seed")
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path),
              help="Training data CSV (features + label); its sha256 goes into the lineage")
@click.option("--model", "name", help="Model name (default: model.name in the spec)")
@click.option("--parent", type=int, default=None,
              help="Version this one derives from (default: the deployed champion)")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Keep the compiled bundle here (default: a temporary directory; the registry keeps a copy)")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@pass_cli
def retrain_command(cli: CliContext, spec_path: Path, data_path: Path, name: str | None, parent: int | None,
                    out_dir: Path | None, as_json: bool) -> None:
    """Train a challenger from SPEC and DATA reproducibly, compile it (parity proven) and register it.

    The same spec and data give the same bundle digest. The version is registered by --actor and must be
    approved by someone else (four-eyes) before it can shadow or serve.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from compiler.training.retrain import retrain
    from registry.service import Registry

    registry = Registry(cli.home)
    try:
        result = retrain(registry, spec_path, data_path, cli.actor, model=name, parent=parent, out_dir=out_dir)
    finally:
        registry.close()
    v, compiled, lineage = result.version, result.candidate.compiled, result.candidate.lineage
    approve = f"scoregate --actor <another person> registry approve {v.model} {v.version} --comment \"...\""
    shadow = f"scoregate rollout shadow {v.model} --version {v.version} --sample 0.2"
    if as_json:
        emit_json({"version": v.to_dict(), "digest": compiled.digest, "bundle": str(out_dir) if out_dir else None,
                   "parity": compiled.manifest["parity"], "metrics": compiled.manifest["metrics"],
                   "lineage": {k: val for k, val in lineage.items() if k != "spec"},
                   "next": [approve, shadow]})
        return
    parent_text = f"v{lineage['parent_version']} ({lineage['parent_digest'][:12]}…)" if result.parent else "none"
    click.echo(f"registered {v.model} v{v.version} ({v.state}, by {v.registered_by})")
    click.echo(f"digest   {compiled.digest}")
    if out_dir is not None:
        click.echo(f"bundle   {out_dir}")
    click.echo(compiled.parity.summary())
    metrics = compiled.manifest["metrics"]
    click.echo(f"metrics on {lineage['sample_rows']} held-out rows: "
               + ", ".join(f"{k} {metrics[k]:.4f}" for k in ("auc", "gini", "ks", "brier") if k in metrics))
    click.echo(f"lineage  parent {parent_text}")
    click.echo(f"         spec sha256 {lineage['spec_digest']}")
    click.echo(f"         data sha256 {lineage['data_digest']} ({lineage['data_rows']} rows, "
               f"{lineage['training_rows']} trained on), seed {lineage['seed']}")
    click.echo(f"next: a second person reviews and approves it (four-eyes; {v.registered_by} cannot):")
    click.echo(f"  {approve}")
    click.echo("then shadow it against the champion:")
    click.echo(f"  {shadow}")


commands = [retrain_command]
