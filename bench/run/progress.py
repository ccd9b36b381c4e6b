"""What a running matrix shows: cells done, the current cell, its live RSS.

On a terminal one status line is redrawn in place (at most 5 times a second,
from the supervisor's sample callback, so it costs the measured child
nothing); in a log (CI, `| tee`) only whole lines are printed: one when a
cell starts and one when it ends.
"""

from __future__ import annotations

import sys
import time

from migbench.bench.records import Cell, RunRecord
from migbench.units import mib

_REDRAW_S = 0.2

# Signals the command's handler received (migbench/commands/common.py run_interruptible). The
# handler raises KeyboardInterrupt at once; but a signal that lands while the interpreter runs
# an at-fork callback (logging's, on every subprocess spawn) has that exception printed as
# "Exception ignored" and dropped, and the run would go on. The progress callbacks, called
# between runs and on every sample, raise it again then.
PENDING: list = []


def raise_if_interrupted() -> None:
    if PENDING:
        del PENDING[:]
        raise KeyboardInterrupt


class Progress:
    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total = self.done = 0
        self.cell: Cell | None = None
        self.repeat = 0
        self.peak = 0
        self._last_draw = 0.0

    def begin(self, total: int, already: int) -> None:
        self.total, self.done = total, already
        if already:
            self._line("resuming: %d of %d runs already recorded, skipped" % (already, total))

    def start_cell(self, cell: Cell, repeat: int) -> None:
        raise_if_interrupted()
        self.cell, self.repeat, self.peak = cell, repeat, 0
        if not self.tty:
            self._line("[%d/%d] running %s (repeat %d)" % (self.done + 1, self.total, cell.label(), repeat))
        else:
            self.sample(0.0, 0)

    def skip_cell(self, cell: Cell, repeat: int) -> None:
        self.done += 1
        self._line("[%d/%d] recorded meanwhile by another run, skipped: %s r%d"
                   % (self.done, self.total, cell.label(), repeat))

    def sample(self, seconds: float, rss: int) -> None:
        raise_if_interrupted()
        self.peak = max(self.peak, rss)
        if not self.tty:
            return
        now = time.monotonic()
        if now - self._last_draw < _REDRAW_S and seconds:
            return
        self._last_draw = now
        bar = self._bar()
        text = "%s %d/%d  %s r%d  %5.0fs  RSS %s (peak %s)" % (
            bar, self.done, self.total, self.cell.label() if self.cell else "", self.repeat,
            seconds, mib(rss), mib(self.peak))
        self.stream.write("\r\x1b[2K" + text[:160])
        self.stream.flush()

    def end_cell(self, record: RunRecord) -> None:
        self.done += 1
        where = ""
        if record.outcome != "ok" and record.failed_during:
            where = " during %s" % record.failed_during
        self._line("[%d/%d] %-12s %s r%d  wall %.1fs  peak %s%s" % (
            self.done, self.total, record.outcome, record.cell().label(), record.repeat,
            record.wall_s, mib(record.peak_rss_bytes), where))

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()

    def note(self, text: str) -> None:
        self._line(text)

    def _bar(self, width: int = 20) -> str:
        filled = int(width * self.done / self.total) if self.total else 0
        return "[" + "#" * filled + "." * (width - filled) + "]"

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K")
        self.stream.write(text + "\n")
        self.stream.flush()
