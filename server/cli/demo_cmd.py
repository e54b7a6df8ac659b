"""`scoregate demo`: the main job on the embedded default, end to end."""

from __future__ import annotations

import os

import click

from server.cli.context import CliContext, pass_cli


@click.command("demo")
@click.option("--once", is_flag=True, help="Exit after the sample requests instead of serving on")
@click.option("--port", type=int, default=50051, show_default=True, help="0 picks a free port")
@click.option("--no-loop", is_flag=True, help="Skip the feedback loop (outcomes, performance, retrain, shadow)")
@pass_cli
def demo_command(cli: CliContext, once: bool, port: int, no_loop: bool) -> None:
    """Compile, register, approve (four-eyes), deploy, serve and score the demo credit model; then the
    feedback loop: outcomes for newer traffic, realised performance, a retrained challenger in shadow."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from server.demo import DemoConfig, run_demo

    run_demo(DemoConfig(home=cli.home, actor=cli.actor, port=port, once=once, loop=not no_loop), say=click.echo)


commands = [demo_command]
