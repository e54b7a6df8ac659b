"""`scoregate demo`: the main job on the embedded default, end to end."""

from __future__ import annotations

import os

import click

from server.cli.context import CliContext, pass_cli


@click.command("demo")
@click.option("--once", is_flag=True, help="Exit after the sample requests instead of serving on")
@pass_cli
def demo_command(cli: CliContext, once: bool) -> None:
    """Build the demo credit model, compile it with proven parity, and (as the gateway lands) serve it."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from server.demo import DemoConfig, run_demo

    run_demo(DemoConfig(home=cli.home, actor=cli.actor), say=click.echo)


commands = [demo_command]
