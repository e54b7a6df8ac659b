"""Benchmark output: a JSON file per run, a Markdown table, PNG plots, and the goals checked against them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

COLUMNS = ("series", "point", "rps", "rows/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "errors", "client CPU",
           "server CPU", "rps vs ref", "p50 vs ref")


def _ms(us: float) -> str:
    return "-" if us != us else f"{us / 1000:.2f}"


def _ref_run(scenario: dict[str, Any], point: float) -> dict[str, Any] | None:
    ref = scenario["series"].get(scenario["reference"], [])
    return next((r for r in ref if r["point"] == point), None)


def _row(label: str, r: dict[str, Any], scenario: dict[str, Any]) -> list[str]:
    ref = _ref_run(scenario, r["point"])
    if scenario["reference"] == "capacity" and scenario.get("capacity_rps"):
        rps_ratio = f"{r['rps'] / scenario['capacity_rps']:.2f}x cap"
    else:
        rps_ratio = f"{r['rps'] / ref['rps']:.2f}x" if ref and ref["rps"] else "-"
    p50_ratio = f"{r['p50_us'] / ref['p50_us']:.2f}x" if ref and ref["p50_us"] == ref["p50_us"] and ref["p50_us"] else "-"
    errors = ", ".join(f"{k} {v}" for k, v in sorted(r["errors"].items())) or "0"
    point = f"{r['point']:g}x cap" if r["mode"] == "open" else f"c={int(r['point'])}"
    return [label, point, f"{r['rps']:.0f}", f"{r['rows_per_s']:.0f}", _ms(r["p50_us"]), _ms(r["p90_us"]),
            _ms(r["p99_us"]), _ms(r["p999_us"]), errors, f"{r['client_cpu']:.2f}", f"{r['server_cpu']:.2f}",
            rps_ratio, p50_ratio]


def markdown(run: dict[str, Any]) -> str:
    m = run["machine"]
    out = [f"### scoregate benchmarks ({run['mode']} mode, {time.strftime('%Y-%m-%d', time.gmtime(run['started']))})",
           "", f"{m['cores']} cores, {m['cpu'] or 'unknown CPU'}, Python {m['python']}; every figure in one run, "
           "client and server on the same machine (CPU columns: cores busy).", ""]
    for name, sc in run["scenarios"].items():
        out += [f"**{sc['title']}** (`{name}`, ratios vs `{sc['reference']}`)", "",
                "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for label, runs in sc["series"].items():
            out += ["| " + " | ".join(_row(label, r, sc)) + " |" for r in runs]
        out.append("")
    goals = check_goals(run)
    if goals:
        out += ["**Goals**", ""] + [f"- {'met' if g['met'] else 'MISSED'}: {g['goal']} (measured {g['measured']})"
                                    for g in goals] + [""]
    return "\n".join(out)


def _find(run: dict[str, Any], scenario: str, label: str, point: float) -> dict[str, Any] | None:
    runs = run["scenarios"].get(scenario, {}).get("series", {}).get(label, [])
    return next((r for r in runs if r["point"] == point), None)


def _paired(a: dict[str, Any], b: dict[str, Any]) -> str:
    """The spread behind a pooled p99 ratio: a/b per round (the two series ran back to back in each round).
    Shown beside the verdict, which stays on the pooled figures."""
    pairs = [x / y for x, y in zip(a.get("round_p99_us", []), b.get("round_p99_us", [])) if y]
    if len(pairs) < 2:
        return ""
    return (f"; per round: median {float(np.median(pairs)):.2f}x, {min(pairs):.2f}x to {max(pairs):.2f}x "
            f"over {len(pairs)} rounds")


def check_goals(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's goals, evaluated on this run's figures where the run has them."""
    goals = []
    lat = "latency_vs_concurrency"
    sg64, echo64, sk64 = (_find(run, lat, k, 64) for k in ("scoregate", "echo", "sklearn"))
    echo_best = max((r["rps"] for r in run["scenarios"].get(lat, {}).get("series", {}).get("echo", [])), default=0)
    if sg64 and echo_best:
        ratio = sg64["rps"] / echo_best
        goals.append({"goal": "single-row rps at c=64 >= 0.8x the echo ceiling", "met": ratio >= 0.8,
                      "measured": f"{ratio:.2f}x ({sg64['rps']:.0f} vs {echo_best:.0f} rps)"})
    sk_best = max((r["rps"] for r in run["scenarios"].get(lat, {}).get("series", {}).get("sklearn", [])), default=0)
    if sg64 and sk_best:
        ratio = sg64["rps"] / sk_best
        goals.append({"goal": "single-row rps at c=64 >= 5x the hand-written sklearn server", "met": ratio >= 5,
                      "measured": f"{ratio:.1f}x ({sg64['rps']:.0f} vs {sk_best:.0f} rps)"})
    sg1, echo1 = _find(run, lat, "scoregate", 1), _find(run, lat, "echo", 1)
    if sg1 and echo1:
        ratio = sg1["p50_us"] / echo1["p50_us"]
        goals.append({"goal": "p50 at c=1 <= 1.2x the echo's", "met": ratio <= 1.2,
                      "measured": f"{ratio:.2f}x ({sg1['p50_us']:.0f} vs {echo1['p50_us']:.0f} us)"})
    b512, b1 = _find(run, "client_batch", "scoregate rows=512", 8), _find(run, "client_batch", "scoregate rows=1", 8)
    if b512 and b1:
        ratio = b512["rows_per_s"] / b1["rps"]
        goals.append({"goal": "rows/s with 512-row batches >= 20x single-row rps", "met": ratio >= 20,
                      "measured": f"{ratio:.1f}x ({b512['rows_per_s']:.0f} rows/s vs {b1['rps']:.0f} rps)"})
    off, on = _find(run, "telemetry", "telemetry off", 64), _find(run, "telemetry", "counters + decision records", 64)
    if off and on:
        cost = 1 - on["rps"] / off["rps"]
        goals.append({"goal": "telemetry + decision records cost <= 10% throughput at c=64", "met": cost <= 0.10,
                      "measured": f"{cost:.1%} ({on['rps']:.0f} vs {off['rps']:.0f} rps)"})
        p99 = on["p99_us"] / off["p99_us"]
        goals.append({"goal": "telemetry + decision records cost <= 10% p99 at c=64", "met": p99 <= 1.10,
                      "measured": f"{p99:.2f}x ({on['p99_us']:.0f} vs {off['p99_us']:.0f} us){_paired(on, off)}"})
    base = _find(run, "rollout", "champion only", 0.5)
    for label in ("canary 10% + shadow 100%", "canary 10% + 10x slower shadow"):
        r = _find(run, "rollout", label, 0.5)
        if base and r:
            ratio = r["p99_us"] / base["p99_us"]
            goals.append({"goal": f"{label}: primary p99 <= 1.10x champion only at 0.5x capacity",
                          "met": ratio <= 1.10, "measured": f"{ratio:.2f}x ({r['p99_us']:.0f} vs "
                                                            f"{base['p99_us']:.0f} us){_paired(r, base)}"})
    return goals


