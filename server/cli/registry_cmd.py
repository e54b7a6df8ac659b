"""`scoregate registry ...`: register, approve, reject, alias, retire, deploy, list, show (thin over Registry)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import click

from registry.records import ModelVersion
from registry.service import Registry
from registry.validation import check_version
from server.cli.context import CliContext, emit_json, emit_table, pass_cli

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


def _with_registry(cli: CliContext, fn: Callable[[Registry], Any]) -> Any:
    reg = Registry(cli.home)
    try:
        return fn(reg)
    finally:
        reg.close()


def _emit_version(v: ModelVersion, as_json: bool, verb: str = "") -> None:
    if as_json:
        emit_json(v.to_dict())
        return
    if verb:
        click.echo(f"{verb} {v.model} v{v.version} ({v.state}, digest {v.digest[:12]}…)")
        return
    rows = [(k, val) for k, val in v.to_dict().items() if val not in (None, "", {})]
    emit_table(("field", "value"), rows)


def _version_rows(versions: list[ModelVersion]) -> list[tuple[Any, ...]]:
    return [(v.model, v.version, v.state, v.digest[:12], v.registered_by, v.registered_at[:19], v.reviewed_by or "")
            for v in versions]


VERSION_HEADERS = ("model", "version", "state", "digest", "registered_by", "registered_at", "reviewed_by")


@click.group("registry")
def registry_group() -> None:
    """Model versions, four-eyes approvals, aliases and deployments."""


@registry_group.command("register")
@click.argument("bundle_dir", type=click.Path(path_type=Path))
@click.option("--model", "name", required=True, help="Model name (letters, digits, . _ -).")
@click.option("--description", default="", help="What the model is for (intended use).")
@click.option("--parent", type=int, default=None, help="The version this one was derived from.")
@json_option
@pass_cli
def register(cli: CliContext, bundle_dir: Path, name: str, description: str, parent: int | None, as_json: bool) -> None:
    """Verify BUNDLE_DIR and record it as the next version of --model."""
    v = _with_registry(cli, lambda r: r.register(bundle_dir, name, cli.actor, description, parent))
    _emit_version(v, as_json, "registered")


@registry_group.command("approve")
@click.argument("name")
@click.argument("version")
@click.option("--comment", default="", help="Review note kept in the ledger.")
@json_option
@pass_cli
def approve(cli: CliContext, name: str, version: str, comment: str, as_json: bool) -> None:
    """Approve a registered version (must be someone other than its registrar)."""
    _emit_version(_with_registry(cli, lambda r: r.approve(name, version, cli.actor, comment)), as_json, "approved")


@registry_group.command("reject")
@click.argument("name")
@click.argument("version")
@click.option("--reason", required=True, help="Why the version is rejected.")
@json_option
@pass_cli
def reject(cli: CliContext, name: str, version: str, reason: str, as_json: bool) -> None:
    """Reject a registered version."""
    _emit_version(_with_registry(cli, lambda r: r.reject(name, version, cli.actor, reason)), as_json, "rejected")


@registry_group.command("retire")
@click.argument("name")
@click.argument("version")
@click.option("--reason", required=True, help="Why the version is retired.")
@json_option
@pass_cli
def retire(cli: CliContext, name: str, version: str, reason: str, as_json: bool) -> None:
    """Retire an approved version that no deployment uses any more."""
    _emit_version(_with_registry(cli, lambda r: r.retire(name, version, cli.actor, reason)), as_json, "retired")


@registry_group.command("alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version")
@json_option
@pass_cli
def alias(cli: CliContext, name: str, alias: str, version: str, as_json: bool) -> None:
    """Point ALIAS (e.g. champion) of model NAME at an approved VERSION."""
    a = _with_registry(cli, lambda r: r.set_alias(name, alias, version, cli.actor))
    if as_json:
        emit_json(asdict(a))
    else:
        click.echo(f"{a.model}@{a.alias} -> v{a.version}")


@registry_group.command("deploy")
@click.argument("name")
@click.option("--champion", required=True, help="Approved version that serves all traffic.")
@click.option("--reason", default="champion deployment", show_default=True, help="Why (kept in the ledger).")
@json_option
@pass_cli
def deploy(cli: CliContext, name: str, champion: str, reason: str, as_json: bool) -> None:
    """Serve NAME with one champion version (no canary, no shadows)."""
    d = _with_registry(cli, lambda r: r.set_deployment(name, cli.actor, reason, champion=check_version(champion),
                                                       canary=None, canary_weight=0.0, shadows=()))
    if as_json:
        emit_json(d.to_dict())
    else:
        click.echo(f"deployed {d.model}: champion v{d.champion} (routing revision {d.revision})")


@registry_group.command("list")
@click.option("--model", "name", default=None, help="Only this model.")
@json_option
@pass_cli
def list_versions(cli: CliContext, name: str | None, as_json: bool) -> None:
    """Every registered version."""
    versions = _with_registry(cli, lambda r: r.versions(name))
    if as_json:
        emit_json([v.to_dict() for v in versions])
    else:
        emit_table(VERSION_HEADERS, _version_rows(versions))


@registry_group.command("show")
@click.argument("name")
@click.argument("version", required=False)
@json_option
@pass_cli
def show(cli: CliContext, name: str, version: str | None, as_json: bool) -> None:
    """A model (versions, aliases, deployment) or one VERSION (a number or an alias)."""
    if version is not None:
        _emit_version(_with_registry(cli, lambda r: r.resolve(name, version)), as_json)
        return
    versions, aliases, dep = _with_registry(cli, lambda r: (r.versions(name), r.aliases(name), r.deployment(name)))
    if as_json:
        emit_json({"versions": [v.to_dict() for v in versions], "aliases": {a.alias: a.version for a in aliases},
                   "deployment": dep.to_dict() if dep else None})
        return
    emit_table(VERSION_HEADERS, _version_rows(versions))
    if aliases:
        click.echo("aliases: " + ", ".join(f"{a.alias} -> v{a.version}" for a in aliases))
    if dep:
        canary = f", canary v{dep.canary} at {dep.canary_weight:g}%" if dep.canary else ""
        shadows = "".join(f", shadow v{s.version} ({s.sample_rate:g})" for s in dep.shadows)
        click.echo(f"deployment (revision {dep.revision}): champion v{dep.champion}{canary}{shadows}")


commands: list[click.Command] = [registry_group]
