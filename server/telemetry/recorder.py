"""Decision records: one per scored request, written to the registry's hash-chained decision log by
group commit on a background thread, and acknowledged before the reply is sent.

The request path calls `submit` (O(1): append under a short lock) and awaits the *group's* future; the
writer thread takes everything pending, writes it with ONE `append_batch` (one transaction), then resolves
the group with one `call_soon_threadsafe`. So a reply leaves only after its record was handed to the
operating system: killing the gateway (even SIGKILL) never loses the record of a decision whose reply was
sent. What power loss can cost depends on `fsync`:
  - "group" (SQLite synchronous=FULL): every group is fsynced before its replies are released: nothing.
  - "interval:S" (synchronous=NORMAL + a checkpoint every S seconds): up to the last S seconds of records.
Raw feature values are never stored: the input digest is HMAC-SHA256(key, row bytes), keyed and named by
key id, so equal inputs can be matched by whoever holds the key, and nobody else learns the values.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from compiler.errors import InvalidInput
from registry.records import DecisionRecord
from server.errors import Unavailable

log = logging.getLogger("scoregate.decisions")
KEY_FILE = "decision.key"
_F8 = np.dtype("<f8")  # the digest covers the little-endian float64 bytes of the row
MIN_KEY_BYTES = 16


@dataclass(frozen=True)
class RecorderConfig:
    mode: str = "all"  # "all" | "sample:RATE" (deterministic by request id) | "off"
    queue_max: int = 65_536  # records waiting; beyond it `on_full` applies
    max_group: int = 4_096  # records per write
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

    def synchronous(self) -> tuple[str, float]:
        if self.fsync == "group":
            return "FULL", 0.0
        if self.fsync.startswith("interval:"):
            try:
                seconds = float(self.fsync.split(":", 1)[1])
            except ValueError:
                seconds = 0.0
            if 0.0 < seconds < float("inf"):  # 0 would mean "never checkpoint": unbounded power-loss exposure
                return "NORMAL", seconds
        raise InvalidInput(f"decision_fsync = {self.fsync!r} is invalid; expected group or interval:SECONDS")


def load_or_create_key(home: Path) -> tuple[bytes, str]:
    """The HMAC key: SCOREGATE_DECISION_KEY (hex) or `<home>/decision.key` (created 0600 on first use).

    The file appears complete or not at all (written aside, fsynced, then linked into place), so a crash
    or two workers starting together can never leave or read a short key; whoever links first wins.
    """
    env = os.environ.get("SCOREGATE_DECISION_KEY")
    if env:
        return _checked_key(env, "SCOREGATE_DECISION_KEY")
    path = home / KEY_FILE
    if not path.exists():
        _create_key_file(home, path)
    return _checked_key(path.read_text(), str(path))


def _create_key_file(home: Path, path: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    tmp = home / f".{KEY_FILE}.{os.getpid()}.{threading.get_ident()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32).hex().encode())
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    except FileExistsError:
        pass  # another worker created it first: use theirs
    finally:
        tmp.unlink(missing_ok=True)


def _checked_key(text: str, source: str) -> tuple[bytes, str]:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) < MIN_KEY_BYTES:
        raise InvalidInput(f"decision key from {source} must be at least {MIN_KEY_BYTES} bytes of hex; "
                           f"got {len(text.strip())} characters")
    return key, hashlib.sha256(key).hexdigest()[:12]


def sampled(request_id: str, rate: float) -> bool:
    if rate >= 1.0:
        return True
    h = hashlib.sha256(request_id.encode()).digest()[:8]
    return int.from_bytes(h, "big") / float(1 << 64) < rate


class _GroupFuture(asyncio.Future):
    """One group's outcome, awaited by every request in it. Not cancellable: when one caller is cancelled
    (client gone, deadline) asyncio cancels the future it awaits, which would fail the whole group; here
    that caller's cancellation simply takes effect once the group is written."""

    def cancel(self, msg: Any = None) -> bool:
        return False


