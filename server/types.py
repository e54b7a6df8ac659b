"""Values that cross the boundary between the transport edge (server/rpc) and the core.

The core speaks numpy and these frozen records; the edge turns protobuf into them and back. Nothing here
imports grpc, so the core stays testable and transport-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.schema import Schema


@dataclass(frozen=True)
class ScoreCall:
    """One scoring call as the core sees it: rows already decoded into float64 (rows, features)."""

    model: str
    x: np.ndarray
    request_id: str
    entity_key: str = ""
    caller: str = ""
    deadline: float | None = None  # time.monotonic() seconds; None = no deadline


@dataclass(frozen=True)
class ScoreResult:
    request_id: str
    model: str
    version: int
    route: str  # "champion" | "canary"
    digest: str
    scores: np.ndarray  # float32 (rows,)
    decisions: np.ndarray  # bool (rows,)
    threshold: float


@dataclass(frozen=True)
class ModelView:
    """What callers may know about a served model: its champion version and schema."""

    name: str
    version: int
    digest: str
    schema: Schema
    ready: bool
    max_batch_rows: int
