"""`scoregate bench`: the load-test suite, side by side with the baselines, in one run."""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.command("bench")
@click.option("--quick", is_flag=True, help="Smoke mode (about a minute): fewer points, shorter runs")
@click.option("--scenario", "scenarios", multiple=True, help="Run only these scenarios (repeatable)")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("benchmarks/results"),
              show_default=True)
@click.option("--bench-home", type=click.Path(path_type=Path), help="Reuse this registry dir (default: a temp dir)")
def bench_command(quick: bool, scenarios: tuple[str, ...], out_dir: Path, bench_home: Path | None) -> None:
    """Measure scoregate against echo, hand-written sklearn and ONNX servers; write JSON, Markdown and PNGs."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from benchmarks import report
    from benchmarks.scenario import load_all
    from benchmarks.suite import SuiteConfig, run_suite

    cfg = SuiteConfig(quick=quick, scenarios=scenarios, home=bench_home)
    total = sum(len(s.points_for(quick)) * (1 if quick else sc.rounds)
                for sc in load_all(list(scenarios) or None) for s in sc.series)
    with click.progressbar(length=total, label="benchmarking", show_pos=True, file=click.get_text_stream("stderr"),
                           item_show_func=lambda item: item) as bar:
        run = run_suite(cfg, tick=lambda what: (bar.update(1, what)))
    paths = report.write(run, out_dir)
    click.echo(report.markdown(run))
    click.echo("written: " + ", ".join(str(p) for p in paths.values()))


commands = [bench_command]
