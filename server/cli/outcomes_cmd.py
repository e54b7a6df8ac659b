"""`scoregate outcomes import FILE.csv`: bulk loads of late truth (chargebacks, defaults) into outcomes.db.

Exit status: 0 when every row was accepted or a duplicate; 2 when some rows were refused (they are listed
on stderr with their line numbers; the good rows are stored unless --all-or-nothing); 1 when the file
cannot be used at all (one line on stderr, nothing stored).
"""

from __future__ import annotations

from pathlib import Path

import click

from registry.outcomes import OutcomeStore
from registry.outcomes_csv import read_outcomes_csv
from server.cli.context import CliContext, emit_json, pass_cli

MAX_LISTED = 100  # refused rows listed on stderr; --json lists them all


@click.group("outcomes")
def outcomes_group() -> None:
    """Outcomes (the truth that arrives late), joined to decisions by request id."""


@outcomes_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--source", default=None, help="Recorded with each outcome. Default: file:<file name>.")
@click.option("--all-or-nothing", is_flag=True, help="Store nothing if any row is refused.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@pass_cli
def import_command(cli: CliContext, file: Path, source: str | None, all_or_nothing: bool, as_json: bool) -> None:
    """Import FILE (CSV with request_id, label 0/1, observed_at); idempotent by request id."""
    items = read_outcomes_csv(file)
    store = OutcomeStore(cli.home)
    try:
        report = store.record(items, source or f"file:{file.name}", all_or_nothing=all_or_nothing)
        changes = judge_all(cli, store) if report.accepted else []
    finally:
        store.close()
    for c in changes:
        click.echo(f"{c['model']} v{c['version']}: realised performance {c['previous']} -> {c['state']} "
                   f"(AUC {c['auc']:.4f} vs training {c['training_auc']:.4f}); ledger entry written", err=True)
    if as_json:
        emit_json({"file": str(file), **report.to_dict()})
    else:
        click.echo(f"{file}: {report.received} rows: {report.accepted} accepted, {report.duplicates} duplicates, "
                   f"{len(report.problems)} refused" + ("" if report.stored else "; nothing stored (--all-or-nothing)"))
        for p in report.problems[:MAX_LISTED]:
            click.echo(f"line {p.position}: {p.kind}: {p.message}", err=True)
        if len(report.problems) > MAX_LISTED:
            click.echo(f"... and {len(report.problems) - MAX_LISTED} more refused rows (--json lists them all)",
                       err=True)
    if report.problems:
        raise click.exceptions.Exit(2)


def judge_all(cli: CliContext, store: OutcomeStore) -> list[dict]:
    """New outcomes are new evidence: the degradation rule (default settings) is applied to every model, as
    the gateway does periodically; each state change is one ledger entry (registry/degradation.py)."""
    from registry.degradation import evaluate_all
    from registry.service import Registry

    reg = Registry(cli.home)
    try:
        return evaluate_all(store, reg, cli.actor)
    finally:
        reg.close()


commands = [outcomes_group]
