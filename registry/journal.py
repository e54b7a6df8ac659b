"""The decision journal: where a gateway hands each group of decision records to the operating system before
it replies, so no reply waits for SQLite, the hash chain, or another thread.

Why: building the chain in the gateway (a writer thread doing sha256 + SQLite per group) cost 31-39% of the
throughput ceiling, mostly from contending for the GIL, even when replies did not wait for it. The loop now
copies each request's frame into a memory mapping of an append-only file; a separate process
(`registry.chainer`) reads the file and builds the chain in `<home>/<chain>.db`, off the gateway's
interpreter entirely.

Layout: `<home>/journals/<chain>/<journal id>/` holds numbered segments (`00000001.seg`, ...), `writer.lock`
(held by the gateway process appending to it) and `chainer.lock` (held by the process chaining it). A
journal whose writer lock is free belongs to a process that is gone: whoever opens the chain next (a new
gateway's chainer, or `scoregate audit verify`) chains what it holds, then removes it.

Frame: `<u32 payload length><u32 crc32(payload)><payload>`, payload = marshal.dumps(list of wire records, 2),
one per request (or batch call), copied into a memory mapping of the segment (see JournalWriter for why not write()).
Segments are pre-sized and zero-filled, so a zero length ends the data. A frame that is short or fails its
CRC ends what can be read: while the writer is alive it may still be landing; once the writer is gone it is
a tear (from a power loss, or a process killed inside the copy: its reply was never sent).

Wire record, cheap to build on the event loop and formatted by the chainer: (time_ns, request_id, caller,
model, version, digest, route, input_digest, output, decision, status, latency_us). A payload is one of:
  - marshal.dumps(list of wire records, 2): any records (rejections, batch calls, sampled logs). marshal is
    the fastest C codec for these types; a journal is read back by the same installation (a graceful stop
    chains and removes it), never exchanged.
  - a binary record (first byte RECORD_MAGIC; marshal's lists start with '[' or 0xDB): one request's single
    row answered OK, written by one compiled call (server/telemetry/record_writer.py). Little-endian:
        B magic | q time_ns | q version | q latency_us | d output (NaN: none) | B decision (0 negative,
        1 positive, 2 none) | 32s HMAC-SHA256 of the row | then 7 strings, each H length + UTF-8:
        request_id, caller, key id, model, bundle digest, route, status
    `decode_payload` turns it into the same wire record as marshal's.
"""

from __future__ import annotations

import fcntl
import marshal
import mmap
import os
import struct
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

JOURNALS = "journals"
SEGMENT_BYTES = 64 << 20  # a segment is closed past this size; chained segments are deleted
_HEADER = struct.Struct("<II")
HEADER_BYTES = _HEADER.size  # <u32 payload length><u32 crc32(payload)>, before every payload
_SUFFIX = ".seg"
WRITER_LOCK, CHAINER_LOCK = "writer.lock", "chainer.lock"


class Read(NamedTuple):
    """What `read_frames` found: (end offset, records) per whole frame, where reading stopped, and why if
    it stopped on a frame that is short or fails its CRC (None: the clean end of the data)."""

    frames: list[tuple[int, list[tuple[Any, ...]]]]
    offset: int
    bad: str | None


def journal_root(home: Path, chain: str) -> Path:
    return Path(home) / JOURNALS / chain


def segment_path(journal: Path, number: int) -> Path:
    return journal / f"{number:08d}{_SUFFIX}"


def segments(journal: Path) -> list[int]:
    """The segment numbers present, ascending."""
    try:
        names = os.listdir(journal)
    except FileNotFoundError:
        return []
    return sorted(int(n[:-len(_SUFFIX)]) for n in names if n.endswith(_SUFFIX) and n[:-len(_SUFFIX)].isdigit())


# records -> payload: the gateway calls append_payload(dump_payload(records, PAYLOAD_VERSION)). Format 2 has
# no back-references, so marshal builds no reference table per call: a quarter faster than the default.
dump_payload = marshal.dumps
PAYLOAD_VERSION = 2


NO_ROOM = -1  # what an in-place encoder returns when the frame does not fit (JournalWriter.append_in_place)
MAX_IN_PLACE_FRAME = 8 << 16  # more than a binary record's largest frame: 7 strings of at most 64 KiB
RECORD_MAGIC = 0xB1
RECORD_FIXED = struct.Struct("<BqqqdB32s")  # 66 bytes
_LEN = struct.Struct("<H")
_DECISIONS = ("negative", "positive", None)


