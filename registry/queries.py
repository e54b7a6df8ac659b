"""Row access for versions, aliases and deployments: SQL in, records out, no lifecycle rules.

Kept apart from service.py so the rules read as rules and the SQL stays in one portable place.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from compiler.digest import canonical_json
from compiler.errors import NotFound
from registry.records import Alias, Deployment, ModelVersion, Shadow, frozen_map
from registry.store import Tx

_VERSION_COLS = ("model, version, digest, state, registered_by, registered_at, description, sample_digest, "
                 "parent_version, metrics, parity, source, reviewed_by, reviewed_at, review_note, retired_by, "
                 "retired_at, retire_reason")


def _version(row: Sequence[Any]) -> ModelVersion:
    r = list(row)
    for i in (9, 10, 11):
        r[i] = frozen_map(json.loads(r[i]))
    return ModelVersion(*r)


def model_exists(tx: Tx, model: str) -> bool:
    return tx.one("SELECT 1 FROM versions WHERE model = ? LIMIT 1", (model,)) is not None


def get_version(tx: Tx, model: str, version: int) -> ModelVersion:
    row = tx.one(f"SELECT {_VERSION_COLS} FROM versions WHERE model = ? AND version = ?", (model, version))
    if row is None:
        if not model_exists(tx, model):
            raise NotFound(f"model {model!r} is not registered")
        last = latest_version(tx, model)
        raise NotFound(f"model {model!r} has no version {version} (versions are 1..{last})")
    return _version(row)


def list_versions(tx: Tx, model: str | None = None) -> list[ModelVersion]:
    if model is None:
        rows = tx.all(f"SELECT {_VERSION_COLS} FROM versions ORDER BY model, version")
    else:
        rows = tx.all(f"SELECT {_VERSION_COLS} FROM versions WHERE model = ? ORDER BY version", (model,))
    return [_version(r) for r in rows]


def latest_version(tx: Tx, model: str) -> int:
    return int(tx.one("SELECT COALESCE(MAX(version), 0) FROM versions WHERE model = ?", (model,))[0])


def version_with_digest(tx: Tx, model: str, digest: str) -> int | None:
    row = tx.one("SELECT version FROM versions WHERE model = ? AND digest = ?", (model, digest))
    return None if row is None else int(row[0])


def insert_version(tx: Tx, v: ModelVersion) -> None:
    d = v.to_dict()
    for k in ("metrics", "parity", "source"):
        d[k] = canonical_json(d[k]).decode()
    cols = [c.strip() for c in _VERSION_COLS.split(",")]
    tx.execute(f"INSERT INTO versions ({_VERSION_COLS}) VALUES ({', '.join('?' * len(cols))})",
               [d[c] for c in cols])


def set_review(tx: Tx, model: str, version: int, state: str, actor: str, at: str, note: str | None) -> None:
    tx.execute("UPDATE versions SET state = ?, reviewed_by = ?, reviewed_at = ?, review_note = ? "
               "WHERE model = ? AND version = ?", (state, actor, at, note, model, version))


def set_retired(tx: Tx, model: str, version: int, actor: str, at: str, reason: str) -> None:
    tx.execute("UPDATE versions SET state = 'retired', retired_by = ?, retired_at = ?, retire_reason = ? "
               "WHERE model = ? AND version = ?", (actor, at, reason, model, version))


def list_aliases(tx: Tx, model: str | None = None) -> list[Alias]:
    if model is None:
        rows = tx.all("SELECT model, alias, version, set_by, set_at FROM aliases ORDER BY model, alias")
    else:
        rows = tx.all("SELECT model, alias, version, set_by, set_at FROM aliases WHERE model = ? ORDER BY alias",
                      (model,))
    return [Alias(*r) for r in rows]


def put_alias(tx: Tx, a: Alias) -> int | None:
    """Point the alias; return the version it pointed to before (None if new)."""
    row = tx.one("SELECT version FROM aliases WHERE model = ? AND alias = ?", (a.model, a.alias))
    tx.execute("INSERT OR REPLACE INTO aliases (model, alias, version, set_by, set_at) VALUES (?, ?, ?, ?, ?)",
               (a.model, a.alias, a.version, a.set_by, a.set_at))
    return None if row is None else int(row[0])


def drop_aliases_to(tx: Tx, model: str, version: int) -> list[str]:
    names = [r[0] for r in tx.all("SELECT alias FROM aliases WHERE model = ? AND version = ? ORDER BY alias",
                                  (model, version))]
    tx.execute("DELETE FROM aliases WHERE model = ? AND version = ?", (model, version))
    return names


_DEPLOY_COLS = "model, champion, canary, canary_weight, shadows, guardrails, revision, updated_by, updated_at"


def _deployment(row: Sequence[Any]) -> Deployment:
    model, champion, canary, weight, shadows, guardrails, revision, by, at = row
    sh = tuple(Shadow(int(s["version"]), float(s["sample_rate"])) for s in json.loads(shadows))
    return Deployment(model, champion, canary, float(weight), sh, frozen_map(json.loads(guardrails)),
                      int(revision), by, at)


def get_deployment(tx: Tx, model: str) -> Deployment | None:
    row = tx.one(f"SELECT {_DEPLOY_COLS} FROM deployments WHERE model = ?", (model,))
    return None if row is None else _deployment(row)


def list_deployments(tx: Tx, since_revision: int = 0) -> list[Deployment]:
    rows = tx.all(f"SELECT {_DEPLOY_COLS} FROM deployments WHERE revision > ? ORDER BY model", (since_revision,))
    return [_deployment(r) for r in rows]


def put_deployment(tx: Tx, d: Deployment) -> None:
    tx.execute(f"INSERT OR REPLACE INTO deployments ({_DEPLOY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (d.model, d.champion, d.canary, d.canary_weight,
                canonical_json([s.to_dict() for s in d.shadows]).decode(),
                canonical_json(dict(d.guardrails)).decode(), d.revision, d.updated_by, d.updated_at))


def routing_revision(tx: Tx) -> int:
    return int(tx.one("SELECT revision FROM routing WHERE id = 1")[0])


def bump_routing_revision(tx: Tx) -> int:
    tx.execute("UPDATE routing SET revision = revision + 1 WHERE id = 1")
    return routing_revision(tx)


def deployments_using(tx: Tx, model: str, version: int) -> list[str]:
    """Which roles (champion / canary / shadow) of the model's deployment still route to this version."""
    d = get_deployment(tx, model)
    if d is None:
        return []
    roles = [role for role, v in (("champion", d.champion), ("canary", d.canary)) if v == version]
    return roles + ["shadow" for s in d.shadows if s.version == version]
