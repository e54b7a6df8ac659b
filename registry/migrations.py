"""Schema versions and forward migrations for the two databases (registry.db, decisions*.db).

Each database records its schema version in `schema_version`; opening a store applies every newer
migration inside one write transaction, so two processes opening a fresh home at once cannot both
apply it. Migrations are append-only: never edit a published one, add the next.
"""

from __future__ import annotations

from typing import Sequence

from compiler.errors import PreconditionFailed
from registry.store import Tx

Migration = Sequence[str]  # SQL statements applied in order


def chain_tables(table: str, columns: str) -> Migration:
    """A hash chain table plus its head row (last seq + hash, updated in the same transaction)."""
    return (
        f"CREATE TABLE {table} (seq INTEGER PRIMARY KEY, {columns}, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
        f"CREATE TABLE {table}_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)",
        f"INSERT INTO {table}_head (id, seq, hash) VALUES (1, 0, '{'0' * 64}')",
    )


LEDGER_COLUMNS = ("time TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, model TEXT, version INTEGER, "
                  "digest TEXT, details TEXT NOT NULL")
DECISION_COLUMNS = ("time TEXT NOT NULL, request_id TEXT NOT NULL, caller TEXT NOT NULL, model TEXT NOT NULL, "
                    "version INTEGER NOT NULL, digest TEXT NOT NULL, route TEXT NOT NULL, input_digest TEXT NOT NULL, "
                    "output REAL, decision TEXT, status TEXT NOT NULL, latency_us INTEGER NOT NULL")

REGISTRY_MIGRATIONS: tuple[Migration, ...] = (
    (  # 1: versions, aliases, deployments, the routing revision
        """CREATE TABLE versions (
            model TEXT NOT NULL, version INTEGER NOT NULL, digest TEXT NOT NULL, state TEXT NOT NULL,
            registered_by TEXT NOT NULL, registered_at TEXT NOT NULL, description TEXT NOT NULL,
            sample_digest TEXT, parent_version INTEGER, metrics TEXT NOT NULL, parity TEXT NOT NULL,
            source TEXT NOT NULL, reviewed_by TEXT, reviewed_at TEXT, review_note TEXT,
            retired_by TEXT, retired_at TEXT, retire_reason TEXT,
            PRIMARY KEY (model, version), UNIQUE (model, digest))""",
        """CREATE TABLE aliases (
            model TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
            set_by TEXT NOT NULL, set_at TEXT NOT NULL, PRIMARY KEY (model, alias))""",
        """CREATE TABLE deployments (
            model TEXT PRIMARY KEY, champion INTEGER, canary INTEGER, canary_weight REAL NOT NULL,
            shadows TEXT NOT NULL, guardrails TEXT NOT NULL, revision INTEGER NOT NULL,
            updated_by TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        "CREATE TABLE routing (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL)",
        "INSERT INTO routing (id, revision) VALUES (1, 0)",
    ),
    # 2: the lifecycle ledger and its head row
    chain_tables("ledger", LEDGER_COLUMNS) + ("CREATE INDEX ledger_model ON ledger (model, seq)",),
)
DECISION_MIGRATIONS: tuple[Migration, ...] = (
    chain_tables("decisions", DECISION_COLUMNS),
    # 2: how far each decision journal has been chained (updated in the same transaction as its rows)
    ("CREATE TABLE journal_positions (journal TEXT PRIMARY KEY, segment INTEGER NOT NULL, "
     "offset INTEGER NOT NULL)",),
)


def current_version(tx: Tx) -> int:
    tx.execute("CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)")
    row = tx.one("SELECT version FROM schema_version WHERE id = 1")
    return int(row[0]) if row else 0


def migrate(tx: Tx, migrations: Sequence[Migration]) -> int:
    """Apply the migrations this database has not seen; refuse a database newer than this code."""
    have = current_version(tx)
    if have > len(migrations):
        raise PreconditionFailed(
            f"database schema version is {have}, this scoregate understands up to {len(migrations)}; upgrade scoregate")
    for statements in migrations[have:]:
        for sql in statements:
            tx.execute(sql)
    if have < len(migrations):
        tx.execute("INSERT OR REPLACE INTO schema_version (id, version) VALUES (1, ?)", (len(migrations),))
    return len(migrations)
