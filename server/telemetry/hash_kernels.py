"""SHA-256, HMAC-SHA256 and CRC-32 as Numba kernels, bit-identical to hashlib, hmac and zlib (property-tested
in tests/unit/telemetry/test_hash_kernels.py).

Why: a gateway writes one decision record per request, and through hashlib and zlib that takes about
fifteen Python-level calls (two state copies, updates, digests, hex, crc32, pack, a slice store), each of
them cold in the middle of a request: ~20 µs of event-loop time for ~4 µs of work. The record encoder
(server/telemetry/record_writer.py) does all of it in one compiled call with these. Arithmetic is on int64 holding
32-bit words, masked after every step, so no unsigned/signed promotion can turn a word into a float.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numba import njit

_M32 = 0xFFFFFFFF
MID, SPARE, WORK_WORDS = 88, 92, 96  # `new_work`'s layout
_K = np.array([
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
], dtype=np.int64)
IV = np.array([0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19],
              dtype=np.int64)


def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.int64)
    for n in range(256):
        c = n
        for _ in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if c & 1 else c >> 1
        table[n] = c
    return table


_CRC = _crc_table()


@njit(nogil=True, cache=True, inline="always")
def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & _M32


@njit(nogil=True, cache=True)
def compress(state: np.ndarray, block: np.ndarray, at: int, w: np.ndarray) -> None:
    """One SHA-256 compression of the 64 bytes block[at:at+64] into state (8 words), in place; w: 64 words
    of scratch."""
    for i in range(16):
        j = at + 4 * i
        w[i] = (np.int64(block[j]) << 24) | (np.int64(block[j + 1]) << 16) | (np.int64(block[j + 2]) << 8) \
            | np.int64(block[j + 3])
    for i in range(16, 64):
        s0 = _rotr(w[i - 15], 7) ^ _rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
        s1 = _rotr(w[i - 2], 17) ^ _rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & _M32
    a, b, c, d, e, f, g, h = state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7]
    for i in range(64):
        t1 = (h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + _K[i] + w[i]) & _M32
        t2 = ((_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & _M32
        h, g, f, e, d, c, b, a = g, f, e, (d + t1) & _M32, c, b, a, (t1 + t2) & _M32
    state[0] = (state[0] + a) & _M32
    state[1] = (state[1] + b) & _M32
    state[2] = (state[2] + c) & _M32
    state[3] = (state[3] + d) & _M32
    state[4] = (state[4] + e) & _M32
    state[5] = (state[5] + f) & _M32
    state[6] = (state[6] + g) & _M32
    state[7] = (state[7] + h) & _M32


@njit(nogil=True, cache=True)
def finish(state: np.ndarray, done: int, msg: np.ndarray, n: int, out: np.ndarray, at: int,
           work: np.ndarray) -> None:
    """Hash msg[:n] onto a state that has already absorbed `done` bytes (a multiple of 64), pad, and write
    the 32-byte digest to out[at:at+32]. `state` is not modified; `work` is scratch (`new_work`), and msg
    may lie in its MID words."""
    w, s, tail = work[:64], work[64:72], work[72:88].view(np.uint8)
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
            out[at + 4 * i + k] = (s[i] >> (24 - 8 * k)) & 0xFF


@njit(nogil=True, cache=True)
def hmac_into(keys: np.ndarray, msg: np.ndarray, n: int, out: np.ndarray, at: int, work: np.ndarray) -> None:
    """HMAC-SHA256 of msg[:n] into out[at:at+32], from the pre-keyed states of `keyed_states`."""
    mid = work[MID:MID + 4].view(np.uint8)
    finish(keys[:8], 64, msg, n, mid, 0, work)
    finish(keys[8:], 64, mid, 32, out, at, work)


@njit(nogil=True, cache=True)
def crc32(data: np.ndarray, start: int, end: int) -> int:
    """zlib.crc32 of data[start:end]."""
    c = _M32
    for i in range(start, end):
        c = _CRC[(c ^ data[i]) & 0xFF] ^ (c >> 8)
    return c ^ _M32


IPAD = bytes(b ^ 0x36 for b in range(256))  # RFC 2104 pads, as bytes.translate tables
OPAD = bytes(b ^ 0x5C for b in range(256))


def padded_keys(key: bytes) -> tuple[bytes, bytes]:
    """K^ipad and K^opad (RFC 2104): the key, hashed if longer than SHA-256's 64-byte block, zero-padded."""
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    return block.translate(IPAD), block.translate(OPAD)


def keyed_states(key: bytes) -> np.ndarray:
    """The SHA-256 states after absorbing K^ipad and K^opad (16 words: inner, then outer), hashed once per
    key; every HMAC starts from them."""
    states = []
    for padded in padded_keys(key):
        s = IV.copy()
        compress(s, np.frombuffer(padded, dtype=np.uint8), 0, np.empty(64, dtype=np.int64))
        states.append(s)
    return np.concatenate(states)


def new_work() -> np.ndarray:
    """Scratch for the kernels here, so a record allocates nothing: 64 schedule words, 8 state words, a
    128-byte padded tail, a 32-byte inner digest (MID) and one word for the caller (SPARE). One per thread."""
    return np.zeros(WORK_WORDS, dtype=np.int64)
