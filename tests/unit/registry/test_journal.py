"""The decision journal and the chainer (in process here; the recorder tests run it as a child): frames round
trip, segments rotate and are deleted once chained and checkpointed, positions make chaining resumable
without repeats, torn frames are waited for while the writer lives and reported once it is gone, and dead
gateways' journals are recovered into their own chains."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.audit import recover_journals
from registry.chainer import JournalChainer, recover_orphans
from registry.decisions import DecisionLog
from registry.journal import JournalWriter, encode, read_frames, segment_path, segments, writer_alive

text = st.text(max_size=40)
wire = st.tuples(st.integers(0, 2**62), text, text, text, st.integers(0, 10**6), text, text, text,
                 st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
                 st.one_of(st.none(), st.sampled_from(["positive", "negative"])), text, st.integers(0, 10**9))


def rec(i: int, t: int | None = None) -> tuple[Any, ...]:
    return (t if t is not None else time.time_ns(), f"r-{i}", "c", "cards", 1, "d" * 64, "champion", "kid:x",
            0.5, "negative", "OK", 10)


def ids(log: DecisionLog) -> list[str]:
    assert log.verify().ok
    return [e["request_id"] for e in log.entries()]


@settings(max_examples=40, deadline=None)
@given(groups=st.lists(st.lists(wire, min_size=1, max_size=5), min_size=1, max_size=8))
def test_frames_round_trip_with_their_end_offsets(tmp_path_factory: Any, groups: list[list[tuple]]) -> None:
    w = JournalWriter(tmp_path_factory.mktemp("j"), "decisions")
    try:
        ends = []
        for g in groups:
            w.append(encode(g))
            ends.append(w.offset)
        read = read_frames(segment_path(w.path, 1), 0)
        assert read.bad is None and [e for e, _ in read.frames] == ends
        assert [list(r) for _, r in read.frames] == groups
    finally:
        w.close()


def test_segments_rotate_and_chained_ones_are_deleted_after_a_checkpoint(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, "decisions", segment_bytes=4096)
    log = DecisionLog.in_home(tmp_path)
    chainer = JournalChainer(log, w.path, max_group=7)
    for i in range(200):
        w.append(encode([rec(i)]))
    assert len(segments(w.path)) > 3
    assert chainer.step() == 200 and chainer.groups > 200 // 7
    chainer.checkpoint()
    assert segments(w.path) == [w.segment]  # only the one being written is left
    for i in range(200, 210):
        w.append(encode([rec(i)]))
    assert chainer.step() == 10
    assert ids(log) == [f"r-{i}" for i in range(210)]
    w.close()
    log.close()


def test_a_new_chainer_resumes_from_the_stored_position_without_repeats(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, "decisions", segment_bytes=2048)
    log = DecisionLog.in_home(tmp_path)
    for i in range(30):
        w.append(encode([rec(i)]))
    assert JournalChainer(log, w.path).step() == 30
    for i in range(30, 60):
        w.append(encode([rec(i)]))
    again = JournalChainer(log, w.path)  # a restarted chainer
    assert again.step() == 30
    assert ids(log) == [f"r-{i}" for i in range(60)]
    assert log.journal_position(w.id) == (w.segment, w.offset)
    w.close()
    log.close()


def test_a_torn_frame_waits_while_the_writer_lives_and_is_reported_once_it_is_gone(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, "decisions")
    log = DecisionLog.in_home(tmp_path)
    chainer = JournalChainer(log, w.path)
    w.append(encode([rec(0)]))
    w.append(encode([rec(1)]))
    with open(segment_path(w.path, 1), "r+b") as f:  # the same page cache as the writer's mapping
        f.seek(w.offset - 1)
        last = f.read(1)[0]
        f.seek(w.offset - 1)
        f.write(bytes([last ^ 0xFF]))  # a payload that no longer matches its CRC (still landing, or torn)
    assert chainer.step() == 1 and chainer.problems == []
    w.close()
    assert not writer_alive(w.path)
    chainer.finish()
    assert len(chainer.problems) == 1 and "failing its CRC" in chainer.problems[0]
    assert ids(log) == ["r-0"] and not w.path.exists()
    assert log.journal_position(w.id) is None
    log.close()


def test_orphans_are_recovered_into_their_own_chains_and_live_journals_are_left(tmp_path: Path) -> None:
    dead = JournalWriter(tmp_path, "decisions-w0-111")
    for i in range(5):
        dead.append(encode([rec(i, t=1_700_000_000_000_000_000 + i)]))
    dead.close()  # its process is gone: the writer lock is free
    live = JournalWriter(tmp_path, "decisions-w0-222")
    live.append(encode([rec(99)]))
    assert writer_alive(live.path) and not writer_alive(dead.path)
    lines = recover_journals(tmp_path)
    assert lines == [f"recovered 5 decisions-w0-111/{dead.id}"]
    log = DecisionLog.in_home(tmp_path, "w0-111")
    assert ids(log) == [f"r-{i}" for i in range(5)]
    assert log.entries(1)[0]["time"] == "2023-11-14T22:13:20.000000+00:00"  # time_ns formatted by the chainer
    log.close()
    assert live.path.exists() and not dead.path.exists()
    assert recover_orphans(tmp_path) == 0  # nothing left that it may take
    live.close()
    assert recover_orphans(tmp_path) == 1


def test_a_zero_filled_segment_reads_as_empty(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, "decisions")
    path = segment_path(w.path, 1)
    assert os.path.getsize(path) > 0  # pre-sized
    assert read_frames(path, 0) == ([], 0, None)
    w.close()


def test_a_step_stops_at_its_budget_and_the_next_one_resumes(tmp_path: Path) -> None:
    """A journal that grows as fast as it is chained must not keep the chainer from reporting progress,
    syncing and checkpointing: a step returns at its budget with `more` set, and nothing is lost or repeated."""
    w = JournalWriter(tmp_path, "decisions")
    for i in range(3_000):  # ~750 KB: many 64 KiB reads
        w.append(encode([rec(i)]))
    log = DecisionLog(tmp_path / "decisions.db")
    chainer = JournalChainer(log, w.path)
    first = chainer.step(budget_s=0.0)
    assert 0 < first < 3_000 and chainer.more
    rest = 0
    while chainer.more:
        rest += chainer.step(budget_s=0.0)
    assert first + rest == 3_000 and chainer.step(budget_s=0.0) == 0 and not chainer.more
    w.close()
    assert ids(log) == [f"r-{i}" for i in range(3_000)]
