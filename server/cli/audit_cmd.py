"""`scoregate audit ...`: verify every chain, show lifecycle entries, print the heads to export as anchors."""

from __future__ import annotations

from pathlib import Path

import click

from registry.audit import ChainBroken, heads, ledger_entries, load_anchors, recover_journals, verify_all
from registry.service import Registry
from server.cli.context import CliContext, emit_json, emit_table, pass_cli

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


@click.group("audit")
def audit_group() -> None:
    """The governance ledger and decision logs: verify, show, export heads."""


@audit_group.command("verify")
@click.option("--anchor", type=click.Path(path_type=Path), default=None,
              help="A file saved earlier from `audit head --json`: also detects rewrites and truncation below it.")
@json_option
@pass_cli
def verify(cli: CliContext, anchor: Path | None, as_json: bool) -> None:
    """Recompute every chain; print OK with counts, or the first bad entry. Exit 1 on any failure.

    First chains any decision journal a killed gateway left behind (its records were replied to)."""
    anchors = load_anchors(anchor) if anchor else None
    _recover(cli.home)
    reg = Registry(cli.home)
    try:
        reports = verify_all(reg, anchors)
    finally:
        reg.close()
    if as_json:
        emit_json([r.to_dict() for r in reports])
    else:
        for r in reports:
            if r.ok:
                click.echo(f"OK    {r.chain}: {r.entries} entries, head {r.head.hash[:16]}")
            else:
                click.echo(f"FAIL  {r.chain}: entry {r.bad_seq}: {r.reason}")
    bad = [r for r in reports if not r.ok]
    if bad:  # a domain error, so main.run() prints it as one line and exits 1
        raise ChainBroken(f"chain {bad[0].chain} is broken at entry {bad[0].bad_seq}: {bad[0].reason}")


@audit_group.command("show")
@click.option("--model", default=None, help="Only entries about this model.")
@click.option("--since", default=None, help="Only entries at or after this ISO-8601 time (UTC if no zone).")
@click.option("--action", default=None, help="Only this action (approve also matches approve.refused).")
@click.option("--limit", type=int, default=None, help="Only the last N matching entries.")
@json_option
@pass_cli
def show(cli: CliContext, model: str | None, since: str | None, action: str | None, limit: int | None,
         as_json: bool) -> None:
    """Lifecycle ledger entries in sequence order."""
    reg = Registry(cli.home)
    try:
        entries = ledger_entries(reg, model=model, since=since, action=action, limit=limit)
    finally:
        reg.close()
    if as_json:
        emit_json([e.to_dict() for e in entries])
        return
    emit_table(("seq", "time", "actor", "action", "model", "version", "details"),
               [(e.seq, e.time[:26], e.actor, e.action, e.model or "", e.version or "", _brief(dict(e.details)))
                for e in entries])


def _brief(details: dict) -> str:
    parts = [f"{k}={v}" for k, v in sorted(details.items()) if k in ("reason", "note", "alias", "error")
             and v not in (None, "")]
    return "; ".join(parts)[:100]


@audit_group.command("head")
@json_option
@pass_cli
def head(cli: CliContext, as_json: bool) -> None:
    """The last sequence and hash of every chain: save this outside the host (it is the anchor).

    First chains any decision journal a killed gateway left behind, so the anchor covers every decision
    that was replied to."""
    _recover(cli.home)
    reg = Registry(cli.home)
    try:
        hs = heads(reg)
    finally:
        reg.close()
    if as_json:
        emit_json([h.to_dict() for h in hs])
    else:
        emit_table(("chain", "seq", "hash"), [(h.chain, h.seq, h.hash) for h in hs])


def _recover(home: Path) -> None:
    """Chain orphaned decision journals (registry.audit.recover_journals), one stderr line per journal."""
    for line in recover_journals(home):
        click.echo(line.replace("recovered ", "RECOVERED journal records: ", 1), err=True)


commands: list[click.Command] = [audit_group]
