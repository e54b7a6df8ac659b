"""The one-call record writer: its binary record decodes to the same wire record the general (marshal) path
writes for the same request, rotation and the too-long fallback behave, and the recorder's two paths put
equal entries in the chain."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.decisions import DecisionLog
from registry.journal import JournalWriter, decode_record, encode, read_frames, segment_path, segments
from server.telemetry.hash_kernels import keyed_states, new_work
from server.telemetry.record_writer import TOO_LONG, route_tail, write_record
from server.telemetry.recorder import DecisionRecorder, RecorderConfig, RowDigest

KEY, KEY_ID = b"k" * 32, "kid-1"
KEYS, WORK = keyed_states(KEY), new_work()
text = st.text(max_size=30)
floats = st.floats(allow_nan=True, allow_infinity=True)


def general(t: int, rid: str, caller: str, model: str, version: int, digest: str, route: str, row: np.ndarray,
            output: float, positive: bool, latency: int) -> tuple[Any, ...]:
    """The wire record DecisionRecorder.record builds for the general path."""
    return (t, rid, caller, model, version, digest, route, RowDigest(KEY, KEY_ID)(row.astype("<f8").tobytes()),
            output if math.isfinite(output) else None, "positive" if positive else "negative", "OK", latency)


def write(w: JournalWriter, t: int, rid: str, caller: str, model: str, version: int, digest: str, route: str,
          row: np.ndarray, output: float, positive: bool, latency: int) -> int:
    return w.append_in_place(write_record, row, KEYS, WORK, t, version, latency, output, positive, rid.encode(),
                             caller.encode(), route_tail(KEY_ID, model, digest, route, "OK"))


@settings(max_examples=60, deadline=None)
@given(t=st.integers(0, 2**62), rid=text, caller=text, model=text, version=st.integers(0, 10**6), digest=text,
       route=text, row=st.lists(floats, min_size=1, max_size=40), output=floats, positive=st.booleans(),
       latency=st.integers(0, 10**9))
def test_the_binary_record_reads_back_as_the_general_paths_record(tmp_path_factory: Any, t: int, rid: str,
                                                                   caller: str, model: str, version: int,
                                                                   digest: str, route: str, row: list[float],
                                                                   output: float, positive: bool,
                                                                   latency: int) -> None:
    x = np.array([row], dtype=np.float64)
    args = (t, rid, caller, model, version, digest, route, x, output, positive, latency)
    w = JournalWriter(tmp_path_factory.mktemp("j"), "decisions")
    try:
        end = write(w, *args)
        w.append(encode([general(*args)]))
        read = read_frames(segment_path(w.path, 1), 0)
    finally:
        w.close()
    assert read.bad is None and read.frames[0][0] == end
    (_, fast), (_, slow) = read.frames
    assert fast == slow == [general(*args)]


def test_frames_written_in_place_rotate_segments_and_all_read_back(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, "decisions", segment_bytes=4096)
    x = np.arange(10.0).reshape(1, 10)
    try:
        for i in range(100):
            assert write(w, i, f"r-{i}", "c", "cards", 1, "d" * 64, "champion", x, 0.5, True, 7) > 0
        numbers = segments(w.path)
    finally:
        w.close()
    assert len(numbers) > 3
    got = [r[0][1] for n in numbers for _, r in read_frames(segment_path(w.path, n), 0).frames]
    assert got == [f"r-{i}" for i in range(100)]


def test_a_string_too_long_for_the_layout_writes_nothing(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, "decisions")
    try:
        before = w.offset
        assert write(w, 1, "r" * 70_000, "c", "m", 1, "d", "champion", np.zeros((1, 3)), 0.5, True, 1) == TOO_LONG
        assert w.offset == before and read_frames(segment_path(w.path, 1), 0).frames == []
        with pytest.raises(ValueError, match="longer than a binary record allows"):
            route_tail(KEY_ID, "m" * 70_000, "d", "champion", "OK")
    finally:
        w.close()


@pytest.mark.parametrize("cut", [1, 10, 70, 150])
def test_a_malformed_binary_record_is_an_error_not_a_record(cut: int) -> None:
    w = np.zeros(512, dtype=np.uint8)
    end = write_record(w, 0, 512, np.zeros((1, 3)), KEYS, WORK, 1, 1, 1, 0.5, True, b"r", b"c",
                       route_tail(KEY_ID, "m", "d", "champion", "OK"))
    payload = w[8:end].tobytes()
    assert decode_record(payload)[1] == "r"
    with pytest.raises(ValueError):
        decode_record(payload[:-cut])
    with pytest.raises(ValueError):
        decode_record(payload + b"\0")


def test_the_recorders_one_call_and_general_paths_chain_equal_entries(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    framed: list[bytes] = []

    def spy(*args: Any) -> int:
        end = write_record(*args)  # TypeError for rows not float64 in C order: the recorder's general path
        framed.append(args[-3])
        return end

    monkeypatch.setattr("server.telemetry.recorder.write_record", spy)
    x = np.array([[0.25, -3.5, 7.0, -0.0]])  # exact in float32 too
    strided = np.array([[0.25, 9.0, -3.5, 9.0, 7.0, 9.0, -0.0, 9.0]])[:, ::2]  # not C order: general path

    async def main() -> None:
        r = DecisionRecorder(tmp_path, "decisions", RecorderConfig(), KEY, KEY_ID, asyncio.get_running_loop())
        r.start()
        try:
            for rid, rows in (("fast", x), ("general", strided), ("general-f4", x.astype(np.float32))):
                r.record(rid, "caller", "cards", 3, "d" * 64, "canary", rows, np.array([0.75], dtype=np.float32),
                         np.array([True]), "OK", 1234)
            assert r.journaled == 3
        finally:
            await r.close()

    asyncio.run(main())
    assert framed == [b"fast"]
    log = DecisionLog.in_home(tmp_path)
    try:
        assert log.verify().ok
        entries = {e["request_id"]: e for e in log.entries()}
    finally:
        log.close()
    fields = ("caller", "model", "version", "digest", "route", "input_digest", "output", "decision",
              "status", "latency_us")
    fast, f4 = entries["fast"], entries["general-f4"]
    assert [fast[k] for k in fields] == [f4[k] for k in fields] == [entries["general"][k] for k in fields]
    assert fast["input_digest"] == RowDigest(KEY, KEY_ID)(x.astype("<f8").tobytes())
