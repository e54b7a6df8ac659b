"""The decision log: the gateway's high-volume, hash-chained record of every scored request.

Why a separate file (`home/decisions.db`, or one file per gateway worker, `decisions-<name>.db`): the
gateway writes here thousands of times a second, and lifecycle writes (approve, deploy) must never wait
behind it, nor it behind them. Each file is its own chain, verified on its own (`scoregate audit verify`
finds every `decisions*.db` under home). Several processes may share one file: the chain head is read
inside each `BEGIN IMMEDIATE` batch, so they serialise correctly, at the cost of contending for the lock.

Group commit: `append_batch` chains and inserts a whole batch with one `executemany` and one COMMIT. When
it returns, the batch is in the WAL, handed to the OS: a killed process loses nothing acknowledged. With
`synchronous="NORMAL"` (default here) a power loss or kernel crash can lose the last few acknowledged
batches (the chain stays valid up to its last complete entry); `"FULL"` fsyncs every commit and loses
none, at roughly one fsync per batch.

The gateway does not call this itself: it journals records (registry/journal.py) and a chainer process
(registry/chainer.py) appends them with `append_rows(..., position=)`, which records how far that journal
has been chained in the same transaction, so a crash at any point neither loses nor repeats a record.
"""

from __future__ import annotations

import math
from hashlib import sha256
from json.encoder import encode_basestring_ascii as _q
from pathlib import Path
from typing import Any, Iterator, Sequence

from compiler.errors import InvalidInput
from registry.ledger import CANONICAL, ChainReport, read_head, verify_chain
from registry.migrations import DECISION_MIGRATIONS
from registry.records import ChainHead, DecisionRecord, format_utc_ns
from registry.sqlite_store import SqliteStore
from registry.store import Tx

DECISION_FIELDS = ("seq", "time", "request_id", "caller", "model", "version", "digest", "route",
                   "input_digest", "output", "decision", "status", "latency_us", "prev_hash")
_INSERT = (f"INSERT INTO decisions ({', '.join(DECISION_FIELDS)}, hash) "
           f"VALUES ({', '.join('?' * (len(DECISION_FIELDS) + 1))})")
_SELECT = f"SELECT {', '.join(DECISION_FIELDS)}, hash FROM decisions ORDER BY seq"


def decision_body(row: Sequence[Any]) -> bytes:
    """The bytes a decision entry's hash covers: canonical JSON of the fields seq .. prev_hash."""
    return _canonical(row).encode()


def _canonical(row: Sequence[Any]) -> str:
    """CANONICAL.encode(dict(zip(DECISION_FIELDS, row))), written out for the fixed field set: the chainer
    hashes thousands of these a second, and this is about 3x faster. Keys in sorted order, strings through
    json's own C escaper (the few that repeat, like model, digest, route and caller, quoted once and
    remembered), floats as json writes them (repr). Anything unexpected (a non-string where a string
    belongs) takes the general encoder, so the bytes are always the canonical ones (a property test
    compares both)."""
    seq, time, rid, caller, model, version, digest, route, idg, output, decision, status, lat, prev = row
    if not (type(seq) is int and type(version) is int and type(lat) is int
            and (output is None or type(output) is float)):
        return CANONICAL.encode(dict(zip(DECISION_FIELDS, row)))
    try:
        return (f'{{"caller":{_quoted(caller)},"decision":{"null" if decision is None else _quoted(decision)},'
                f'"digest":{_quoted(digest)},"input_digest":{_q(idg)},"latency_us":{lat},"model":{_quoted(model)},'
                f'"output":{"null" if output is None else _float(output)},"prev_hash":{_q(prev)},'
                f'"request_id":{_q(rid)},"route":{_quoted(route)},"seq":{seq},"status":{_quoted(status)},'
                f'"time":{_q(time)},"version":{version}}}')
    except (TypeError, ValueError):
        return CANONICAL.encode(dict(zip(DECISION_FIELDS, row)))


_QUOTED: dict[str, str] = {}


def _quoted(s: str) -> str:
    """`_q` for strings that repeat across records (a bounded memo: a flood of distinct callers only fills it)."""
    q = _QUOTED.get(s)
    if q is None:
        q = _q(s)  # raises TypeError for a non-string, before anything is remembered
        if len(_QUOTED) < 4096 and type(s) is str:
            _QUOTED[s] = q
    return q


def _float(v: float) -> str:
    if v - v != 0.0:  # NaN or an infinity
        raise ValueError("not finite")  # the general encoder refuses it with its own message
    return float.__repr__(v)


def _output(request_id: str, output: Any) -> float | None:
    if output is None:
        return None
    out = float(output)
    if not math.isfinite(out):
        raise InvalidInput(f"decision record {request_id!r}: output must be a finite float or None, got {out!r}")
    return out


