"""SHA-256, HMAC-SHA256 and CRC-32 as Numba kernels, bit-identical to hashlib, hmac and zlib (property-tested
in tests/unit/telemetry/test_hash_kernels.py).

Why: a gateway writes one decision record per request, and through hashlib and zlib that takes about
fifteen Python-level calls (two state copies, updates, digests, hex, crc32, pack, a slice store), each of
them cold in the middle of a request: ~20 µs of event-loop time for ~4 µs of work. The record encoder
(server/telemetry/record_writer.py) does all of it in one compiled call with these. Words are uint32, and every
operand is cast to uint32 (`_u`), so Numba never promotes a word to int64 or float; the wrap-around of uint32
addition is SHA-256's modular addition (~0.2 µs a block, against ~0.3-0.5 µs for int64 words masked after each
step). CRC-32 reads 8 bytes per step (slicing-by-8): ~0.09 µs for a 200-byte record, against ~0.4 µs.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numba import njit, uint32 as _u

_M32 = 0xFFFFFFFF
# `new_work`'s layout, in int64 words: the message schedule (64 uint32), the state (8 uint32), the padded tail
# (128 bytes), the inner digest (32 bytes, MID) and one word for the caller (SPARE)
_W, _S, _TAIL, MID, SPARE, WORK_WORDS = 0, 32, 36, 52, 56, 64
_K = np.array([
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
], dtype=np.uint32)
IV = np.array([0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19],
              dtype=np.uint32)


def _crc_table() -> np.ndarray:
    """zlib's CRC-32 table and its seven slicing-by-8 successors: row k maps a byte to its CRC k bytes on."""
    table = np.zeros((8, 256), dtype=np.uint32)
    for n in range(256):
        c = n
        for _ in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if c & 1 else c >> 1
        table[0, n] = c
    for k in range(1, 8):
        table[k] = (table[k - 1] >> 8) ^ table[0][table[k - 1] & 0xFF]
    return table


_CRC = _crc_table()


@njit(nogil=True, cache=True, inline="always")
def _rotr(x: int, n: int) -> int:
    return (x >> _u(n)) | (x << _u(32 - n))


@njit(nogil=True, cache=True)
def compress(state: np.ndarray, block: np.ndarray, at: int, w: np.ndarray) -> None:
    """One SHA-256 compression of the 64 bytes block[at:at+64] into state (8 uint32), in place; w: 64 uint32
    of scratch."""
    for i in range(16):
        j = at + 4 * i
        w[i] = ((_u(block[j]) << _u(24)) | (_u(block[j + 1]) << _u(16)) | (_u(block[j + 2]) << _u(8))
                | _u(block[j + 3]))
    for i in range(16, 64):
        a, b = w[i - 15], w[i - 2]
        s0 = _rotr(a, 7) ^ _rotr(a, 18) ^ (a >> _u(3))
        s1 = _rotr(b, 17) ^ _rotr(b, 19) ^ (b >> _u(10))
        w[i] = _u(w[i - 16] + s0 + w[i - 7] + s1)
    a, b, c, d, e, f, g, h = state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7]
    for i in range(64):
        t1 = _u(h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + _K[i] + w[i])
        t2 = _u((_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c)))
        h, g, f, e, d, c, b, a = g, f, e, _u(d + t1), c, b, a, _u(t1 + t2)
    state[0] += a
    state[1] += b
    state[2] += c
    state[3] += d
    state[4] += e
    state[5] += f
    state[6] += g
    state[7] += h


@njit(nogil=True, cache=True)
def finish(state: np.ndarray, done: int, msg: np.ndarray, n: int, out: np.ndarray, at: int,
           work: np.ndarray) -> None:
    """Hash msg[:n] onto a state that has already absorbed `done` bytes (a multiple of 64), pad, and write
    the 32-byte digest to out[at:at+32]. `state` is not modified; `work` is scratch (`new_work`), and msg
    may lie in its MID words."""
    w, s, tail = work[_W:_S].view(np.uint32), work[_S:_TAIL].view(np.uint32), work[_TAIL:MID].view(np.uint8)
    s[:] = state
    full = n - n % 64
    for i in range(0, full, 64):
        compress(s, msg, i, w)
    tail[:] = 0
    rest = n - full
    tail[:rest] = msg[full:n]
    tail[rest] = 0x80
    size = 64 if rest < 56 else 128
    bits = (done + n) * 8
    for i in range(8):
        tail[size - 1 - i] = (bits >> (8 * i)) & 0xFF
    compress(s, tail, 0, w)
    if size == 128:
        compress(s, tail, 64, w)
    for i in range(8):
        for k in range(4):
            out[at + 4 * i + k] = (s[i] >> _u(24 - 8 * k)) & _u(0xFF)


@njit(nogil=True, cache=True)
def hmac_into(keys: np.ndarray, msg: np.ndarray, n: int, out: np.ndarray, at: int, work: np.ndarray) -> None:
    """HMAC-SHA256 of msg[:n] into out[at:at+32], from the pre-keyed states of `keyed_states`."""
    mid = work[MID:MID + 4].view(np.uint8)
    finish(keys[:8], 64, msg, n, mid, 0, work)
    finish(keys[8:], 64, mid, 32, out, at, work)


@njit(nogil=True, cache=True)
def crc32(data: np.ndarray, start: int, end: int) -> int:
    """zlib.crc32 of data[start:end]: eight bytes per step (slicing-by-8), then byte by byte."""
    t = _CRC
    c = _u(_M32)
    i = start
    while i + 8 <= end:
        lo = c ^ (_u(data[i]) | (_u(data[i + 1]) << _u(8)) | (_u(data[i + 2]) << _u(16))
                  | (_u(data[i + 3]) << _u(24)))
        c = (t[7, lo & _u(0xFF)] ^ t[6, (lo >> _u(8)) & _u(0xFF)] ^ t[5, (lo >> _u(16)) & _u(0xFF)]
             ^ t[4, lo >> _u(24)] ^ t[3, data[i + 4]] ^ t[2, data[i + 5]] ^ t[1, data[i + 6]] ^ t[0, data[i + 7]])
        i += 8
    while i < end:
        c = t[0, (c ^ _u(data[i])) & _u(0xFF)] ^ (c >> _u(8))
        i += 1
    return np.int64(c ^ _u(_M32))


IPAD = bytes(b ^ 0x36 for b in range(256))  # RFC 2104 pads, as bytes.translate tables
OPAD = bytes(b ^ 0x5C for b in range(256))


def padded_keys(key: bytes) -> tuple[bytes, bytes]:
    """K^ipad and K^opad (RFC 2104): the key, hashed if longer than SHA-256's 64-byte block, zero-padded."""
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    return block.translate(IPAD), block.translate(OPAD)


def keyed_states(key: bytes) -> np.ndarray:
    """The SHA-256 states after absorbing K^ipad and K^opad (16 uint32: inner, then outer), hashed once per
    key; every HMAC starts from them."""
    states = []
    for padded in padded_keys(key):
        s = IV.copy()
        compress(s, np.frombuffer(padded, dtype=np.uint8), 0, np.empty(64, dtype=np.uint32))
        states.append(s)
    return np.concatenate(states)


def new_work() -> np.ndarray:
    """Scratch for the kernels here, so a record allocates nothing (layout above: schedule, state, padded tail,
    inner digest at MID, one word for the caller at SPARE). One per thread."""
    return np.zeros(WORK_WORDS, dtype=np.int64)
