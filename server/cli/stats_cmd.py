"""`scoregate stats` and `scoregate drift`: what a running gateway measured, through its admin API."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import click

from server.cli.context import CliContext, emit_json, emit_table, pass_cli


def _admin_call(cli: CliContext, target: str, token: str | None, method: str, request: Any,
                actor: str | None = None) -> dict[str, Any]:
    import grpc
    from google.protobuf.json_format import MessageToDict

    from server.api.v1 import admin_pb2_grpc
    from server.security import ADMIN_TOKEN_FILE

    if token is None:
        path = cli.home / ADMIN_TOKEN_FILE
        token = path.read_text().strip().splitlines()[0] if path.exists() else ""
    stub = admin_pb2_grpc.AdminStub(grpc.insecure_channel(target))
    try:
        metadata = [("authorization", f"Bearer {token}")] + ([("x-scoregate-actor", actor)] if actor else [])
        reply = getattr(stub, method)(request, timeout=10, metadata=metadata)
    except grpc.RpcError as exc:
        raise click.ClickException(f"{exc.code().name}: {exc.details()}") from None
    return MessageToDict(reply, preserving_proto_field_name=True)


def _us(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v) / 1000:.3f}"


def _num(v: Any, digits: int) -> str:
    return "-" if v is None else f"{float(v):.{digits}f}"


target_option = click.option("--target", default="127.0.0.1:50052", show_default=True, help="The admin API")
token_option = click.option("--token", envvar="SCOREGATE_ADMIN_TOKEN",
                            help="Admin token (default: <home>/admin.token)")


@click.command("stats")
@click.argument("model", required=False)
@target_option
@token_option
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def stats_command(cli: CliContext, model: str | None, target: str, token: str | None, as_json: bool) -> None:
    """Latency per version / route / stage (ms), request outcomes, batches: summed over every worker."""
    from server.api.v1 import admin_pb2

    stats = _admin_call(cli, target, token, "GetStats", admin_pb2.StatsRequest(model=model or ""))["stats"]
    if as_json:
        emit_json(stats)
        return
    rows = []
    for v in stats.get("versions", []):
        for lat in v.get("latency", []):
            rows.append([v["model"], int(v["version"]), lat["route"], lat["stage"], int(lat["count"]),
                         _us(lat.get("p50_us")), _us(lat.get("p90_us")), _us(lat.get("p99_us")),
                         _us(lat.get("p999_us"))])
    emit_table(["model", "version", "route", "stage", "count", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms"], rows)
    for v in stats.get("versions", []):
        outcomes = ", ".join(f"{k.replace('|', ' ')} {int(n)}" for k, n in sorted(v.get("requests", {}).items()))
        click.echo(f"{v['model']} v{int(v['version'])}: {outcomes or 'no requests'}; batches {int(v['batches'])}, "
                   f"shed {int(v['shed'])}, expired {int(v['expired'])}")
        if v.get("shadow"):
            click.echo("  as shadow: " + shadow_line(v["shadow"]))
    for name, guard in sorted(stats.get("rollouts", {}).items()):
        for line in guard_lines(name, guard):
            click.echo(line)


def shadow_line(s: dict[str, Any]) -> str:
    return (f"{int(s['scored'])} scored of {int(s['offered'])} offered ({int(s['dropped'])} dropped, "
            f"{int(s['failed'])} failed); decision flips {_num(s.get('flip_rate'), 4)}; "
            f"|score delta| p50 {_num(s.get('delta_p50'), 5)} p99 {_num(s.get('delta_p99'), 5)}")


def guard_lines(model: str, guard: dict[str, Any]) -> list[str]:
    """Canary vs champion over the rollout's window, and each shadow's flip rate, as the guard last saw them."""
    out = [f"{model} rollout: {guard.get('state', 'none')}"]
    r = guard.get("readings")
    if r:
        out.append(f"  canary vs champion: requests {int(r['canary_requests'])} / {int(r['champion_requests'])}, "
                   f"error rate {_num(r['canary_error_rate'], 4)} / {_num(r['champion_error_rate'], 4)}, "
                   f"p99 ms {_us(r['canary_p99_us'])} / {_us(r['champion_p99_us'])}, "
                   f"score PSI {_num(r['score_psi'], 4)}"
                   + ("" if guard.get("judged") else " (minimum sample not reached yet)"))
    for b in guard.get("breaches") or []:
        out.append(f"  BREACH {b['rule']}: " + ", ".join(f"{k} {v}" for k, v in b.items() if k != "rule"))
    for sh in guard.get("shadows") or []:
        out.append(f"  shadow v{int(sh['version'])} [{sh['state']}]: " + shadow_line(sh))
    return out


@click.command("drift")
@click.argument("model")
@click.option("--window", default="5m", show_default=True, type=click.Choice(["5m", "1h", "all"]))
@target_option
@token_option
@click.option("--json", "as_json", is_flag=True)
@click.option("--plot", type=click.Path(path_type=Path), help="Write a PNG of the score distribution vs training")
@pass_cli
def drift_command(cli: CliContext, model: str, window: str, target: str, token: str | None, as_json: bool,
                  plot: Path | None) -> None:
    """PSI per feature and for the score against the training reference, highest first, with its state."""
    from server.api.v1 import admin_pb2

    drift = _admin_call(cli, target, token, "GetDrift", admin_pb2.DriftRequest(model=model, window=window))["drift"]
    if as_json:
        emit_json(drift)
    else:
        rows = [[int(v["version"]), f["name"], _num(f.get("psi"), 4), f.get("state", "ok"), int(f["count"]),
                 _num(f.get("nan_share"), 3), _num(f.get("out_of_range_share"), 3)]
                for v in drift.get("versions", []) for f in v.get("figures", [])]
        emit_table(["version", "feature", "psi", "state", "count", "nan share", "out of range"], rows)
    if plot is not None:
        _plot(drift, plot)
        click.echo(f"plot written to {plot}", err=True)


def _plot(drift: dict[str, Any], path: Path) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt

    versions = drift.get("versions", [])
    fig, axes = plt.subplots(1, max(len(versions), 1), figsize=(6 * max(len(versions), 1), 4), squeeze=False)
    for ax, v in zip(axes[0], versions):
        score = next((f for f in v["figures"] if f["name"] == "score"), None)
        if score is None or not score.get("actual"):
            continue
        k = range(len(score["actual"]))
        ax.bar([i - 0.2 for i in k], score["expected"], width=0.4, label="training reference")
        ax.bar([i + 0.2 for i in k], score["actual"], width=0.4, label=f"live ({drift['window']})")
        ax.set(title=f"{drift['model']} v{int(v['version'])} score: PSI {_num(score['psi'], 3)}", xlabel="score bin",
               ylabel="share")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


commands = [stats_command, drift_command]
