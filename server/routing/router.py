"""The route decision: made once per request, in the core, and pinned for the request's life.

The canary arm is chosen by a stable hash of the rollout's salt and the entity key, so one customer sees
one model on every worker and replica and across restarts; without an entity key the request id is used
(such requests are sticky only per request).
"""

from __future__ import annotations

import hashlib

from server.routing.table import Arm, ModelRoutes

CHAMPION = "champion"
CANARY = "canary"
_SCALE = 100.0 / float(1 << 64)


def bucket(salt: str, key: str) -> float:
    """A uniform position in [0, 100) for this key under this salt."""
    h = hashlib.blake2b(f"{salt}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") * _SCALE


def decide(routes: ModelRoutes, entity_key: str, request_id: str) -> tuple[str, Arm]:
    if routes.canary is not None and routes.canary_weight > 0.0:
        if bucket(routes.salt, entity_key or request_id) < routes.canary_weight:
            return CANARY, routes.canary
    return CHAMPION, routes.champion
