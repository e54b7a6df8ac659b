"""Reading and verifying the governance record of a home: the lifecycle ledger and every decision chain.

Chains: `ledger` (in registry.db) and one per `decisions*.db` file (named after the file). Verification
reads each chain inside one snapshot, so it can run while the gateway appends. Anchors are the exported
heads (`scoregate audit head --json > anchor.json`); passing them back to `verify` detects a rewrite that
also forged the head rows, and a truncation below the anchored sequence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from compiler.errors import InvalidInput, ScoregateError
from registry.decisions import DecisionLog
from registry.ledger import LEDGER_SELECT, ChainReport, encode_ledger_row, entry_from_row, read_head, verify_chain
from registry.records import ChainHead, LedgerEntry, normalize_time
from registry.service import Registry
from registry.store import Tx

LEDGER_CHAIN = "ledger"


class ChainBroken(ScoregateError):
    """A governance chain does not verify (new class, registry-only: not an input, state or permission error)."""


def ledger_entries(registry: Registry, model: str | None = None, since: str | None = None,
                   action: str | None = None, limit: int | None = None) -> list[LedgerEntry]:
    """Lifecycle entries in sequence order, filtered; `action` matches exactly or as a prefix ("approve" also
    finds "approve.refused")."""
    where, params = [], []
    if model is not None:
        where.append("model = ?")
        params.append(model)
    if since is not None:
        where.append("time >= ?")
        params.append(normalize_time(since))
    if action is not None:
        where.append("(action = ? OR action LIKE ?)")
        params += [action, f"{action}.%"]
    sql = LEDGER_SELECT + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY seq"
    if limit is not None:
        sql = f"SELECT * FROM ({sql} DESC LIMIT {int(limit)}) ORDER BY seq"
    return registry.store.read(lambda tx: [entry_from_row(r) for r in tx.all(sql, params)])


def verify_ledger(registry: Registry, anchor: tuple[int, str] | None = None) -> ChainReport:
    def fn(tx: Tx) -> ChainReport:
        head = read_head(tx, "ledger")
        cursor = tx.execute(LEDGER_SELECT + " ORDER BY seq")
        cursor.arraysize = 4096
        return verify_chain(LEDGER_CHAIN, iter(cursor), encode_ledger_row, head, anchor)
    return registry.store.read(fn)


def recover_journals(home: Path) -> list[str]:
    """Chain what dead gateways left in their decision journals (registry/chainer.py), before reading
    chains: a gateway and its chainer both killed leave journaled records the chain does not hold yet.
    Returns one line per journal recovered or problem found; journals of running gateways are left alone."""
    from registry.chainer import recover_orphans

    lines: list[str] = []
    recover_orphans(Path(home), lines.append)
    return lines


def decision_logs(home: Path) -> list[Path]:
    return sorted(Path(home).glob("decisions*.db"), key=lambda p: p.stem)


def heads(registry: Registry) -> list[ChainHead]:
    """The current head of every chain under the registry's home: the anchor to export."""
    seq, h = registry.store.read(lambda tx: read_head(tx, "ledger"))
    out = [ChainHead(LEDGER_CHAIN, seq, h)]
    for path in decision_logs(registry.home):
        log = DecisionLog(path)
        try:
            out.append(log.head())
        finally:
            log.close()
    return out


def verify_all(registry: Registry, anchors: Mapping[str, tuple[int, str]] | None = None) -> list[ChainReport]:
    """Verify every chain; an anchored chain that no longer exists is reported as a failure too."""
    anchors = dict(anchors or {})
    reports = [verify_ledger(registry, anchors.pop(LEDGER_CHAIN, None))]
    for path in decision_logs(registry.home):
        log = DecisionLog(path)
        try:
            reports.append(log.verify(anchors.pop(log.chain_name, None)))
        finally:
            log.close()
    for chain, (seq, h) in sorted(anchors.items()):
        reports.append(ChainReport(chain, 0, ChainHead(chain, 0, "0" * 64), 1,
                                   f"missing: the anchor lists chain {chain!r} at seq {seq}, no such chain in the home"))
    return reports


def load_anchors(path: Path) -> dict[str, tuple[int, str]]:
    """Read an exported `audit head --json` file: a list of {"chain", "seq", "hash"}."""
    try:
        data: Any = json.loads(Path(path).read_text())
        return {str(d["chain"]): (int(d["seq"]), str(d["hash"])) for d in data}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"anchor file {path}: expected the JSON list printed by `scoregate audit head --json` "
                           f"({exc})") from exc
