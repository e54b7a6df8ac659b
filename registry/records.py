"""The registry's records: immutable values handed to callers, never live rows.

Every record is a frozen dataclass so a gateway can share one across threads without copying and a caller
cannot "edit" a version by mutating what it was given: changes go through the Registry facade, which
writes them together with their ledger entry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Mapping

from compiler.errors import InvalidInput

GENESIS_HASH = "0" * 64  # prev_hash of the first entry of every chain


class State:
    """Lifecycle states of a model version (plain strings: they are stored and shown as-is)."""

    REGISTERED = "registered"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETIRED = "retired"


_SECOND: tuple[int, str] = (-1, "")  # (epoch second, its "YYYY-MM-DDTHH:MM:SS"), replaced whole


def utc_now() -> str:
    """UTC ISO-8601 with microseconds: fixed width, so string order is time order."""
    return format_utc_ns(time.time_ns())


def format_utc_ns(ns: int) -> str:
    """`utc_now`'s form of a time.time_ns() value. The decision chainer formats thousands of these a second,
    so the date part is formatted once per second (4x cheaper than datetime)."""
    global _SECOND
    second, micro = divmod(ns // 1000, 1_000_000)
    cached = _SECOND
    if cached[0] != second:
        cached = _SECOND = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{micro:06d}+00:00"


def normalize_time(text: str) -> str:
    """Parse an operator-supplied time (naive = UTC) into the stored form, for range filters."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"time {text!r} is not ISO-8601 (expected e.g. 2026-01-31T09:00:00Z)") from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat(timespec="microseconds")


def frozen_map(d: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class ModelVersion:
    """One registered bundle under a model name. Identity fields never change; `state` follows the lifecycle."""

    model: str
    version: int
    digest: str
    state: str
    registered_by: str
    registered_at: str
    description: str
    sample_digest: str | None
    parent_version: int | None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    parity: Mapping[str, Any] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=dict)
    reviewed_by: str | None = None
    reviewed_at: str | None = None
    review_note: str | None = None
    retired_by: str | None = None
    retired_at: str | None = None
    retire_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for k in ("metrics", "parity", "source"):
            d[k] = dict(d[k])
        return d


@dataclass(frozen=True)
class Alias:
    model: str
    alias: str
    version: int
    set_by: str
    set_at: str


@dataclass(frozen=True)
class Shadow:
    """A version that receives a copy of a sampled share of traffic; its answers are never returned."""

    version: int
    sample_rate: float  # 0..1

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "sample_rate": self.sample_rate}


@dataclass(frozen=True)
class Deployment:
    """The routing state the gateway serves for one model.

    `revision` is the global routing revision at which this deployment last changed, so a gateway that saw
    revision r only needs the deployments with revision > r.
    """

    model: str
    champion: int | None
    canary: int | None
    canary_weight: float  # percent of traffic, 0..100
    shadows: tuple[Shadow, ...]
    guardrails: Mapping[str, Any]
    revision: int
    updated_by: str
    updated_at: str

    def versions(self) -> tuple[int, ...]:
        """Every version this deployment routes to (they must all stay approved)."""
        vs = [v for v in (self.champion, self.canary) if v is not None]
        return tuple(vs + [s.version for s in self.shadows])

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "champion": self.champion, "canary": self.canary,
            "canary_weight": self.canary_weight, "shadows": [s.to_dict() for s in self.shadows],
            "guardrails": dict(self.guardrails), "revision": self.revision,
            "updated_by": self.updated_by, "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class LedgerEntry:
    """One governance ledger entry; `hash` = sha256(canonical JSON of every other field)."""

    seq: int
    time: str
    actor: str
    action: str
    model: str | None
    version: int | None
    digest: str | None
    details: Mapping[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["details"] = dict(self.details)
        return d


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One scored request, as the gateway logs it (digest of the inputs only, never raw feature values)."""

    time: str  # UTC ISO-8601 (utc_now())
    request_id: str
    caller: str
    model: str
    version: int
    digest: str
    route: str  # "champion" | "canary" | "shadow" | ...
    input_digest: str
    output: float | None  # the score; None when scoring failed
    decision: str | None  # e.g. the class label chosen by the threshold
    status: str  # status code name, "OK" on success
    latency_us: int


@dataclass(frozen=True)
class ChainHead:
    """Where a chain ends: export it (`scoregate audit head`) to detect a later truncation."""

    chain: str
    seq: int
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {"chain": self.chain, "seq": self.seq, "hash": self.hash}
