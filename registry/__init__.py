"""The system of record: immutable model versions, four-eyes approvals, aliases, deployments (routing
state), and the hash-chained governance ledger, over a small Store interface (SQLite by default).

Modules: records (values), store / sqlite_store / migrations (storage), artefacts (bundles by digest),
ledger (chain encoding, append, verify), decisions (gateway decision log), deployments (routing-state
rules), queries (row access), service (the Registry facade and lifecycle rules), audit (read/verify all).
"""

from __future__ import annotations

from registry.decisions import DecisionLog
from registry.deployments import KEEP
from registry.records import Alias, ChainHead, DecisionRecord, Deployment, LedgerEntry, ModelVersion, Shadow, State
from registry.service import Registry

__all__ = ["KEEP", "Alias", "ChainHead", "DecisionLog", "DecisionRecord", "Deployment", "LedgerEntry",
           "ModelVersion", "Registry", "Shadow", "State"]
