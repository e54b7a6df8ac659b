"""Outcomes: the late truth (a chargeback, 90 days past due) joined to the exact decision that scored it.

Where the data lives: `<home>/outcomes.db` (SQLite, WAL, FULL sync: an acknowledged import survives a power
loss), separate from registry.db (lifecycle writes never wait behind a bulk load) and from the gateway's
`decisions*.db` (only ever read here, read-only). It holds
- `outcomes`: one row per request id (PRIMARY KEY), its label, when the truth was observed, when and from
  where (`source`: the CSV file name or `rpc:<actor>`) it was recorded;
- `decision_index` / `index_progress`: the incremental copy of the decision records (registry/decision_index);
- `performance_state`: the last degradation state per model version (registry/performance).

The rules, the same for `scoregate outcomes import` and the RecordOutcomes RPC:
- a label is 0 (good) or 1 (bad: the event the score is the probability of). Only "0"/"1" are accepted,
  not words such as "good"/"bad", so a file cannot be read with the classes silently swapped;
- a request id must have a decision record (any status) when the outcome is recorded, else it is reported
  as unknown and not stored (decision sampling below 100% therefore leaves some outcomes unjoinable);
- the same request id with the same label again is a duplicate: counted as such, never stored twice
  (the first observation time is kept); with a different label it is a conflict: refused and reported,
  the stored label stays (correcting a label is a deliberate act, not a side effect of a re-import);
- every refused item is reported with its position (CSV line number, or index in the RPC batch) and
  the good items are kept, all in one transaction; `all_or_nothing` stores nothing if any item is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from compiler.errors import InvalidInput
from registry import decision_index
from registry.decision_index import INDEX_MIGRATION
from registry.migrations import Migration
from registry.records import utc_now
from registry.sqlite_store import SqliteStore
from registry.store import Tx

OUTCOME_MIGRATIONS: tuple[Migration, ...] = (
    ("""CREATE TABLE outcomes (
        request_id TEXT PRIMARY KEY, label INTEGER NOT NULL CHECK (label IN (0, 1)), observed_at TEXT NOT NULL,
        recorded_at TEXT NOT NULL, source TEXT NOT NULL)""",) + tuple(INDEX_MIGRATION),
    ("""CREATE TABLE performance_state (
        model TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL, changed_at TEXT NOT NULL,
        details TEXT NOT NULL, PRIMARY KEY (model, version))""",),
)
LABELS = {"0": 0, "1": 1}
MAX_REQUEST_ID = 256
FUTURE_SKEW = timedelta(minutes=5)  # clock skew tolerated between the back office and this host


@dataclass(frozen=True)
class OutcomeItem:
    """One outcome as received, before validation. `position` is the CSV line number or the RPC index."""

    position: int
    request_id: Any
    label: Any
    observed_at: Any
    error: str | None = None  # a row the reader already found malformed (e.g. wrong number of fields)


@dataclass(frozen=True)
class Problem:
    position: int
    request_id: str
    kind: str  # "invalid" | "unknown" | "conflict"
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "request_id": self.request_id, "kind": self.kind, "message": self.message}


@dataclass
class ImportReport:
    """What happened to every item: accepted (stored now), duplicates (stored before), problems (refused)."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    problems: list[Problem] = field(default_factory=list)
    stored: bool = True  # False when all_or_nothing refused the whole batch

    def to_dict(self) -> dict[str, Any]:
        return {"received": self.received, "accepted": self.accepted, "duplicates": self.duplicates,
                "refused": len(self.problems), "stored": self.stored,
                "problems": [p.to_dict() for p in self.problems]}


def parse_label(value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"label: expected 0 or 1, got {value!r}")
    if isinstance(value, int):
        if value in (0, 1):
            return value
        raise InvalidInput(f"label: expected 0 or 1, got {value!r}")
    text = "" if value is None else str(value).strip()
    if text not in LABELS:
        raise InvalidInput(f"label: expected 0 or 1, got {text!r}" if text else "label: required (0 or 1)")
    return LABELS[text]


def parse_observed(value: Any, now: datetime | None = None) -> str:
    """An observation time as stored (UTC ISO-8601, microseconds); naive = UTC; not in the future."""
    if isinstance(value, datetime):
        t = value
    else:
        text = "" if value is None else str(value).strip()
        if not text:
            raise InvalidInput("observed_at: required (ISO-8601, e.g. 2026-01-31T09:00:00Z)")
        try:
            t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"observed_at: {text!r} is not ISO-8601 (e.g. 2026-01-31T09:00:00Z)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    t = t.astimezone(timezone.utc)
    if t > (now or datetime.now(timezone.utc)) + FUTURE_SKEW:
        raise InvalidInput(f"observed_at: {t.isoformat()} is in the future")
    return t.isoformat(timespec="microseconds")


