"""`scoregate`: the entry point. Global options, command registration, and the one place errors are printed."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from compiler.errors import ScoregateError
from server.cli.context import CliContext, default_actor

# Command groups, one module each; every module exposes `commands`: a list of click commands.
COMMAND_MODULES = ("compile_cmd", "demo_cmd", "serve_cmd", "stats_cmd", "rollout_cmd", "registry_cmd", "audit_cmd", "bench_cmd",
                   "outcomes_cmd", "performance_cmd", "retrain_cmd")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--home", type=click.Path(path_type=Path), envvar="SCOREGATE_HOME",
              help="Data directory (registry database, artefacts). Default: ~/.scoregate")
@click.option("--actor", envvar="SCOREGATE_ACTOR", help="Who is acting (recorded in the ledger). Default: the OS user")
@click.pass_context
def app(ctx: click.Context, home: Path | None, actor: str | None) -> None:
    """Model-serving gateway for banks: compile, register, approve, serve, roll out, audit."""
    ctx.obj = CliContext(home=(home or Path.home() / ".scoregate").expanduser(), actor=actor or default_actor())


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"server.cli.{name}")
        except ModuleNotFoundError as exc:  # a command group still being built
            if exc.name != f"server.cli.{name}":
                raise
            continue
        for command in module.commands:
            app.add_command(command)


_register_commands()


def run(argv: list[str] | None = None) -> int:
    """Domain and usage errors become one line on stderr and a non-zero exit, never a traceback."""
    try:
        # without standalone mode click returns (not raises) the code of a click.exceptions.Exit
        return int(app.main(args=argv, prog_name="scoregate", standalone_mode=False) or 0)
    except ScoregateError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.exceptions.Abort:
        sys.stderr.write("error: aborted\n")
        return 130
    except click.ClickException as exc:
        sys.stderr.write(f"error: {exc.format_message()}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback reaches an operator
        first = str(exc).splitlines()[0] if str(exc) else ""
        sys.stderr.write(f"error: internal error ({type(exc).__name__}): {first}\n")
        return 1


def main() -> None:
    sys.exit(run())
