"""The decision chainer child (registry/chainer.py) as the gateway sees it: started with the recorder, read
for its progress lines by a watch thread, restarted if it dies, nudged when a reader needs the chain
current, escalated out of the idle scheduling class when it falls behind, and closed (stdin EOF: it chains
the rest and exits) at a graceful stop."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from server.errors import Unavailable

log = logging.getLogger("scoregate.decisions")


class ChainerProcess:
    """The chainer child (registry/chainer.py) and the thread that reads its reports and restarts it."""

    def __init__(self, home: Path, chain: str, journal: Path, max_group: int, interval: float) -> None:
        self._argv = [sys.executable, "-m", "registry.chainer", "--home", str(home), "--chain", chain,
                      "--journal", str(journal), "--max-group", str(max_group), "--interval", str(interval)]
        self.priority = "idle"  # what the next spawn gets; "normal" after an escalation, until it reports idle
        self.escalations = 0
        self._escalating = False
        self._closing = False
        self._progress = threading.Condition()
        self.chained = self.groups = self.recovered = self.errors = self.restarts = 0
        self._base = (0, 0)  # counts of earlier (restarted) chainers
        self._proc = self._spawn()
        self._thread = threading.Thread(target=self._watch, name="scoregate-chainer-watch", daemon=True)
        self._thread.start()

    def _spawn(self) -> subprocess.Popen:
        proc = subprocess.Popen([*self._argv, "--priority", self.priority], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, bufsize=1)
        first = proc.stdout.readline().strip()  # type: ignore[union-attr]
        if first != "ready":
            proc.kill()
            proc.wait()
            raise Unavailable(f"the decision chainer did not start: {first.removeprefix('error ') or 'no answer'}")
        return proc

    def _watch(self) -> None:
        while True:
            self._read(self._proc.stdout)  # type: ignore[arg-type]
            code = self._proc.wait()
            if self._closing:
                return
            if self._escalating:
                self._escalating = False
            else:
                self.restarts += 1
                log.error("decision chainer exited (code %s); restarting it (records are safe in the journal)", code)
            self._base = (self.chained, self.groups)
            while not self._closing:
                try:
                    self._proc = self._spawn()
                    break
                except (Unavailable, OSError) as exc:
                    log.error("%s; retrying in 1 s", exc)
                    threading.Event().wait(1.0)
            else:
                return

    def _read(self, out: IO[str]) -> None:
        for line in out:
            word, _, rest = line.strip().partition(" ")
            if word == "chained":
                n, g = rest.split()
                with self._progress:
                    self.chained, self.groups = self._base[0] + int(n), self._base[1] + int(g)
                    self._progress.notify_all()
            elif word == "idle":
                self.priority = "idle"
            elif word == "recovered":
                self.recovered += int(rest.split()[0])
                log.warning("decision chainer: %s", line.strip())
            elif word == "error":
                self.errors += 1
                log.error("decision chainer: %s", rest)

    def escalate(self, why: str) -> None:
        """The idle-class chainer is falling behind (no idle CPU for it): restart it at normal priority (it
        drops back to idle by itself once caught up). Killing it is safe: every group commits with its
        journal position, so the next chainer resumes exactly there. Cheap to call again: once per episode."""
        if self.priority != "idle" or self._closing:
            return
        self.priority, self._escalating = "normal", True
        self.escalations += 1
        log.warning("decision chainer is behind (%s); restarting it at normal priority until it catches up", why)
        try:
            self._proc.kill()
        except OSError:
            pass

    def wait_for(self, chained: int, timeout: float) -> bool:
        """Nudge the chainer (a line on its stdin makes it read the journal now) and wait for the count;
        escalate if an idle-class chainer has not caught up within the first half second."""
        if self.chained >= chained:
            return True
        try:
            self._proc.stdin.write("\n")  # type: ignore[union-attr]
            self._proc.stdin.flush()  # type: ignore[union-attr]
        except (OSError, ValueError):
            pass  # restarting or closed: the wait below says whether it caught up anyway
        with self._progress:
            if self._progress.wait_for(lambda: self.chained >= chained, min(timeout, 0.5)):
                return True
        self.escalate("a reader is waiting for the chain")
        with self._progress:
            return self._progress.wait_for(lambda: self.chained >= chained, max(timeout - 0.5, 0.0))

    def close(self, timeout: float = 300.0) -> None:
        """Close its stdin (it chains the rest, checkpoints, removes the journal, exits) and wait for it."""
        self._closing = True
        proc = self._proc
        try:
            proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("decision chainer still chaining after %.0f s; it goes on in the background, and anything "
                      "it leaves is chained at the next start or by `scoregate audit verify`", timeout)
            return
        self._thread.join(5.0)
