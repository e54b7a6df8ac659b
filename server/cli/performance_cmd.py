"""`scoregate performance MODEL`: realised AUC / Gini / KS / Brier and bad rate by band, from outcomes.

Reads the registry (training figures, the model must exist) and outcomes.db (refreshing the decision index
first), prints per version and route (or `--by version|vintage`), then applies the degradation rule and
writes a ledger entry for each version whose state changed (registry/degradation.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from registry.degradation import DegradationRule, evaluate
from registry.outcomes import OutcomeStore
from registry.performance import BY, group_key, report, roc_points
from registry.records import normalize_time
from registry.service import Registry
from server.cli.context import CliContext, emit_json, emit_table, pass_cli


def _f(v: Any, digits: int = 4) -> str:
    return "-" if v is None else f"{float(v):.{digits}f}"


@click.command("performance")
@click.argument("model")
@click.option("--since", help="Only decisions made at or after this time (ISO-8601, naive = UTC).")
@click.option("--by", type=click.Choice(BY), default="route", show_default=True,
              help="route = per version and route; vintage = per version and month of the decision.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--plot", type=click.Path(path_type=Path), help="Write a PNG: ROC and bad rate by band per group.")
@click.option("--margin", type=float, default=0.05, show_default=True, envvar="SCOREGATE_PERFORMANCE_MARGIN",
              help="Degraded when training AUC - realised AUC exceeds this.")
@click.option("--min-outcomes", type=int, default=500, show_default=True, envvar="SCOREGATE_PERFORMANCE_MIN_OUTCOMES",
              help="Outcomes a version needs before it is judged.")
@click.option("--min-per-class", type=int, default=20, show_default=True,
              envvar="SCOREGATE_PERFORMANCE_MIN_PER_CLASS", help="Goods and bads a version needs before it is judged.")
@pass_cli
def performance_command(cli: CliContext, model: str, since: str | None, by: str, as_json: bool, plot: Path | None,
                        margin: float, min_outcomes: int, min_per_class: int) -> None:
    """Realised performance of MODEL's served scores against recorded outcomes."""
    rule = DegradationRule(margin, min_outcomes, min_per_class)
    since_t = normalize_time(since) if since else None
    reg = Registry(cli.home)
    store = OutcomeStore(cli.home)
    try:
        training = {v.version: dict(v.metrics) for v in reg.versions(model)}
        store.refresh_index()
        rows = store.joined(model, since_t)
        rep = report(model, rows, by, training, since_t)
        rep["degradation"] = evaluate(store, model, training, rule,
                                      lambda action, m, v, d: reg.record(cli.actor, action, m, v, d))
    finally:
        store.close()
        reg.close()
    if as_json:
        emit_json(rep)
    else:
        _print(rep)
    if plot is not None:
        _plot(rep, rows, plot)
        click.echo(f"plot written to {plot}", err=True)


def _label(g: dict[str, Any]) -> str:
    return f"v{g['version']}" + (f" {g['route']}" if g["route"] else "") + (f" {g['vintage']}" if g["vintage"] else "")


def _print(rep: dict[str, Any]) -> None:
    if not rep["groups"]:
        click.echo(f"{rep['model']}: no outcomes joined to OK decisions" + (f" since {rep['since']}" if rep["since"] else ""))
    else:
        extra = {"route": "route", "vintage": "vintage"}.get(rep["by"])
        rows = [[g["version"]] + ([g[extra]] if extra else []) +
                [g["count"], g["bads"], _f(g["bad_rate"]), _f(g["auc"]), _f(g["gini"]), _f(g["ks"]), _f(g["brier"]),
                 _f(g["training"]["auc"])] for g in rep["groups"]]
        emit_table(["version"] + ([extra] if extra else []) +
                   ["outcomes", "bads", "bad rate", "auc", "gini", "ks", "brier", "training auc"], rows)
        click.echo("")
        emit_table(["group", "band", "scores", "count", "bads", "bad rate"],
                   [[_label(g), b["band"], f"{b['min_score']:.4f}-{b['max_score']:.4f}", b["count"], b["bads"],
                     _f(b["bad_rate"])] for g in rep["groups"] for b in g["bands"]])
    for d in rep["degradation"]:
        figures = f"auc {_f(d['auc'])} vs training {_f(d['training_auc'])}, {d['count']} outcomes"
        if not d["judged"]:
            click.echo(f"v{d['version']}: not judged ({d['not_judged']}); state stays {d['state']}: {figures}")
        else:
            change = f" (was {d['previous']}, ledger entry written)" if d["changed"] else ""
            click.echo(f"v{d['version']}: {d['state']}{change}: {figures}, margin {d['rule']['margin']}")


def _plot(rep: dict[str, Any], rows: list[tuple[int, str, str, float, int]], path: Path) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (roc, bands) = plt.subplots(1, 2, figsize=(12, 4.5))
    by_group: dict[tuple[Any, ...], tuple[list[int], list[float]]] = {}
    for version, route, time, score, label in rows:
        ys, ss = by_group.setdefault(group_key(rep["by"], version, route, time), ([], []))
        ys.append(label)
        ss.append(score)
    for g in rep["groups"]:
        name = _label(g)
        ys, ss = by_group[(g["version"], g["route"], g["vintage"])]
        if g["auc"] is not None:
            fpr, tpr = roc_points(np.asarray(ys), np.asarray(ss))
            roc.plot(fpr, tpr, label=f"{name} (AUC {g['auc']:.3f})")
        bands.plot([b["band"] for b in g["bands"]], [b["bad_rate"] for b in g["bands"]], marker="o", label=name)
    roc.plot([0, 1], [0, 1], color="grey", linestyle=":")
    roc.set(title=f"{rep['model']}: ROC", xlabel="false positive rate", ylabel="true positive rate")
    bands.set(title="bad rate by score band (1 = lowest scores)", xlabel="score decile", ylabel="bad rate",
              xticks=range(1, 11))
    for ax in (roc, bands):
        if rep["groups"]:
            ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


commands = [performance_command]