def parse_request_id(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise InvalidInput("request_id: required")
    if len(text) > MAX_REQUEST_ID:
        raise InvalidInput(f"request_id: at most {MAX_REQUEST_ID} characters, got {len(text)}")
    if any(ord(c) < 32 for c in text):
        raise InvalidInput("request_id: control characters are not allowed")
    return text


def check_source(source: str) -> str:
    text = source.strip()
    if not text or len(text) > 200 or any(ord(c) < 32 for c in text):
        raise InvalidInput(f"source: 1 to 200 printable characters, got {source!r}")
    return text


class OutcomeStore:
    """`<home>/outcomes.db`: outcomes, the decision index and the degradation states."""

    def __init__(self, home: Path | str, synchronous: str = "FULL") -> None:
        self.home = Path(home)
        self.store = SqliteStore(self.home / "outcomes.db", OUTCOME_MIGRATIONS, synchronous=synchronous)

    def close(self) -> None:
        self.store.close()

    def refresh_index(self) -> int:
        """Copy decision records appended since the last call; return how many."""
        return self.store.write(lambda tx: decision_index.refresh(tx, self.home))

    def record(self, items: Iterable[OutcomeItem], source: str, all_or_nothing: bool = False) -> ImportReport:
        """Validate, join-check and store a batch in one transaction (with an index refresh first)."""
        source = check_source(source)
        items = list(items)

        def fn(tx: Tx) -> ImportReport:
            decision_index.refresh(tx, self.home)
            report, rows = _plan(tx, items)
            if all_or_nothing and report.problems:
                report.accepted, report.stored = 0, False
                return report
            now = utc_now()
            tx.executemany("INSERT INTO outcomes (request_id, label, observed_at, recorded_at, source) "
                           "VALUES (?, ?, ?, ?, ?)", [(r, label, obs, now, source) for r, label, obs in rows])
            return report

        return self.store.write(fn)

    def outcome(self, request_id: str) -> dict[str, Any] | None:
        row = self.store.read(lambda tx: tx.one(
            "SELECT request_id, label, observed_at, recorded_at, source FROM outcomes WHERE request_id = ?",
            (request_id,)))
        names = ("request_id", "label", "observed_at", "recorded_at", "source")
        return dict(zip(names, row)) if row else None

    def count(self) -> int:
        return int(self.store.read(lambda tx: tx.one("SELECT COUNT(*) FROM outcomes"))[0])

    def joined(self, model: str, since: str | None = None) -> list[tuple[int, str, str, float, int]]:
        """(version, route, decision time, score, label) per request id with an outcome and an OK decision.

        A request id with several OK records for the same model version and route (a client retrying with its
        own id) counts once there, with its latest record (SQLite returns the bare columns of the row holding
        MAX(time)); records of other versions or routes (e.g. a shadow, should shadows ever be recorded) are
        each judged against the same outcome, in their own group.
        """
        sql = ("SELECT d.version, d.route, MAX(d.time), d.output, o.label FROM outcomes o "
               "JOIN decision_index d ON d.request_id = o.request_id "
               "WHERE d.model = ? AND d.status = 'OK' AND d.output IS NOT NULL"
               + (" AND d.time >= ?" if since else "") + " GROUP BY o.request_id, d.version, d.route ORDER BY 3")
        params: Sequence[Any] = (model, since) if since else (model,)
        rows = self.store.read(lambda tx: tx.all(sql, params))
        return [(int(v), str(r), str(t), float(s), int(y)) for v, r, t, s, y in rows]


def _plan(tx: Tx, items: list[OutcomeItem]) -> tuple[ImportReport, list[tuple[str, int, str]]]:
    """Sort a batch into rows to insert, duplicates and problems (first occurrence wins inside a batch)."""
    report = ImportReport(received=len(items))
    rows: list[tuple[str, int, str]] = []
    seen: dict[str, int] = {}
    now = datetime.now(timezone.utc)
    for item in items:
        rid = str(item.request_id or "").strip()
        try:
            if item.error:
                raise InvalidInput(item.error)
            rid = parse_request_id(item.request_id)
            label = parse_label(item.label)
            observed = parse_observed(item.observed_at, now)
        except InvalidInput as exc:
            report.problems.append(Problem(item.position, rid, "invalid", str(exc)))
            continue
        stored = seen.get(rid)
        if stored is None:
            row = tx.one("SELECT label FROM outcomes WHERE request_id = ?", (rid,))
            stored = None if row is None else int(row[0])
        if stored is None and not decision_index.known(tx, rid):
            report.problems.append(Problem(item.position, rid, "unknown",
                                           f"request_id {rid!r}: no decision record has this request id"))
            continue
        if stored is None:
            seen[rid] = label
            rows.append((rid, label, observed))
            report.accepted += 1
        elif stored == label:
            report.duplicates += 1
        else:
            report.problems.append(Problem(item.position, rid, "conflict",
                                           f"request_id {rid!r}: label {label} conflicts with the recorded label "
                                           f"{stored}; not changed"))
    return report, rows
