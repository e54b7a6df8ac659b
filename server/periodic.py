"""A background check on a timer: the drift watch and the performance watch run one each."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable


class Periodic:
    """Calls `check()` every `interval_s` on a daemon thread until stopped. A failed check is logged and
    the next one runs as usual: a watch must outlive one bad evaluation."""

    def __init__(self, name: str, interval_s: float, check: Callable[[], Any], log: logging.Logger) -> None:
        self._name = name
        self._interval = interval_s
        self._check = check
        self._log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._check()
            except Exception:  # noqa: BLE001
                self._log.exception("%s: check failed", self._name)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
