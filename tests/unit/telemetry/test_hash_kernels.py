"""The Numba SHA-256, HMAC-SHA256 and CRC-32 kernels equal hashlib, hmac and zlib, bit for bit, for keys
and messages of every length class (across the 55/56/64-byte padding boundaries and over one block)."""

from __future__ import annotations

import hashlib
import hmac
import zlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from server.telemetry.hash_kernels import IV, crc32, finish, hmac_into, keyed_states, new_work

lengths = st.one_of(st.integers(0, 200), st.sampled_from([55, 56, 63, 64, 65, 119, 120, 128]))


def as_array(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8) if data else np.zeros(0, dtype=np.uint8)


@settings(max_examples=300, deadline=None)
@given(key=st.binary(max_size=150), n=lengths, data=st.data())
def test_hmac_equals_the_standard_library(key: bytes, n: int, data: st.DataObject) -> None:
    msg = data.draw(st.binary(min_size=n, max_size=n))
    out, work = np.zeros(40, dtype=np.uint8), new_work()
    work[:] = -1  # scratch left dirty by an earlier record changes nothing
    hmac_into(keyed_states(key), as_array(msg), n, out, 5, work)
    assert out[5:37].tobytes() == hmac.new(key, msg, "sha256").digest()
    assert not out[:5].any() and not out[37:].any()  # nothing written outside its 32 bytes


@settings(max_examples=100, deadline=None)
@given(n=lengths, data=st.data())
def test_sha256_equals_hashlib(n: int, data: st.DataObject) -> None:
    msg = data.draw(st.binary(min_size=n, max_size=n))
    out = np.zeros(32, dtype=np.uint8)
    finish(IV, 0, as_array(msg), n, out, 0, new_work())
    assert out.tobytes() == hashlib.sha256(msg).digest()


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), cut=st.tuples(st.integers(0, 300), st.integers(0, 300)))
def test_crc32_equals_zlib_on_any_slice(data: bytes, cut: tuple[int, int]) -> None:
    start, end = sorted(min(c, len(data)) for c in cut)
    assert crc32(as_array(data), start, end) == zlib.crc32(data[start:end])
