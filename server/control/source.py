"""The registry as the gateway's routing source (the adapter keeps server/ independent of registry internals)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Sequence

from compiler.bundle import Bundle


class RegistrySource:
    """Reads routing state from the registry under `home`; records gateway events in its ledger."""

    def __init__(self, home: Path) -> None:
        from registry.service import Registry

        self.home = Path(home)
        self._registry = Registry(home)
        self.actor = f"gateway@{socket.gethostname()}:{os.getpid()}"

    @property
    def registry(self) -> Any:
        return self._registry

    def routing_revision(self) -> int:
        return self._registry.routing_revision()

    def deployments(self) -> Sequence[Any]:
        return self._registry.deployments()

    def version(self, name: str, version: int) -> Any:
        return self._registry.version(name, version)

    def open_bundle(self, name: str, version: int) -> Bundle:
        return self._registry.open_bundle(name, version)

    def record_gateway_event(self, action: str, model: str, version: int | None, details: dict) -> None:
        self._registry.record(self.actor, f"gateway.{action}", model, version, details)

    def gateway_events(self, action: str) -> list[dict]:
        """Details of earlier `gateway.<action>` ledger entries, oldest first (to restore alert states)."""
        from registry.audit import ledger_entries

        return [dict(e.details) for e in ledger_entries(self._registry, action=f"gateway.{action}")]

    def close(self) -> None:
        self._registry.close()
