"""Scenario files: each a small TOML in benchmarks/scenarios/ naming series (target + request kind + points)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.errors import InvalidInput

SCENARIO_DIR = Path(__file__).parent / "scenarios"
TARGETS = ("echo", "sklearn", "onnx", "scoregate")
REQUESTS = ("score", "batch", "oip", "stream")
MODES = ("closed", "open", "stream")
DEPLOYMENTS = ("champion", "canary", "shadow", "canary+shadow", "canary+slow-shadow")  # benchmarks/targets.py prepare_deployment


@dataclass(frozen=True)
class Series:
    label: str
    target: str
    request: str = "score"
    mode: str = "closed"
    batch_rows: int = 1
    workers: int = 1
    serve: tuple[str, ...] = ()  # extra `scoregate serve` flags
    points: tuple[float, ...] = ()  # concurrency (closed/stream) or a fraction of capacity (open)
    quick_points: tuple[float, ...] | None = None
    quick: bool = True  # run in quick mode at all
    deployment: str = "champion"  # the routing state served (each on its own copy of the bench home)

    def points_for(self, quick: bool) -> tuple[float, ...]:
        if quick:
            return () if not self.quick else (self.quick_points if self.quick_points is not None else self.points[:1])
        return self.points


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    reference: str  # label of the series ratios are computed against ("capacity" for open loop)
    series: tuple[Series, ...]
    capacity_from: str = ""
    duration_s: float = 0.0  # full-mode seconds per point; 0 = the suite's default (tail latencies need more)
    rounds: int = 1  # full mode: run the series interleaved this many times and pool each one's latencies, so
    #                  slow drifts of a shared 2-core machine fall on every series alike
    copies: int = 1  # full mode: servers started per series, taking the rounds in turn (on this VM one server
    #                  process can run ~10% faster than an identical one for its whole life)


def _series(raw: dict[str, Any], where: str) -> Series:
    s = Series(
        label=str(raw.get("label", raw.get("target", ""))), target=str(raw.get("target", "")),
        request=str(raw.get("request", "score")), mode=str(raw.get("mode", "closed")),
        batch_rows=int(raw.get("batch_rows", 1)), workers=int(raw.get("workers", 1)),
        serve=tuple(str(a) for a in raw.get("serve", ())), points=tuple(float(p) for p in raw.get("points", ())),
        quick_points=tuple(float(p) for p in raw["quick_points"]) if "quick_points" in raw else None,
        quick=bool(raw.get("quick", True)), deployment=str(raw.get("deployment", "champion")),
    )
    for field, value, allowed in (("target", s.target, TARGETS), ("request", s.request, REQUESTS),
                                  ("mode", s.mode, MODES), ("deployment", s.deployment, DEPLOYMENTS)):
        if value not in allowed:
            raise InvalidInput(f"{where}: {field} = {value!r}; expected one of {allowed}")
    if not s.points:
        raise InvalidInput(f"{where}: series {s.label!r} has no points")
    return s


def load(path: Path) -> Scenario:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"scenario {path}: unreadable ({exc})") from exc
    series = tuple(_series(s, f"scenario {path.name}") for s in raw.get("series", ()))
    return Scenario(name=str(raw.get("name", path.stem)), title=str(raw.get("title", path.stem)),
                    reference=str(raw.get("reference", "")), series=series,
                    capacity_from=str(raw.get("capacity_from", "")), duration_s=float(raw.get("duration_s", 0.0)),
                    rounds=max(1, int(raw.get("rounds", 1))), copies=max(1, int(raw.get("copies", 1))))


def load_all(names: list[str] | None = None) -> list[Scenario]:
    order = ["latency_vs_concurrency", "apis", "client_batch", "batching", "workers", "telemetry", "rollout", "open_loop"]
    found = {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.toml"))}
    unknown = sorted(set(names or ()) - set(found))
    if unknown:
        raise InvalidInput(f"unknown scenario(s) {unknown}; available: {sorted(found)}")
    chosen = names or sorted(found, key=lambda n: (order.index(n) if n in order else len(order), n))
    return [load(found[n]) for n in chosen]
