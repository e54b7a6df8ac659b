"""The routing table: which runner serves which model and route. Immutable; the control plane builds a new
one and swaps the reference, so a request reads one consistent snapshot without a lock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from server.batching.batcher import Batcher
from server.routing.shadow import ShadowLane
from server.runtime.runner import ModelRunner


@dataclass(frozen=True)
class Arm:
    """One servable version: its runner and the batcher in front of it."""

    runner: ModelRunner
    batcher: Batcher


@dataclass(frozen=True)
class ModelRoutes:
    name: str
    champion: Arm
    canary: Arm | None = None
    canary_weight: float = 0.0  # percent of entity keys, 0..100
    salt: str = ""  # changes per rollout so a new rollout draws a new sample of customers
    shadows: tuple[ShadowLane, ...] = ()


@dataclass(frozen=True)
class RoutingTable:
    revision: int = -1
    models: Mapping[str, ModelRoutes] = field(default_factory=dict)
    pending: Mapping[str, str] = field(default_factory=dict)  # model -> why it is not served (for messages)

    def arms(self) -> list[Arm]:
        out = []
        for routes in self.models.values():
            out.append(routes.champion)
            if routes.canary is not None:
                out.append(routes.canary)
        return out

    def lanes(self) -> list[ShadowLane]:
        return [lane for routes in self.models.values() for lane in routes.shadows]
