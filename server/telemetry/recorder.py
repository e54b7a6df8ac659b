"""Decision records: one per scored request, handed to the operating system before the reply is sent, and
hash-chained into the registry's decision log by a separate process.

The request path copies the request's records (one frame) into the journal's shared memory mapping
(registry/journal.py): no system call, no lock, no thread hop, no wait. A one-row request answered OK, the
common case, is digested, encoded and framed by one compiled call (server/telemetry/record_writer.py); any
other goes through `add` as a marshal frame. A store into a
shared file mapping is in the kernel's page cache when it returns, so a reply leaves only after its record
was handed to the OS: killing the gateway (even SIGKILL) never loses the record of a decision whose reply
was sent. The chainer process (registry/chainer.py) reads the journal and appends the records to
`<home>/<chain>.db` by group commit (one transaction per read, about every 200 ms), off this interpreter, so
its sha256 and SQLite work never takes the GIL from the event loop. If the gateway dies, the chainer still
finishes the journal; if both die, the next start (or `scoregate audit verify`) chains what it holds.

What power loss can cost depends on `fsync`:
  - "group": replies wait for an msync of the journal that began after their records were copied (one
    per round of the sync thread, covering every request that arrived meanwhile): nothing.
  - "interval:S": the chainer fsyncs the journal and checkpoints the chain every S seconds: up to the last S
    seconds of records.
The queue bound is on records journaled but not yet chained: past `queue_max`, `on_full` applies.
Raw feature values are never stored: the input digest is HMAC-SHA256(key, row bytes), keyed and named by
key id, so equal inputs can be matched by whoever holds the key, and nobody else learns the values.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import InvalidInput
from registry.decisions import as_row
from registry.journal import PAYLOAD_VERSION, JournalWriter, dump_payload
from registry.records import DecisionRecord
from server.errors import Unavailable
from server.telemetry.chainer_process import ChainerProcess
from server.telemetry.group_sync import GroupSync
from server.telemetry.hash_kernels import keyed_states, new_work, padded_keys
from server.telemetry.record_writer import TOO_LONG, route_tail, write_record
from server.telemetry.recorder_config import RecorderConfig

log = logging.getLogger("scoregate.decisions")
KEY_FILE = "decision.key"
_F8 = np.dtype("<f8")  # the digest covers the little-endian float64 bytes of the row
MIN_KEY_BYTES = 16
_MISSING = object()  # DecisionRecorder._tails: not looked at yet
_LITTLE_ENDIAN = sys.byteorder == "little"  # the one-call writer digests the row's bytes as they lie in memory


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


class RowDigest:
    """HMAC-SHA256(key, row bytes) as "<key id>:<hex>", by RFC 2104 over two pre-keyed SHA-256 states.

    Why not hmac.digest: with OpenSSL 3 every one-shot HMAC builds a MAC context through the provider layer
    (2.6 µs alone, ~14 µs on a busy gateway, the largest part of a record's cost). HMAC is
    H((K^opad) || H((K^ipad) || m)); the two keyed states are hashed once here and copied per row (1 µs).
    A test proves equality with hmac.new for keys and messages of every length class."""

    def __init__(self, key: bytes, key_id: str) -> None:
        inner, outer = padded_keys(key)
        self._inner, self._outer = hashlib.sha256(inner), hashlib.sha256(outer)
        self._prefix = f"{key_id}:"

    def __call__(self, data: bytes) -> str:
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return self._prefix + outer.hexdigest()


def sampled(request_id: str, rate: float) -> bool:
    if rate >= 1.0:
        return True
    h = hashlib.sha256(request_id.encode()).digest()[:8]
    return int.from_bytes(h, "big") / float(1 << 64) < rate


class DecisionRecorder:
    """The gateway's side of the decision log: journal writes on the event loop, the chainer process, counts."""

    def __init__(self, home: Path, chain: str, config: RecorderConfig, key: bytes, key_id: str,
                 loop: asyncio.AbstractEventLoop) -> None:
        self._home, self._chain = Path(home), chain
        self._config = config
        self._rate = config.rate()
        self._queue_max = config.queue_max
        self._escalate_at = config.escalate_backlog if config.escalate_backlog < config.queue_max else config.queue_max + 1
        self._durable, self._interval = config.durability()
        self._digest = RowDigest(key, key_id)
        self._key_id = key_id
        self._keys, self._work = keyed_states(key), new_work()  # work: the event loop's scratch
        self._tails: dict[tuple[str, int, str], bytes | None] = {}  # the binary record's constant strings per route
        self._fast_backlog = min(self._escalate_at, self._queue_max)  # `record` frames in one call below this
        self._loop = loop
        self._journal: JournalWriter | None = None
        self._syncer: GroupSync | None = None
        self._chainer: ChainerProcess | None = None
        self._stop = False
        self.journaled = self.frames = self.dropped = self.sampled_out = self.failed = 0

    # counts the chainer reports
    @property
    def written(self) -> int:
        return self._chainer.chained if self._chainer else 0

    @property
    def groups(self) -> int:
        return self._chainer.groups if self._chainer else 0

    @property
    def backlog(self) -> int:
        return self.journaled - self.written

    def stats(self) -> dict[str, int]:
        c = self._chainer
        return {"journaled": self.journaled, "journal_writes": self.frames, "written": self.written,
                "groups": self.groups, "backlog": self.backlog, "dropped": self.dropped,
                "sampled_out": self.sampled_out, "failed": self.failed,
                "recovered": c.recovered if c else 0, "chainer_errors": c.errors if c else 0,
                "chainer_restarts": c.restarts if c else 0, "chainer_escalations": c.escalations if c else 0}

    def digest(self, row: np.ndarray) -> str:
        """The input digest of one row: HMAC-SHA256(key, little-endian float64 bytes), named by key id."""
        return self._hmac(np.asarray(row))

    def record(self, request_id: str, caller: str, model: str, version: int, digest: str, route: str,
               x: np.ndarray | None, scores: np.ndarray | None, decisions: np.ndarray | None, status: str,
               latency_us: int) -> asyncio.Future | None:
        """One request's records (one per row; a batch call's rows are `<request id>/<row>`), journaled now.
        Returns what `add` returns. Runs once per request on the event loop, so the common case (one row
        answered OK, the journal well within its bound) is framed here by one compiled call
        (server/telemetry/record_writer.py) with no further Python call; anything else, or a record that
        call declines (a row not float64 in C order, a string over 64 KiB), takes `_record_general`."""
        if self._rate < 1.0 and not self.keep(request_id):
            return None
        if decisions is not None and x.shape[0] == 1 and status == "OK":  # type: ignore[union-attr]
            tail = self._tails.get((model, version, route), _MISSING)
            if tail is _MISSING:
                tail = self._tail(model, version, digest, route)
            journal = self._journal
            if (tail is not None and journal is not None and not self._stop
                    and self.journaled - self._chainer.chained < self._fast_backlog):  # type: ignore[union-attr]
                try:
                    end = journal.append_in_place(write_record, x, self._keys, self._work, time.time_ns(), version,
                                                  latency_us, scores.item(0), decisions.item(0),  # type: ignore[union-attr]
                                                  request_id.encode(), caller.encode(), tail)
                except TypeError:
                    end = TOO_LONG
                except Exception as exc:  # noqa: BLE001 - as in add
                    raise self._failed(1, exc) from None
                if end >= 0:
                    self.journaled += 1
                    self.frames += 1
                    return self._syncer.group() if self._syncer is not None else None
        return self._record_general(request_id, caller, model, version, digest, route, x, scores, decisions, status,
                                    latency_us)

    def _tail(self, model: str, version: int, digest: str, route: str) -> bytes | None:
        """The route's constant strings for the one-call writer, cached; None (also cached): never one call."""
        try:
            tail = route_tail(self._key_id, model, digest, route, "OK") if _LITTLE_ENDIAN else None
        except ValueError:
            tail = None
        self._tails[(model, version, route)] = tail
        return tail

    def _record_general(self, request_id: str, caller: str, model: str, version: int, digest: str, route: str,
                        x: np.ndarray | None, scores: np.ndarray | None, decisions: np.ndarray | None, status: str,
                        latency_us: int) -> asyncio.Future | None:
        """`record` as a marshal frame through `add`: rejections, batch calls and whatever `record` declined."""
        now = time.time_ns()
        n = x.shape[0] if x is not None and x.ndim == 2 and x.size else 0
        if n <= 1:
            out = scores.item(0) if scores is not None else None
            return self.add([(now, request_id, caller, model, version, digest, route,
                              self._hmac(x) if n else "",  # type: ignore[arg-type]
                              out if out is not None and out - out == 0.0 else None,  # NaN, infinities: none
                              ("positive" if decisions.item(0) else "negative") if decisions is not None else None,
                              status, latency_us)])
        outputs = [s if math.isfinite(s) else None for s in scores.tolist()] if scores is not None else None
        flags = decisions.tolist() if decisions is not None else None
        xs = x if x.dtype == _F8 else x.astype(_F8)  # type: ignore[union-attr]
        return self.add([(now, f"{request_id}/{i}", caller, model, version, digest, route, self._hmac(xs[i]),
                          outputs[i] if outputs is not None else None,
                          ("positive" if flags[i] else "negative") if flags is not None else None, status,
                          latency_us)
                         for i in range(n)])

    def _hmac(self, x: np.ndarray) -> str:
        """`digest` of one row given as a row or a (1, n) array: tobytes is C order whatever the layout."""
        return self._digest((x if x.dtype == _F8 else x.astype(_F8)).tobytes())

    def keep(self, request_id: str) -> bool:
        """Is this request recorded? (Counts the ones sampled out.)"""
        if self._rate > 0.0 and sampled(request_id, self._rate):
            return True
        self.sampled_out += 1
        return False

    def start(self) -> None:
        """Open a fresh journal and start its chainer (blocks until the chainer has its lock and its log)."""
        if self._rate <= 0.0:
            return
        self._journal = JournalWriter(self._home, self._chain, durable=self._durable)
        try:
            self._chainer = ChainerProcess(self._home, self._chain, self._journal.path, self._config.max_group,
                                            self._interval)
        except BaseException:
            self._journal.close()
            shutil.rmtree(self._journal.path, ignore_errors=True)  # never written to
            self._journal = None
            raise
        if self._durable:
            self._syncer = GroupSync(self._journal, self._loop)

    def submit(self, record: DecisionRecord) -> asyncio.Future | None:
        """Queue one record (applies `keep`); await the returned future before replying. None: not kept."""
        if not self.keep(record.request_id):
            return None
        return self.add([as_row(record)])

    def submit_many(self, records: list[DecisionRecord]) -> asyncio.Future | None:
        """Queue one request's records together (all or none); the caller has already applied `keep`."""
        return self.add([as_row(r) for r in records])

    def add(self, rows: list[tuple[Any, ...]]) -> asyncio.Future | None:
        """The hot path (event loop only): rows in DecisionRecord field order, time as time.time_ns() (or
        text). When this returns, the rows are handed to the OS. Returns a future to await before replying
        only under the "group" fsync policy; None otherwise (and when dropped under on_full=sample)."""
        n = len(rows)
        journal = self._admit(n)
        if journal is None:
            return None
        try:
            journal.append_payload(dump_payload(rows, PAYLOAD_VERSION))
        except Exception as exc:  # noqa: BLE001 - a full disk, a failed mapping: this request fails, not the gateway
            raise self._failed(n, exc) from None
        self.journaled += n
        self.frames += 1
        return self._syncer.group() if self._syncer is not None else None

    def _admit(self, n: int) -> JournalWriter | None:
        """The journal to write n records to; None if they are dropped (on_full=sample), or Unavailable."""
        journal = self._journal
        if journal is None or self._stop:
            if self._rate <= 0.0:
                return None
            raise Unavailable(f"the decision log is {'stopping' if self._stop else 'not started'}; "
                              "the request was not answered unrecorded")
        backlog = self.journaled + n - self._chainer.chained  # type: ignore[union-attr]
        if backlog > self._escalate_at:
            self._chainer.escalate(f"{backlog} records not yet chained")  # type: ignore[union-attr]
        if backlog > self._queue_max:
            self.dropped += n
            if self._config.on_full == "fail":
                raise Unavailable("the decision log cannot keep up; the request was not answered unrecorded")
            return None
        return journal

    def _failed(self, n: int, exc: Exception) -> Unavailable:
        """A full disk, a failed mapping: these records' request fails, not the gateway."""
        log.error("decision journal write failed for %d records: %s", n, exc)
        self.failed += n
        return Unavailable("the decision log could not record this decision; the request was not answered")

    async def caught_up(self, timeout: float = 5.0) -> bool:
        """Wait until every record journaled so far is in the chain (nudging the chainer rather than waiting
        for its next poll); False if that took longer than timeout. For readers of the chain that follow
        their decisions closely, e.g. outcomes posted right after scoring."""
        chainer = self._chainer
        if chainer is None:
            return True
        target = self.journaled
        return await asyncio.get_running_loop().run_in_executor(None, chainer.wait_for, target, timeout)

    async def close(self) -> None:
        """Graceful stop: fsync the journal, then let the chainer chain all of it and exit."""
        self._stop = True
        loop = asyncio.get_running_loop()
        if self._syncer is not None:
            await loop.run_in_executor(None, self._syncer.close)
        if self._journal is not None:
            journal = self._journal
            await loop.run_in_executor(None, lambda: (journal.sync(), journal.close()))
        if self._chainer is not None:
            await loop.run_in_executor(None, self._chainer.close)
