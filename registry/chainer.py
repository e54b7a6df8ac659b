"""The chainer: reads a gateway's decision journal and appends its records to the hash chain, in a process
of its own, so the sha256 and SQLite work never competes with the gateway's event loop for the GIL.

    python -m registry.chainer --home HOME --chain decisions-w0 --journal DIR [--interval S]

The gateway starts one per worker and talks to it through pipes: the chainer prints `ready`, then
`chained <records> <groups>` after each group it commits, `recovered <records> <journal>` for an orphan
journal it finished, `idle` when it has dropped to the idle scheduling class, and `error <text>` for a
problem it is retrying.

Priority: chaining is bookkeeping behind a reply that was already made safe by the journal, so by default
(`--priority idle`) the chainer runs in the idle scheduling class (SCHED_IDLE): it takes only CPU time
nobody else wants and never preempts the gateway or its callers. At the throughput ceiling a nice-19
chainer still woke up into the gateway's core every poll, which cost about 5% of throughput and showed in
p99. If idle time runs out for long, the backlog grows; the gateway then restarts the chainer with
`--priority normal` (nice 19, SCHED_OTHER: a fair share), and that chainer drops itself back to idle
once it has kept up for CALM_S seconds (an unprivileged process can leave SCHED_OTHER for
SCHED_IDLE, but not come back, hence the restart). End of stdin means the gateway has
stopped writing (a graceful stop, or the gateway died): the chainer chains the rest, checkpoints, removes
the journal and exits 0. It ignores SIGINT and SIGTERM, so a Ctrl-C or a service stop that reaches the
whole process group cannot cut that short.

Position: each group commits together with `journal_positions` (journal id, segment, offset), so a crash at
any point neither loses nor repeats a record. A segment is deleted only after a checkpoint that covers it.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

from registry.decisions import DecisionLog
from registry.journal import CHAINER_LOCK, JOURNALS, read_frames, segment_path, segments, try_lock, writer_alive


STEP_BUDGET_S = 0.25  # longest run of chaining between progress reports, syncs and stdin checks
CALM_S = 5.0  # an escalated chainer returns to the idle class after keeping up (no step over budget) this long


class JournalChainer:
    """Chains one journal into one DecisionLog, from where the log says it stopped."""

    def __init__(self, log: DecisionLog, journal: Path, max_group: int = 4096) -> None:
        self.log, self.journal, self.id = log, journal, journal.name
        self._max_group = max_group
        position = log.journal_position(self.id)
        present = segments(journal)
        self.segment, self.offset = position if position else ((present[0] if present else 1), 0)
        self.chained = self.groups = 0
        self.more = False  # the last step stopped at its budget with frames left
        self.problems: list[str] = []

    def step(self, final: bool = False, budget_s: float | None = None) -> int:
        """Chain every whole frame present; return how many records. `final`: the writer is gone, so a short
        or bad frame at the end is a tear (reported), not a write still landing. `budget_s`: return after
        about that long even if frames remain (`more` says so), so a journal that grows as fast as it is
        chained cannot keep the caller from its syncs, checkpoints and progress reports."""
        total = 0
        self.more = False
        started = time.monotonic()
        while True:
            later = [n for n in segments(self.journal) if n > self.segment]  # listed before reading: complete
            read = read_frames(segment_path(self.journal, self.segment), self.offset)
            if read.frames:
                total += self._apply(read.frames)
                if budget_s is not None and time.monotonic() - started >= budget_s:
                    self.more = True
                    return total
                continue
            if read.bad is not None and (later or final):
                self._report(read.bad)
            if not later:
                return total
            self.segment, self.offset = later[0], 0
            self.log.append_rows([], (self.id, self.segment, 0))

    def _apply(self, frames: list[tuple[int, list[tuple[Any, ...]]]]) -> int:
        rows: list[tuple[Any, ...]] = []
        end = self.offset
        for end, records in frames:
            rows += records  # wire records: DecisionRecord field order, time as time_ns (chain_rows formats it)
            if len(rows) >= self._max_group:
                self._commit(rows, end)
                rows = []
        if rows or end != self.offset:
            self._commit(rows, end)
        return sum(len(r) for _, r in frames)

    def _commit(self, rows: list[tuple[Any, ...]], end: int) -> None:
        self.log.append_rows(rows, (self.id, self.segment, end))
        self.offset = end
        self.chained += len(rows)
        self.groups += 1 if rows else 0

    def _report(self, bad: str) -> None:
        self.problems.append(f"journal {self.id} segment {self.segment}: {bad}; the rest of that segment was "
                             "not chained")

    def sync_journal(self) -> None:
        """fdatasync the segments not yet chained and checkpointed (the `interval` fsync policy)."""
        for n in segments(self.journal):
            if n >= self.segment:
                fd = os.open(segment_path(self.journal, n), os.O_RDONLY)
                try:
                    os.fdatasync(fd)
                finally:
                    os.close(fd)

    def checkpoint(self) -> None:
        """fsync the chain, then delete the segments it fully covers."""
        self.log.checkpoint()
        for n in segments(self.journal):
            if n < self.segment:
                segment_path(self.journal, n).unlink(missing_ok=True)

    def finish(self) -> None:
        """The writer is gone: chain the rest, checkpoint, remove the journal and its position row."""
        self.step(final=True)
        self.log.checkpoint()
        shutil.rmtree(self.journal, ignore_errors=True)
        self.log.forget_journal(self.id)


def recover_orphans(home: Path, report: Callable[[str], None] = lambda _: None, skip: str = "") -> int:
    """Chain and remove every journal under home whose writer is gone and that no chainer holds (a gateway
    and its chainer both killed), each into its own chain; return how many records that was. Problems
    (torn frames) and a line per journal go to `report`."""
    total = 0
    root = Path(home) / JOURNALS
    for journal in sorted(root.glob("*/*")) if root.is_dir() else []:
        if journal.name == skip or not journal.is_dir() or writer_alive(journal):
            continue
        lock = try_lock(journal / CHAINER_LOCK)
        if lock is None:
            continue  # its own chainer is still finishing it
        try:
            log = DecisionLog(Path(home) / f"{journal.parent.name}.db")
            try:
                chainer = JournalChainer(log, journal)
                chainer.finish()
            finally:
                log.close()
        finally:
            os.close(lock)
        for problem in chainer.problems:
            report(f"error {problem}")
        total += chainer.chained
        report(f"recovered {chainer.chained} {journal.parent.name}/{journal.name}")
    return total


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ap = argparse.ArgumentParser(prog="python -m registry.chainer")
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--chain", required=True)
    ap.add_argument("--journal", type=Path, required=True)
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between journal fsync + checkpoint")
    ap.add_argument("--poll", type=float, default=0.2,
                    help="seconds between reads of the journal (longer: bigger groups, less CPU per record)")
    ap.add_argument("--nice", type=int, default=19, help="priority below the gateway's serving threads")
    ap.add_argument("--max-group", type=int, default=4096, help="records per transaction at most")
    ap.add_argument("--priority", choices=("idle", "normal"), default="idle",
                    help="idle: SCHED_IDLE from the start; normal: nice only, until caught up (see above)")
    args = ap.parse_args(argv)
    os.nice(args.nice)  # bookkeeping yields the CPU to serving; the backlog bound catches a chainer left behind
    idle = args.priority == "idle" and _go_idle()
    say = _printer()
    lock = try_lock(args.journal / CHAINER_LOCK)
    if lock is None:
        say(f"error journal {args.journal} is already being chained by another process")
        return 2
    try:
        log = DecisionLog(args.home / f"{args.chain}.db")
    except Exception as exc:  # noqa: BLE001 - tell the gateway why, in one line
        say(f"error the decision log {args.home / (args.chain + '.db')} cannot be opened: {exc}")
        return 1
    say("ready")
    recover_orphans(args.home, say, skip=args.journal.name)
    _serve(JournalChainer(log, args.journal, args.max_group), args.interval, args.poll, say, idle)
    log.close()
    return 0


def _go_idle() -> bool:
    """Move this (single-threaded) process to SCHED_IDLE; False where that does not exist (not Linux)."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        return False
    return True