def as_row(r: DecisionRecord) -> tuple[Any, ...]:
    """A record's fields in DecisionRecord order (what `append_rows` takes)."""
    return (r.time, r.request_id, r.caller, r.model, r.version, r.digest, r.route, r.input_digest, r.output,
            r.decision, r.status, r.latency_us)


def chain_rows(records: Sequence[Sequence[Any]], seq: int, prev: str) -> list[tuple[Any, ...]]:
    """Number and hash a batch (rows in DecisionRecord field order; time as text, or as time.time_ns() the
    way the journal carries it) after (seq, prev): one sha256 each."""
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for time, rid, caller, model, version, digest, route, idg, output, decision, status, lat in records:
        seq += 1
        row = (seq, format_utc_ns(time) if type(time) is int else time, rid, caller, model,
               version if type(version) is int else int(version), digest, route, idg,
               output if output is None or (type(output) is float and output - output == 0.0)
               else _output(rid, output),
               decision, status, lat if type(lat) is int else int(lat), prev)
        prev = sha256(_canonical(row).encode()).hexdigest()
        append(row + (prev,))
    return rows


def chain_for(worker: str | None) -> str:
    """The chain (and file stem) of a worker's decision log: `decisions-<worker>`, or `decisions`."""
    return f"decisions-{worker}" if worker else "decisions"


class DecisionLog:
    """Append-only, hash-chained decision records in one SQLite file."""

    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self._store = SqliteStore(self.path, DECISION_MIGRATIONS, synchronous=synchronous)

    @classmethod
    def in_home(cls, home: Path, name: str | None = None, synchronous: str = "NORMAL") -> DecisionLog:
        """home/decisions.db, or home/decisions-<name>.db for a per-worker chain."""
        return cls(Path(home) / f"{chain_for(name)}.db", synchronous)

    def append_batch(self, records: Sequence[DecisionRecord]) -> int:
        """Chain and commit the batch in one transaction; return the last sequence number (0 if empty)."""
        return self.append_rows([as_row(r) for r in records])

    def append_rows(self, records: Sequence[Sequence[Any]], position: tuple[str, int, int] | None = None) -> int:
        """`append_batch` for rows in DecisionRecord field order; with position = (journal id, segment,
        offset), also records how far that journal is chained, in the same transaction."""
        if not records and position is None:
            return self.head().seq

        def write(tx: Tx) -> int:
            seq, prev = read_head(tx, "decisions")
            if records:
                rows = chain_rows(records, seq, prev)
                tx.executemany(_INSERT, rows)
                seq, prev = int(rows[-1][0]), rows[-1][-1]
                tx.execute("UPDATE decisions_head SET seq = ?, hash = ? WHERE id = 1", (seq, prev))
            if position is not None:
                tx.execute("INSERT OR REPLACE INTO journal_positions (journal, segment, offset) VALUES (?, ?, ?)",
                           position)
            return seq

        return self._store.write(write)

    def journal_position(self, journal: str) -> tuple[int, int] | None:
        """(segment, offset) up to which `journal` is chained, or None if nothing of it is."""
        row = self._store.read(lambda tx: tx.one("SELECT segment, offset FROM journal_positions WHERE journal = ?",
                                                 (journal,)))
        return (int(row[0]), int(row[1])) if row else None

    def forget_journal(self, journal: str) -> None:
        """Drop a removed journal's position row (after the journal itself is gone)."""
        self._store.write(lambda tx: tx.execute("DELETE FROM journal_positions WHERE journal = ?", (journal,)))

    def head(self) -> ChainHead:
        seq, h = self._store.read(lambda tx: read_head(tx, "decisions"))
        return ChainHead(self.chain_name, seq, h)

    @property
    def chain_name(self) -> str:
        return self.path.stem

    def count(self) -> int:
        return int(self._store.read(lambda tx: tx.one("SELECT COUNT(*) FROM decisions"))[0])

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        sql = _SELECT + (f" LIMIT {int(limit)}" if limit else "")
        names = DECISION_FIELDS + ("hash",)
        return self._store.read(lambda tx: [dict(zip(names, r)) for r in tx.all(sql)])

    def verify(self, anchor: tuple[int, str] | None = None) -> ChainReport:
        return self._store.read(lambda tx: verify_rows(tx, self.chain_name, anchor))

    def checkpoint(self) -> None:
        """fsync what is committed (the recorder's `interval` policy calls this on a timer)."""
        self._store.checkpoint()

    def close(self) -> None:
        self._store.close()


def verify_rows(tx: Tx, chain: str, anchor: tuple[int, str] | None) -> ChainReport:
    """Verify the decisions chain inside one read snapshot (so a concurrent append cannot look like a break)."""
    head = read_head(tx, "decisions")
    cursor = tx.execute(_SELECT)
    cursor.arraysize = 4096
    return verify_chain(chain, _iter(cursor), decision_body, head, anchor)


def _iter(cursor: Any) -> Iterator[Sequence[Any]]:
    while batch := cursor.fetchmany():
        yield from batch
