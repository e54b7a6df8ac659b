"""The decision recorder's settings: mode, bound, fsync policy, what to do when full.

Apart from the recorder (server/telemetry/recorder.py) so that reading a serve configuration never loads
the recorder's compiled kernels (Numba): `server.config` imports this, and CLI commands stay quick to start.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.errors import InvalidInput


@dataclass(frozen=True)
class RecorderConfig:
    mode: str = "all"  # "all" | "sample:RATE" (deterministic by request id) | "off"
    # Records journaled but not yet chained; beyond it `on_full` applies. They are safe on disk (about 200
    # bytes each), so the bound is about how far the chain may lag, not memory: ~5 minutes at 3,000 rps.
    queue_max: int = 1_000_000
    max_group: int = 4_096  # records per chain transaction at most
    # The chainer runs in the idle scheduling class; past this backlog (~10 s at the ceiling) it is restarted
    # at normal priority until it catches up (registry/chainer.py). Ignored when not below queue_max.
    escalate_backlog: int = 30_000
    fsync: str = "interval:1"  # "group" | "interval:SECONDS"
    on_full: str = "fail"  # "fail": UNAVAILABLE rather than answer unrecorded | "sample": drop and count

    def rate(self) -> float:
        if self.mode == "all":
            return 1.0
        if self.mode == "off":
            return 0.0
        if self.mode.startswith("sample:"):
            try:
                r = float(self.mode.split(":", 1)[1])
            except ValueError:
                r = -1.0
            if 0.0 < r <= 1.0:
                return r
        raise InvalidInput(f"decision_log = {self.mode!r} is invalid; expected all, off or sample:RATE with 0 < RATE <= 1")

    def durability(self) -> tuple[bool, float]:
        """(fsync every group before its replies, seconds between the chainer's fsync + checkpoint)."""
        if self.fsync == "group":
            return True, 1.0
        if self.fsync.startswith("interval:"):
            try:
                seconds = float(self.fsync.split(":", 1)[1])
            except ValueError:
                seconds = 0.0
            if 0.0 < seconds < float("inf"):  # 0 would mean "never checkpoint": unbounded power-loss exposure
                return False, seconds
        raise InvalidInput(f"decision_fsync = {self.fsync!r} is invalid; expected group or interval:SECONDS")