def decode_record(payload: bytes) -> tuple[Any, ...]:
    """One binary record (see the module doc) as a wire record; ValueError if it is malformed."""
    if len(payload) < RECORD_FIXED.size:
        raise ValueError(f"a binary record of {len(payload)} bytes (at least {RECORD_FIXED.size} expected)")
    _, time_ns, version, latency_us, output, decision, mac = RECORD_FIXED.unpack_from(payload)
    if decision > 2:
        raise ValueError(f"a malformed binary record (decision {decision})")
    request_id, pos = _text(payload, RECORD_FIXED.size)
    caller, pos = _text(payload, pos)
    tail = payload[pos:]
    texts = _TAILS.get(tail)
    if texts is None:  # the route's five strings, the same for all its records: decoded once
        texts = []
        while pos < len(payload):
            text, pos = _text(payload, pos)
            texts.append(text)
        if len(texts) != 5:
            raise ValueError(f"a malformed binary record ({len(texts) + 2} strings, expected 7)")
        if len(_TAILS) >= 1024:
            _TAILS.clear()
        texts = _TAILS[tail] = tuple(texts)
    key_id, model, digest, route, status = texts
    return (time_ns, request_id, caller, model, version, digest, route, f"{key_id}:{mac.hex()}",
            None if output != output else output, _DECISIONS[decision], status, latency_us)


_TAILS: dict[bytes, tuple[str, ...]] = {}


def _text(payload: bytes, pos: int) -> tuple[str, int]:
    """The length-prefixed string at pos, and the position after it."""
    if pos + _LEN.size > len(payload):
        raise ValueError(f"a binary record ends inside a string's length (at {pos})")
    (size,) = _LEN.unpack_from(payload, pos)
    end = pos + _LEN.size + size
    if end > len(payload):
        raise ValueError(f"a binary record's string runs past its end ({size} bytes at {pos})")
    return payload[pos + _LEN.size:end].decode(), end


_MAGIC_BYTE = bytes([RECORD_MAGIC])


def decode_payload(payload: bytes) -> list[tuple[Any, ...]]:
    """A frame's payload as wire records: a binary record, or marshal's list."""
    if payload[:1] == _MAGIC_BYTE:
        return [decode_record(payload)]
    return marshal.loads(payload)


def encode(records: list[tuple[Any, ...]]) -> bytes:
    payload = dump_payload(records, PAYLOAD_VERSION)
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def read_frames(path: Path, offset: int, max_bytes: int = 64 << 10) -> Read:
    """Whole frames from `offset`, up to about max_bytes (always the next frame, whatever its size). A zero
    length (the zero-filled rest of a segment) or the end of the file is the clean end of the data."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(max_bytes)
            if len(data) >= _HEADER.size:  # a frame larger than max_bytes: read the rest of it
                need = _HEADER.size + _HEADER.unpack_from(data)[0]
                if need > len(data):
                    data += f.read(need - len(data))
    except FileNotFoundError:
        return Read([], offset, None)
    frames: list[tuple[int, list[tuple[Any, ...]]]] = []
    pos, n = 0, len(data)
    while n - pos >= _HEADER.size:
        size, crc = _HEADER.unpack_from(data, pos)
        if size == 0:
            break
        end = pos + _HEADER.size + size
        if end > n:
            if frames:
                break  # the next frame did not fit this read: the next call takes it
            return Read(frames, offset + pos, f"a short frame at byte {offset + pos} ({size} bytes announced)")
        payload = data[pos + _HEADER.size:end]
        if zlib.crc32(payload) != crc:
            return Read(frames, offset + pos, f"a frame failing its CRC at byte {offset + pos}")
        frames.append((offset + end, decode_payload(payload)))
        pos = end
    return Read(frames, offset + pos, None)


def try_lock(path: Path) -> int | None:
    """An exclusive flock on `path` (created if missing): the fd holding it, or None if someone holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def writer_alive(journal: Path) -> bool:
    """Does a live process still append to this journal? (Probes its writer lock without keeping it.)"""
    if not (journal / WRITER_LOCK).exists():
        return False
    fd = try_lock(journal / WRITER_LOCK)
    if fd is None:
        return True
    os.close(fd)
    return False