def plots(run: dict[str, Any], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    edges = np.asarray(run["histogram_edges_us"])
    for name, sc in run["scenarios"].items():
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8))
        for k, (label, runs) in enumerate(sc["series"].items()):
            color = f"C{k}"
            rps = [r["rps"] for r in runs]
            ax1.plot(rps, [r["p50_us"] / 1000 for r in runs], marker="o", color=color, label=f"{label} p50")
            ax1.plot(rps, [r["p99_us"] / 1000 for r in runs], marker="x", linestyle="--", color=color,
                     label=f"{label} p99")
            last = runs[-1]
            counts = np.asarray(last["histogram"], dtype=float)
            if counts.sum():
                ax2.stairs(counts / counts.sum(), edges / 1000, color=color, label=f"{label} @ {last['point']:g}")
        ax1.set(xlabel="throughput (requests/s)", ylabel="latency (ms)", yscale="log", title="latency vs throughput")
        ax2.set(xlabel="latency (ms)", ylabel="share of requests", xscale="log", title="latency histogram (last point)")
        for ax in (ax1, ax2):
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
        fig.suptitle(sc["title"], fontsize=10)
        fig.tight_layout()
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


def write(run: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(run["started"]))
    run["goals"] = check_goals(run)
    json_path = out_dir / f"bench-{run['mode']}-{stamp}.json"
    json_path.write_text(json.dumps(run, indent=1, sort_keys=True))
    md_path = out_dir / f"bench-{run['mode']}-{stamp}.md"
    md_path.write_text(markdown(run))
    paths = {"json": json_path, "markdown": md_path}
    for p in plots(run, out_dir):
        paths[p.stem] = p
    return paths
