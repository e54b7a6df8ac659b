"""`scoregate rollout ...`: canary and shadow changes through a running gateway's admin API."""

from __future__ import annotations

from typing import Any

import click

from server.cli.context import CliContext, emit_json, pass_cli
from server.cli.stats_cmd import guard_lines, target_option, token_option


def _call(cli: CliContext, target: str, token: str | None, method: str, request: Any) -> dict[str, Any]:
    from server.cli.stats_cmd import _admin_call

    return _admin_call(cli, target, token, method, request, actor=cli.actor)["status"]


def _show(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(status)
        return
    canary = f"v{int(status['canary'])} at {status['canary_weight']:g}%" if status.get("canary") else "none"
    shadows = ", ".join(f"v{int(s['version'])} ({s['sample_rate']:g})" for s in status.get("shadows", [])) or "none"
    click.echo(f"{status['model']}: champion v{int(status['champion'])}, canary {canary}, shadows {shadows} "
               f"(revision {int(status['revision'])}, by {status['updated_by']})")
    rollout = status.get("rollout") or {}
    if rollout:
        line = f"  rollout of v{int(rollout.get('version', 0))}: {rollout.get('state')}"
        if rollout.get("reason"):
            line += f" ({rollout['reason']})"
        click.echo(line)
        for b in rollout.get("breaches") or []:
            click.echo(f"  breach {b['rule']}: " + ", ".join(f"{k} {v}" for k, v in b.items() if k != "rule"))
    g = status.get("guardrails") or {}
    if g.get("steps"):
        hold = f"{g['step_after_requests']:g} canary requests" if g.get("step_after_requests") else \
            f"{g.get('step_after_s', 0):g}s"
        click.echo(f"  automatic steps {', '.join(f'{s:g}%' for s in g['steps'])}, each held {hold}"
                   + (", then promotion" if g.get("auto_promote") else ""))
    if status.get("guard"):
        for line in guard_lines(status["model"], status["guard"])[1:]:
            click.echo(line)
    for v in status.get("stats", []):
        outcomes = ", ".join(f"{k.replace('|', ' ')} {int(n)}" for k, n in sorted(v.get("requests", {}).items()))
        click.echo(f"  v{int(v['version'])}: {outcomes or 'no requests yet'}")


@click.group("rollout")
def rollout_group() -> None:
    """Canary rollouts and shadow traffic (sticky per customer; every change is a ledger entry)."""


def _common(fn):  # noqa: ANN001, ANN202
    fn = click.option("--json", "as_json", is_flag=True)(fn)
    fn = token_option(fn)
    return target_option(fn)


@rollout_group.command("start")
@click.argument("model")
@click.option("--version", type=int, required=True, help="The approved version to canary")
@click.option("--weight", type=float, required=True, help="Percent of customers, e.g. 5")
@click.option("--steps", default="", help="Automatic steps, e.g. 5,25,50,100 (promotion after the last holds)")
@click.option("--step-after", default="", help="Hold per step: 10m, 90s, 1h or 5000req (canary requests)")
@click.option("--guardrail", "guardrails", multiple=True, metavar="NAME=VALUE",
              help="Override a guardrail, e.g. max_score_psi=0.2, min_requests=500, auto_promote=false (repeatable)")
@click.option("--reason", default="")
@_common
@pass_cli
def start(cli: CliContext, model: str, version: int, weight: float, steps: str, step_after: str,
          guardrails: tuple[str, ...], reason: str, target: str, token: str | None, as_json: bool) -> None:
    """Send WEIGHT% of customers (by a stable hash of their entity key) to VERSION, guarded: a breach of
    the guardrails sets the canary's weight to 0 by itself, with the evidence in the ledger."""
    from google.protobuf import struct_pb2

    from server.api.v1 import admin_pb2

    try:
        step_list = [float(s) for s in steps.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated percentages, got {steps!r}", param_hint="--steps") from None
    settings = struct_pb2.Struct()
    settings.update(dict(_setting(g) for g in guardrails))
    _show(_call(cli, target, token, "StartRollout", admin_pb2.StartRolloutRequest(
        model=model, version=version, weight=weight, reason=reason, steps=step_list, step_after=step_after,
        guardrails=settings if guardrails else None)), as_json)


def _setting(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"expected NAME=VALUE, got {text!r}", param_hint="--guardrail")
    v = value.strip()
    if v.lower() in ("true", "false"):
        return name.strip(), v.lower() == "true"
    try:
        return name.strip(), float(v)
    except ValueError:
        raise click.BadParameter(f"{name.strip()}: expected a number or true/false, got {v!r}",
                                 param_hint="--guardrail") from None


@rollout_group.command("step")
@click.argument("model")
@click.option("--weight", type=float, required=True)
@click.option("--reason", default="")
@_common
@pass_cli
def step(cli: CliContext, model: str, weight: float, reason: str, target: str, token: str | None, as_json: bool) -> None:
    """Change the canary's share of customers."""
    from server.api.v1 import admin_pb2

    _show(_call(cli, target, token, "StepRollout", admin_pb2.StepRolloutRequest(model=model, weight=weight,
                                                                               reason=reason)), as_json)


@rollout_group.command("promote")
@click.argument("model")
@click.option("--reason", default="")
@_common
@pass_cli
def promote(cli: CliContext, model: str, reason: str, target: str, token: str | None, as_json: bool) -> None:
    """Make the canary the champion (and move the `champion` alias)."""
    from server.api.v1 import admin_pb2

    _show(_call(cli, target, token, "Promote", admin_pb2.ModelAction(model=model, reason=reason)), as_json)


@rollout_group.command("rollback")
@click.argument("model")
@click.option("--reason", required=True)
@_common
@pass_cli
def rollback(cli: CliContext, model: str, reason: str, target: str, token: str | None, as_json: bool) -> None:
    """Send every customer back to the champion."""
    from server.api.v1 import admin_pb2

    _show(_call(cli, target, token, "Rollback", admin_pb2.ModelAction(model=model, reason=reason)), as_json)


@rollout_group.command("shadow")
@click.argument("model")
@click.option("--version", type=int, required=True)
@click.option("--sample", type=float, default=1.0, show_default=True, help="Share of primary traffic copied")
@click.option("--off", is_flag=True, help="Stop shadowing this version")
@click.option("--reason", default="")
@_common
@pass_cli
def shadow(cli: CliContext, model: str, version: int, sample: float, off: bool, reason: str, target: str,
           token: str | None, as_json: bool) -> None:
    """Copy primary traffic to VERSION off the critical path (its answers never reach callers)."""
    from server.api.v1 import admin_pb2

    _show(_call(cli, target, token, "SetShadow", admin_pb2.SetShadowRequest(
        model=model, version=version, sample=sample, off=off, reason=reason)), as_json)


@rollout_group.command("status")
@click.argument("model")
@_common
@pass_cli
def status(cli: CliContext, model: str, target: str, token: str | None, as_json: bool) -> None:
    """Arms, weights, shadows and per-version outcomes."""
    from server.api.v1 import admin_pb2

    _show(_call(cli, target, token, "GetRollout", admin_pb2.ModelAction(model=model)), as_json)


commands = [rollout_group]
