"""Hash chains: the entry encoding, appending a lifecycle entry, and verifying any chain.

Encoding (both chains): an entry's hash is sha256 over `canonical_json` (sorted keys, no whitespace,
ASCII, strict floats) of a JSON object holding every stored field of the entry except `hash` itself,
including `seq` and `prev_hash`. The first entry's prev_hash is 64 zeros. A verifier in another language
needs only that rule and the column list.

What verification detects and what it cannot:
- an edited field (hash mismatch), a deleted / inserted / reordered entry (sequence gap or prev_hash
  mismatch), a copied entry (duplicate hash), a removed tail (the head row, written in the same
  transaction as every append, says where the chain ends).
- NOT a rewrite by someone who recomputes every later hash *and* the head row: only an anchor kept
  outside the database (`scoregate audit head` exported to a ticket / WORM store) catches that, by
  checking the chain still holds the anchored (seq, hash).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Callable, Iterable, Mapping, Sequence

from compiler.digest import canonical_json
from registry.records import GENESIS_HASH, ChainHead, LedgerEntry, frozen_map, utc_now
from registry.store import Tx

# Same bytes as compiler.digest.canonical_json (a test proves it), built once for tight loops.
CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)

LEDGER_FIELDS = ("seq", "time", "actor", "action", "model", "version", "digest", "details", "prev_hash")
LEDGER_SELECT = f"SELECT {', '.join(LEDGER_FIELDS)}, hash FROM ledger"


def ledger_body(seq: int, time: str, actor: str, action: str, model: str | None, version: int | None,
                digest: str | None, details: Mapping[str, Any], prev_hash: str) -> bytes:
    """The bytes a lifecycle entry's hash covers."""
    return canonical_json({
        "seq": seq, "time": time, "actor": actor, "action": action, "model": model, "version": version,
        "digest": digest, "details": dict(details), "prev_hash": prev_hash,
    })


def read_head(tx: Tx, table: str) -> tuple[int, str]:
    row = tx.one(f"SELECT seq, hash FROM {table}_head WHERE id = 1")
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def append_entry(tx: Tx, actor: str, action: str, model: str | None = None, version: int | None = None,
                 digest: str | None = None, details: Mapping[str, Any] | None = None) -> LedgerEntry:
    """Append one lifecycle entry inside the caller's write transaction (so it commits with the change)."""
    seq, prev = read_head(tx, "ledger")
    seq += 1
    now = utc_now()
    det = dict(details or {})
    h = sha256(ledger_body(seq, now, actor, action, model, version, digest, det, prev)).hexdigest()
    tx.execute("INSERT INTO ledger (seq, time, actor, action, model, version, digest, details, prev_hash, hash) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (seq, now, actor, action, model, version, digest, canonical_json(det).decode(), prev, h))
    tx.execute("UPDATE ledger_head SET seq = ?, hash = ? WHERE id = 1", (seq, h))
    return LedgerEntry(seq, now, actor, action, model, version, digest, frozen_map(det), prev, h)


def entry_from_row(row: Sequence[Any]) -> LedgerEntry:
    seq, time, actor, action, model, version, digest, details, prev_hash, h = row
    return LedgerEntry(seq, time, actor, action, model, version, digest, frozen_map(json.loads(details)), prev_hash, h)


def encode_ledger_row(row: Sequence[Any]) -> bytes:
    """Recompute the hashed bytes from a stored row (seq .. prev_hash); refuse non-canonical details text."""
    details_text = row[7]
    details = json.loads(details_text)
    if not isinstance(details, dict) or CANONICAL.encode(details) != details_text:
        raise ValueError("details are not canonical JSON of an object")
    return ledger_body(row[0], row[1], row[2], row[3], row[4], row[5], row[6], details, row[8])


@dataclass(frozen=True)
class ChainReport:
    """The outcome of verifying one chain: OK with a count, or the first bad sequence and why."""

    chain: str
    entries: int
    head: ChainHead
    bad_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.bad_seq is None

    def to_dict(self) -> dict[str, Any]:
        return {"chain": self.chain, "ok": self.ok, "entries": self.entries, "head": self.head.to_dict(),
                "bad_seq": self.bad_seq, "reason": self.reason}


def verify_chain(chain: str, rows: Iterable[Sequence[Any]], encode: Callable[[Sequence[Any]], bytes],
                 head: tuple[int, str] | None, anchor: tuple[int, str] | None = None) -> ChainReport:
    """Walk rows ordered by seq (each row = stored fields ending with prev_hash, hash); stop at the first fault."""
    count, prev = 0, GENESIS_HASH
    seen: dict[str, int] = {}
    anchor_seen = anchor is None
    for row in rows:
        seq, stored = row[0], row[-1]
        why = _fault(count + 1, prev, seen, row, encode)
        if why is None and anchor is not None and seq == anchor[0]:
            if stored != anchor[1]:
                why = f"anchor mismatch: exported anchor says {anchor[1][:12]}…, chain has {stored[:12]}… (rewritten)"
            anchor_seen = True
        if why is not None:
            at = count + 1 if seq != count + 1 and seq != count else seq
            return ChainReport(chain, count, ChainHead(chain, count, prev), at, why)
        seen[stored] = seq
        prev, count = stored, count + 1
    return _check_end(chain, count, prev, head, anchor, anchor_seen)


def _fault(expected: int, prev: str, seen: Mapping[str, int], row: Sequence[Any],
           encode: Callable[[Sequence[Any]], bytes]) -> str | None:
    """Why this row cannot follow the verified prefix (None if it can), checked cheapest first."""
    seq, stored_prev, stored = row[0], row[-2], row[-1]
    if seq != expected:
        if seq == expected - 1:
            return f"duplicate sequence {seq}"
        return f"sequence gap: expected {expected}, found {seq} (entries missing or renumbered)"
    if stored in seen:
        return f"duplicate of entry {seen[stored]} (same hash)"
    if stored_prev != prev:
        return f"prev_hash mismatch: stored {str(stored_prev)[:12]}…, previous entry's hash is {prev[:12]}…"
    try:
        got = sha256(encode(row[:-1])).hexdigest()
    except (ValueError, TypeError) as exc:
        return f"unreadable entry ({exc})"
    if got != stored:
        return f"hash mismatch: stored {str(stored)[:12]}…, recomputed {got[:12]}… (entry edited)"
    return None


def _check_end(chain: str, count: int, prev: str, head: tuple[int, str] | None,
               anchor: tuple[int, str] | None, anchor_seen: bool) -> ChainReport:
    last = ChainHead(chain, count, prev)
    if head is not None and (head[0], head[1]) != (count, prev):
        if head[0] > count:
            return ChainReport(chain, count, last, count + 1,
                               f"truncated: the head records {head[0]} entries, the chain ends at {count}")
        if head[0] < count:
            return ChainReport(chain, count, last, head[0] + 1,
                               f"entries after the head: the head records {head[0]}, the chain holds {count}")
        return ChainReport(chain, count, last, count,
                           f"head mismatch: the head records hash {head[1][:12]}… for seq {count}, the chain has {prev[:12]}…")
    if not anchor_seen and anchor is not None:
        return ChainReport(chain, count, last, count + 1,
                           f"truncated: the exported anchor is at seq {anchor[0]}, the chain ends at {count}")
    return ChainReport(chain, count, last)
