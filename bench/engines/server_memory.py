"""The embedded server's own memory during one run, apart from the child's.

The cap applies to `migrate` (the child), as in 2015; what the database server
costs besides is sampled here, in a thread of the parent, over the server's
whole process tree (PostgreSQL forks a backend per connection). Summing RSS
would count shared buffers once per process, so the sum of PSS is used
(shared pages divided among their users); where PSS cannot be read the
record says RSS.

Side effects: one daemon thread per serving server, reading /proc.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class MemoryMark:
    """The server's peak memory since `mark()`: read with `peak()` when the run ends."""

    watcher: "ServerMemory"
    index: int

    def peak(self) -> dict:
        return self.watcher.report(self.index)


class ServerMemory:
    """Samples the embedded server's process tree (sum of PSS: shared buffers count once) in a thread.

    Apart from the child's memory on purpose: the cap applies to `migrate`, as in
    2015; the server's memory is what the database costs besides.
    """

    INTERVAL = 0.05

    def __init__(self, pid: int | None):
        self.pid = pid
        self._peaks: list[int] = []
        self._samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="server-memory", daemon=True)
        self._lock = threading.Lock()
        self.measure = "pss"

    def start(self) -> None:
        if self.pid:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def mark(self) -> MemoryMark:
        with self._lock:
            self._peaks.append(0)
            self._samples.append(0)
            return MemoryMark(self, len(self._peaks) - 1)

    def report(self, index: int) -> dict:
        with self._lock:
            self._sample_once()  # the last word: a run shorter than one interval still has a sample
            return {"peak_bytes": self._peaks[index] or None, "samples": self._samples[index],
                    "measure": "sum of %s over the server's processes" % self.measure.upper()}

    def _loop(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            with self._lock:
                self._sample_once()

    def _sample_once(self) -> None:
        total = self._total()
        if total is None:
            return
        for i in range(len(self._peaks)):
            self._samples[i] += 1
            self._peaks[i] = max(self._peaks[i], total)

    def _total(self) -> int | None:
        import psutil

        try:
            root = psutil.Process(self.pid)
            processes = [root] + root.children(recursive=True)
        except psutil.Error:
            return None
        total = 0
        for process in processes:
            try:
                if self.measure == "pss":
                    total += process.memory_full_info().pss
                else:
                    total += process.memory_info().rss
            except psutil.AccessDenied:
                self.measure = "rss"  # PSS needs the server's user or root; RSS counts shared buffers per process
                return self._total()
            except psutil.Error:
                continue
        return total
