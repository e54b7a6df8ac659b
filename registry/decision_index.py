"""An incremental index of decision records, kept in outcomes.db, so outcomes can be joined by request id.

Why a copy rather than a query on `decisions*.db`: the gateway's decision tables have no index on
request_id, and must not get one (every index is paid on the scoring hot path, thousands of inserts a
second). So outcomes.db keeps its own narrow copy of each record (request id, model, version, route, time,
score, status), indexed by request id, and remembers per decisions file the last `seq` it copied: each
refresh reads only the rows appended since, by primary-key range (`seq > ?`), through a read-only
connection (WAL readers never block the writer). A file whose chain is now shorter than what was copied
(replaced or restored from a backup) is re-indexed from scratch.

Records of failed requests are indexed too (status != "OK", score NULL): their request ids are known, so an
outcome for one is stored, but performance figures only count OK records with a score.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from registry.store import Tx

INDEX_MIGRATION = (
    """CREATE TABLE decision_index (
        source TEXT NOT NULL, seq INTEGER NOT NULL, request_id TEXT NOT NULL, time TEXT NOT NULL,
        model TEXT NOT NULL, version INTEGER NOT NULL, route TEXT NOT NULL, output REAL, status TEXT NOT NULL,
        PRIMARY KEY (source, seq))""",
    "CREATE INDEX decision_index_request ON decision_index (request_id)",
    "CREATE INDEX decision_index_model ON decision_index (model, time)",
    "CREATE TABLE index_progress (source TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
)
_COLUMNS = "seq, request_id, time, model, version, route, output, status"
_CHUNK = 20_000


def decision_files(home: Path) -> list[Path]:
    """Every decision chain under home: `decisions.db` and the per-worker `decisions-<name>.db`."""
    return sorted(p for p in Path(home).glob("decisions*.db") if p.is_file())


def _last_seq(conn: sqlite3.Connection) -> int:
    try:
        row = conn.execute("SELECT MAX(seq) FROM decisions").fetchone()
    except sqlite3.OperationalError:  # a file created but not migrated yet: nothing to index
        return 0
    return int(row[0] or 0)


def refresh(tx: Tx, home: Path) -> int:
    """Copy the decision records appended since the last refresh; return how many rows were copied.

    Runs inside the caller's write transaction on outcomes.db, so two refreshes never copy the same rows.
    """
    copied = 0
    for path in decision_files(home):
        source = path.name
        row = tx.one("SELECT seq FROM index_progress WHERE source = ?", (source,))
        done = int(row[0]) if row else 0
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)  # as_uri escapes '?', '#', '%'
        try:
            last = _last_seq(conn)
            if last < done:  # the chain was replaced: forget what we copied from it
                tx.execute("DELETE FROM decision_index WHERE source = ?", (source,))
                done = 0
            if last == done:
                continue
            cursor = conn.execute(f"SELECT {_COLUMNS} FROM decisions WHERE seq > ? AND seq <= ? ORDER BY seq",
                                  (done, last))
            while rows := cursor.fetchmany(_CHUNK):
                tx.executemany("INSERT OR REPLACE INTO decision_index (source, seq, request_id, time, model, version, "
                               "route, output, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               [(source, *r) for r in rows])
                copied += len(rows)
        finally:
            conn.close()
        tx.execute("INSERT OR REPLACE INTO index_progress (source, seq) VALUES (?, ?)", (source, last))
    return copied


def known(tx: Tx, request_id: str) -> bool:
    return tx.one("SELECT 1 FROM decision_index WHERE request_id = ? LIMIT 1", (request_id,)) is not None