class JournalWriter:
    """Appends frames to a new journal; the event loop's side.

    Frames are copied into a shared memory mapping of the segment (pre-sized, zero-filled). A store into a
    MAP_SHARED file mapping is in the kernel's page cache when the copy returns, so a killed process loses
    nothing, exactly as after a write(), but with no system call: a write() releases and re-takes the GIL,
    and on a busy gateway that round trip per group cost more throughput (about 20%) than everything else
    the records do together. The payload is stored before its header, so a reader that finds a non-zero
    length finds the whole frame (the CRC covers the rest); a zero length is the end of the data.

    One thread appends; `sync` may be called from another (the group-fsync thread), so rotation syncs and
    swaps the mapping under a lock that only rotation (once per segment) and `sync` take."""

    def __init__(self, home: Path, chain: str, segment_bytes: int = SEGMENT_BYTES, durable: bool = False) -> None:
        root = journal_root(home, chain)
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / f"{time.time_ns():020d}-{os.getpid()}"
        self.path.mkdir(mode=0o700)
        lock = try_lock(self.path / WRITER_LOCK)
        assert lock is not None, "a fresh journal directory is locked by someone else"
        self._lock = lock
        self._limit = segment_bytes
        self._durable = durable  # per-group fsync policy: a closed segment is synced at rotation too
        self._swap = threading.Lock()
        self._number = 0
        self._map: mmap.mmap | None = None
        self._buf: np.ndarray | None = None  # the mapping as bytes, for encoders that frame in place
        self.offset = self._room = 0  # bytes used, and the mapping's size
        self._open_next(0)

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def segment(self) -> int:
        return self._number

    def _open_next(self, need: int) -> None:
        size = max(self._limit, need)
        path = segment_path(self.path, self._number + 1)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            # Blocks allocated now: a full disk is an OSError here (this group fails, the next retries), never
            # a SIGBUS when a store into the mapping finds no block behind it.
            os.posix_fallocate(fd, 0, size)
            new = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)  # the mapping keeps the file
        with self._swap:
            old = self._map
            self._buf = None  # an exported view would keep the old mapping from closing
            if old is not None:
                if self._durable:
                    old.flush()  # msync: a sync that began before the swap covers only the old segment
                old.close()
            self._map, self._number, self.offset, self._room = new, self._number + 1, 0, size
            self._buf = np.frombuffer(new, dtype=np.uint8)

    def append(self, frame: bytes) -> None:
        """Copy one encoded frame (payload, then header) into the segment; rotate when it does not fit."""
        self.append_payload(memoryview(frame)[_HEADER.size:])

    def append_payload(self, payload: bytes | memoryview) -> None:
        """Runs once per request on the event loop: kept to the fewest calls."""
        m = self._map
        assert m is not None, "journal is closed"
        size = len(payload)
        start = self.offset
        end = start + _HEADER.size + size
        if end + _HEADER.size > self._room:  # keep room for the zero header that ends the data
            self._open_next(end - start + _HEADER.size)
            m, start, end = self._map, 0, _HEADER.size + size
            assert m is not None
        m[start + _HEADER.size:end] = payload
        _HEADER.pack_into(m, start, size, zlib.crc32(payload))  # the header last: a reader sees whole frames
        self.offset = end

    def append_in_place(self, encode: Callable[..., int], *args: Any) -> int:
        """Let `encode(buf, offset, room, *args)` frame one record in the mapping itself, payload then header
        (registry/journal.py's layout). It returns the frame's end; NO_ROOM if the frame would not leave room
        for the zero header before `room` (the segment rotates and it is asked again); any other negative
        code is returned as is, with nothing written."""
        end = encode(self._buf, self.offset, self._room, *args)
        for size in (0, MAX_IN_PLACE_FRAME):  # a fresh segment, then one sized for the largest frame
            if end != NO_ROOM:
                break
            self._open_next(size)
            end = encode(self._buf, 0, self._room, *args)
        if end >= 0:
            self.offset = end
        return end

    def sync(self) -> None:
        """msync the segment being written (earlier segments were synced when they were closed)."""
        with self._swap:
            if self._map is not None:
                self._map.flush()

    def close(self) -> None:
        with self._swap:
            self._buf = None
            if self._map is not None:
                self._map.close()
                self._map = None
        if self._lock >= 0:
            os.close(self._lock)  # frees the writer lock: from now on the journal is an orphan until chained
            self._lock = -1
