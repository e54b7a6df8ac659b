"""Input digests and the decision key: raw feature values never reach a file under home.

The digest is HMAC-SHA256 over the row as little-endian float64 bytes: equal inputs match (for whoever
holds the key), different keys give unrelated digests, and the values themselves are never written.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import stat
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.decisions import DecisionLog
from registry.records import DecisionRecord, utc_now
from server.telemetry.recorder import KEY_FILE, DecisionRecorder, RecorderConfig, RowDigest, load_or_create_key

# unusual values that appear nowhere unless leaked; every needle form is distinctive (":g" of 123456.789 would
# be "123457", six digits that a timestamp or a hex digest holds by chance now and then)
MARKERS = (98765.4321, 4242.0424242, -0.000731313)


def recorder(home: Path, key: bytes, key_id: str, loop: asyncio.AbstractEventLoop, fsync: str) -> DecisionRecorder:
    r = DecisionRecorder(home, "decisions", RecorderConfig(fsync=fsync), key, key_id, loop)
    r.start()
    return r


def test_key_file_is_created_0600_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCOREGATE_DECISION_KEY", raising=False)
    key, key_id = load_or_create_key(tmp_path)
    mode = stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode)
    assert mode == 0o600, oct(mode)
    assert len(key) >= 32 and key_id == hashlib.sha256(key).hexdigest()[:12]
    assert load_or_create_key(tmp_path) == (key, key_id)  # reused, not regenerated
    other, other_id = load_or_create_key(tmp_path / "elsewhere")
    assert other != key and other_id != key_id


def test_env_key_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOREGATE_DECISION_KEY", "ab" * 32)
    key, key_id = load_or_create_key(tmp_path)
    assert key == bytes.fromhex("ab" * 32) and key_id == hashlib.sha256(key).hexdigest()[:12]
    assert not (tmp_path / KEY_FILE).exists()


def test_digest_is_stable_key_dependent_and_layout_independent() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        a = DecisionRecorder(Path("unused"), "d", RecorderConfig(), b"a" * 32, "kid-a", loop)  # never started
        b = DecisionRecorder(Path("unused"), "d", RecorderConfig(), b"b" * 32, "kid-b", loop)
        x = np.array([[1.5, MARKERS[0], np.nan], [MARKERS[0], 1.5, np.nan]])
        d = a.digest(x[0])
        expected = hmac.new(b"a" * 32, struct.pack("<3d", *x[0]), hashlib.sha256).hexdigest()
        assert d == f"kid-a:{expected}"
        assert a.digest(x[0].copy()) == d  # same input + key -> same digest
        assert a.digest(np.asfortranarray(x)[0]) == d  # strided view: same bytes, same digest
        assert a.digest(x[1]) != d  # order matters
        assert b.digest(x[0]).split(":")[1] != expected  # another key: unrelated digest
        assert a.digest(x[:1]) == d  # a (1, n) request array: the same row bytes

    asyncio.run(main())


@settings(max_examples=300, deadline=None)
@given(key=st.one_of(st.binary(min_size=16, max_size=200), st.sampled_from([b"k" * 64, b"k" * 65, b"\0" * 16])),
       data=st.binary(max_size=600))
def test_row_digest_is_hmac_sha256(key: bytes, data: bytes) -> None:
    """The pre-keyed states give exactly hmac.new's digest: keys shorter, equal to and longer than the block."""
    assert RowDigest(key, "kid")(data) == "kid:" + hmac.new(key, data, hashlib.sha256).hexdigest()
    digest = RowDigest(key, "kid")
    assert digest(data) == digest(data)  # the keyed states are copied, never consumed


def _needles() -> list[bytes]:
    """Every way a marker could be written: float64/float32 bytes either endian, decimal text, repr."""
    out: list[bytes] = []
    for m in MARKERS:
        out += [struct.pack("<d", m), struct.pack(">d", m), struct.pack("<f", m), struct.pack(">f", m)]
        out += [repr(m).encode(), f"{m:.6f}".encode(), f"{m:g}".encode(), repr(m).encode("utf-16-le")]
    return out


def _scan(home: Path) -> list[tuple[str, bytes]]:
    hits = []
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [(path.name, n) for n in _needles() if n in data]
    return hits


def test_planted_markers_appear_in_no_file_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCOREGATE_DECISION_KEY", raising=False)
    home = tmp_path / "home"
    key, key_id = load_or_create_key(home)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 6))
    x[::3, 1] = MARKERS[0]
    x[::5, 4] = MARKERS[1]
    x[::7, 0] = MARKERS[2]
    x[20] = x[10]  # a repeated input: same digest, still no value

    async def main() -> list[tuple[str, bytes]]:
        r = recorder(home, key, key_id, asyncio.get_running_loop(), fsync="interval:60")
        for i in range(len(x)):  # the gateway's own path: a (1, n) request array per call
            assert r.record(f"req-{i}", "caller", "cards", 1, "d" * 64, "champion", x[i:i + 1], np.array([0.25]),
                            np.array([False]), "OK", 700) is None
        assert await r.caught_up()
        open_hits = _scan(home)  # while open: the journal, the WAL and -shm are there too
        assert list(home.glob("journals/*/*/*.seg")), "the journal was not scanned"
        await r.close()
        return open_hits

    assert asyncio.run(main()) == []
    assert _scan(home) == []
    log = DecisionLog.in_home(home)
    digests = [e["input_digest"] for e in log.entries()]
    log.close()
    assert len(digests) == 200 and all(d.startswith(f"{key_id}:") and len(d) == len(key_id) + 65 for d in digests)
    assert digests[10] == digests[20] and len(set(digests)) == 199


def test_scan_would_find_a_leak(tmp_path: Path) -> None:
    """The scanner is not vacuous: a raw row written into the log is found."""
    log = DecisionLog.in_home(tmp_path)
    log.append_batch([DecisionRecord(utc_now(), "r", "c", "m", 1, "d", "champion", repr(MARKERS[0]), MARKERS[1],
                                     None, "OK", 1)])
    log.close()
    found = {n for _, n in _scan(tmp_path)}
    assert repr(MARKERS[0]).encode() in found  # decimal text
    assert struct.pack(">d", MARKERS[1]) in found  # SQLite's 8-byte REAL