class DecisionRecorder:
    def __init__(self, log_factory: Callable[[str], Any], config: RecorderConfig, key: bytes, key_id: str,
                 loop: asyncio.AbstractEventLoop) -> None:
        self._factory = log_factory
        self._config = config
        self._rate = config.rate()
        self._sync, self._interval = config.synchronous()
        self._key, self._key_id = key, key_id
        self._loop = loop
        self._lock = threading.Lock()
        self._pending: list[DecisionRecord] = []
        self._future: asyncio.Future | None = None
        self._wake = threading.Event()
        self._stop = False
        self._broken: str | None = None  # why the writer cannot write (set once, by the writer thread)
        self._thread: threading.Thread | None = None
        self.written = self.groups = self.dropped = self.sampled_out = self.failed = 0

    def digest(self, row: np.ndarray) -> str:
        if row.dtype != _F8 or not row.flags.c_contiguous:
            row = np.ascontiguousarray(row, dtype=_F8)
        return f"{self._key_id}:{hmac.digest(self._key, row.tobytes(), 'sha256').hex()}"  # one-shot C HMAC

    def keep(self, request_id: str) -> bool:
        """Is this request recorded? (Counts the ones sampled out, whichever of submit/keep asks.)"""
        if self._rate > 0.0 and sampled(request_id, self._rate):
            return True
        self.sampled_out += 1
        return False

    def start(self) -> None:
        if self._rate > 0.0:
            self._thread = threading.Thread(target=self._run, name="scoregate-decisions", daemon=True)
            self._thread.start()

    def submit(self, record: DecisionRecord) -> asyncio.Future | None:
        """Queue one record (event loop); await the returned future before replying. None: not kept."""
        if not self.keep(record.request_id):
            return None
        return self.submit_many([record])

    def submit_many(self, records: list[DecisionRecord]) -> asyncio.Future | None:
        """Queue one request's records together (all or none); the caller has already applied `keep`."""
        if self._rate <= 0.0:
            return None
        if self._stop or self._broken:
            raise Unavailable(f"the decision log is {'stopping' if self._stop else 'not writable'}; "
                              "the request was not answered unrecorded")
        with self._lock:
            if len(self._pending) + len(records) > self._config.queue_max:
                self.dropped += len(records)
                if self._config.on_full == "fail":
                    raise Unavailable("the decision log cannot keep up; the request was not answered unrecorded")
                return None
            self._pending.extend(records)
            if self._future is None:
                self._future = _GroupFuture(loop=self._loop)
            future = self._future
        self._wake.set()
        return future

    async def close(self) -> None:
        """Write everything pending (and fsync) before returning: the graceful-stop flush."""
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join)

    def _take(self) -> tuple[list[DecisionRecord], asyncio.Future | None]:
        """The next group to write; an oversized backlog is written in parts, its waiters released by the last."""
        with self._lock:
            if len(self._pending) > self._config.max_group:
                group = self._pending[:self._config.max_group]
                self._pending = self._pending[self._config.max_group:]
                return group, None
            group, future = self._pending, self._future
            self._pending, self._future = [], None
            return group, future

    def _run(self) -> None:
        try:
            decisions = self._factory(self._sync)
        except Exception as exc:  # noqa: BLE001 - no log: fail every waiter now rather than let them hang
            log.error("decision log cannot be opened: %s", exc)
            self._broken = str(exc)
            self._fail_pending()
            return
        try:
            self._serve(decisions)
        finally:
            self._sync_quietly(decisions)
            decisions.close()
            self._fail_pending()  # only non-empty if the loop itself died

    def _serve(self, decisions: Any) -> None:
        last_sync = time.monotonic()
        while True:
            self._wake.wait(timeout=self._interval or 1.0)
            self._wake.clear()
            self._drain(decisions)
            if self._interval and (self._stop or time.monotonic() - last_sync >= self._interval):
                self._sync_quietly(decisions)
                last_sync = time.monotonic()
            if self._stop and not self._pending:
                return

    def _drain(self, decisions: Any) -> None:
        """Write everything pending; a group split into parts fails if any of its parts failed."""
        carried: BaseException | None = None
        while True:
            group, future = self._take()
            if not group:
                return
            carried = self._write(decisions, group) or carried
            if future is not None:
                self._loop.call_soon_threadsafe(_resolve, future, carried)
                carried = None

    def _write(self, decisions: Any, group: list[DecisionRecord]) -> BaseException | None:
        try:
            decisions.append_batch(group)
        except Exception as exc:  # noqa: BLE001 - the group's requests fail; the writer keeps going
            log.error("decision log write failed for %d records: %s", len(group), exc)
            self.failed += len(group)
            return Unavailable("the decision log could not record this decision; the request was not answered")
        self.written += len(group)
        self.groups += 1
        return None

    def _sync_quietly(self, decisions: Any) -> None:
        try:
            decisions.checkpoint()
        except Exception as exc:  # noqa: BLE001 - committed data is already safe from a crash; say so, go on
            log.error("decision log checkpoint (fsync) failed: %s", exc)

    def _fail_pending(self) -> None:
        with self._lock:
            group, future = self._pending, self._future
            self._pending, self._future = [], None
        self.failed += len(group)
        if future is not None:
            error = Unavailable(f"the decision log is not writable ({self._broken or 'writer stopped'})")
            self._loop.call_soon_threadsafe(_resolve, future, error)


def _resolve(future: asyncio.Future, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