def _serve(chainer: JournalChainer, interval: float, poll: float, say: Callable[[str], None], idle: bool) -> None:
    stdin = sys.stdin.fileno()
    last_sync, eof, backoff = time.monotonic(), False, poll
    behind_at = time.monotonic()  # when a step last ended with frames left (or the start)
    while True:
        if not eof and select.select([stdin], [], [], 0.0 if chainer.more else backoff)[0]:
            eof = not os.read(stdin, 4096)
        try:
            if eof:
                chainer.finish()
            elif chainer.step(budget_s=STEP_BUDGET_S):
                say(f"chained {chainer.chained} {chainer.groups}")
            if chainer.more:
                behind_at = time.monotonic()
            elif not idle and time.monotonic() - behind_at >= CALM_S and _go_idle():  # caught up for a while
                idle = True
                say("idle")
            if not eof and time.monotonic() - last_sync >= interval:
                chainer.sync_journal()
                chainer.checkpoint()
                last_sync = time.monotonic()
            backoff = poll
        except Exception as exc:  # noqa: BLE001 - the records are safe in the journal: say so, retry
            say(f"error chaining journal {chainer.id}: {exc}")
            backoff = min(max(backoff * 2, 0.1), 2.0)
            if eof:
                time.sleep(backoff)
            continue
        for problem in chainer.problems:
            say(f"error {problem}")
        chainer.problems.clear()
        if eof:
            say(f"chained {chainer.chained} {chainer.groups}")
            return


def _printer() -> Callable[[str], None]:
    out = sys.stdout

    def say(line: str) -> None:
        try:
            out.write(line.replace("\n", " ") + "\n")
            out.flush()
        except (BrokenPipeError, OSError):
            pass  # the gateway is gone: keep chaining, nobody is listening

    return say


if __name__ == "__main__":
    sys.exit(main())
