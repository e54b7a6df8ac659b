"""The "group" fsync policy of the decision recorder: requests wait for one msync of the journal that began
after their records were copied; one sync thread covers every request that arrived in the meantime."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from registry.journal import JournalWriter
from server.errors import Unavailable

log = logging.getLogger("scoregate.decisions")


class GroupFuture(asyncio.Future):
    """One sync's outcome ("group" fsync policy), awaited by every request it covers. Not cancellable: when
    one caller is cancelled (client gone, deadline) asyncio cancels the future it awaits, which would fail
    them all; here that caller's cancellation simply takes effect once the sync is done."""

    def cancel(self, msg: Any = None) -> bool:
        return False


class GroupSync:
    """The "group" fsync policy: requests wait for one msync covering everything journaled before it began.

    `group()` hands out the future of the next sync; the thread takes it, syncs, resolves it. A row appended
    before `group()` is called is covered, because the thread takes the future only after that call."""

    def __init__(self, journal: JournalWriter, loop: asyncio.AbstractEventLoop) -> None:
        self._journal, self._loop = journal, loop
        self._cond = threading.Condition()
        self._next: GroupFuture | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="scoregate-decision-fsync", daemon=True)
        self._thread.start()

    def group(self) -> asyncio.Future:
        with self._cond:
            future = self._next
            if future is None:
                future = self._next = GroupFuture(loop=self._loop)
                self._cond.notify()
            return future

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._next is None and not self._stop:
                    self._cond.wait()
                future, self._next = self._next, None
            if future is None:
                return
            error: BaseException | None = None
            try:
                self._journal.sync()
            except (OSError, ValueError) as exc:
                log.error("decision journal fsync failed: %s", exc)
                error = Unavailable("the decision log could not be made durable; the request was not answered")
            self._loop.call_soon_threadsafe(_resolve, future, error)

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join()


def _resolve(future: asyncio.Future, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
