"""The decision record of a one-row request answered OK, encoded, digested and framed into the journal by
one compiled call: the gateway's hot path for records.

Why: through hashlib, marshal and zlib a record takes about fifteen Python-level calls, each run cold between
the gRPC, protobuf and ONNX Runtime code of the same request (~20 µs of event-loop time for ~4 µs of work).
Here the Python side encodes two strings and makes one call. The layout is registry/journal.py's binary
record, which the chainer decodes into the same wire record as the general (marshal) path; a test proves
the two paths give equal records for the same request.
"""

from __future__ import annotations

import struct

import numpy as np
from numba import njit
from numba import types as nt

from registry.journal import HEADER_BYTES, NO_ROOM, RECORD_FIXED, RECORD_MAGIC
from server.telemetry.hash_kernels import SPARE, crc32, hmac_into

_FIXED = RECORD_FIXED.size
_MAC_AT = _FIXED - 32
TOO_LONG = -2
_TEXT = nt.Bytes(nt.uint8, 1, "C", readonly=True)
# One signature, compiled (or loaded from Numba's cache) at import: the codecs give every request float64
# rows in C order; anything else raises TypeError instead of compiling on a live request.
_SIGNATURE = nt.int64(nt.uint8[::1], nt.int64, nt.int64, nt.float64[:, ::1], nt.uint32[::1], nt.int64[::1],
                      nt.int64, nt.int64, nt.int64, nt.float64, nt.boolean, _TEXT, _TEXT, _TEXT)
_MAX_TEXT = 0xFFFF


def route_tail(key_id: str, model: str, digest: str, route: str, status: str) -> bytes:
    """The record's last five strings, encoded once per route (they are the same for all its requests)."""
    out = b""
    for text in (key_id, model, digest, route, status):
        raw = text.encode()
        if len(raw) > _MAX_TEXT:
            raise ValueError(f"{text[:40]!r}... is longer than a binary record allows ({_MAX_TEXT} bytes)")
        out += struct.pack("<H", len(raw)) + raw
    return out


@njit(nogil=True, cache=True, inline="always")
def _put_int(buf: np.ndarray, at: int, value: int, size: int) -> None:
    for i in range(size):
        buf[at + i] = (value >> (8 * i)) & 0xFF


@njit(nogil=True, cache=True, inline="always")
def _put_text(buf: np.ndarray, at: int, text: bytes) -> int:
    n = len(text)
    buf[at] = n & 0xFF
    buf[at + 1] = n >> 8
    for i in range(n):
        buf[at + 2 + i] = text[i]
    return at + 2 + n


@njit(_SIGNATURE, nogil=True, cache=True)
def write_record(buf: np.ndarray, start: int, room: int, x: np.ndarray, keys: np.ndarray, work: np.ndarray,
                 time_ns: int, version: int, latency_us: int, output: float, positive: bool,
                 request_id: bytes, caller: bytes, tail: bytes) -> int:
    """Frame one record at buf[start:]: payload first, header last (a reader that sees a length sees a frame
    whose CRC it can check). The input digest is HMAC-SHA256 (`keys` from hash_kernels.keyed_states) over
    the row x[0] as little-endian float64 bytes; `work` is hash_kernels.new_work() scratch, so nothing is
    allocated. Returns the frame's end, NO_ROOM if it would not leave room for the zero header that ends
    the data before `room`, TOO_LONG if a string exceeds 65,535 bytes."""
    if len(request_id) > _MAX_TEXT or len(caller) > _MAX_TEXT:
        return TOO_LONG
    size = _FIXED + 4 + len(request_id) + len(caller) + len(tail)
    end = start + HEADER_BYTES + size
    if end + HEADER_BYTES > room:
        return NO_ROOM
    p = start + HEADER_BYTES
    bits = work[SPARE:SPARE + 1]
    bits.view(np.float64)[0] = output if np.isfinite(output) else np.nan
    buf[p] = RECORD_MAGIC
    _put_int(buf, p + 1, time_ns, 8)
    _put_int(buf, p + 9, version, 8)
    _put_int(buf, p + 17, latency_us, 8)
    _put_int(buf, p + 25, bits[0], 8)
    buf[p + 33] = 1 if positive else 0
    hmac_into(keys, x[0].view(np.uint8), 8 * x.shape[1], buf, p + _MAC_AT, work)
    q = _put_text(buf, p + _FIXED, request_id)
    q = _put_text(buf, q, caller)
    for i in range(len(tail)):
        buf[q + i] = tail[i]
    _put_int(buf, start + 4, crc32(buf, p, end), 4)
    _put_int(buf, start, size, 4)
    return end
