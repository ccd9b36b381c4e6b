"""Which measured runs share this machine: a registry of runs in progress and of runs ended.

A run's times are only comparable with another's when both had the machine to
themselves; a Dask cluster with several slots on one machine, or two migbench
commands started side by side, breaks that silently (their memory figures stay
valid: a cap and a peak are the run's own). So every measured run registers
here for its whole span (fresh database to the end of its validation) and, when
it ends, says which other runs overlapped it: the record's `concurrency`
(docs/records.md). Memory alone never needs it; readers keep concurrent and
solo timings apart (bench/records/sharing.py).

How: a directory on the machine (MIGBENCH_OCCUPANCY_DIR, default
<tmp>/migbench-occupancy, sticky and world-writable like /tmp: another user's
runs share the machine too) holds one `<run id>.live` file per run in progress
and a per-day log of ended runs (`ended-YYYYMMDD.jsonl`, one appended line per
run, kept two days). At its end a run counts as overlapping every other live
file (its process still alive: a killed migbench leaves one, ignored once its
process is gone) and every logged run whose span met its own. It is not
responsible for load from anything else than migbench runs: the record's
`host.load_1m` says that.

Side effects: creates the directory, writes and removes the run's live file,
appends to the log, deletes logs older than two days.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from pathlib import Path

import psutil

_KEEP_DAYS = 2


def registry() -> Path:
    """The machine's registry directory (created world-writable and sticky on first use)."""
    path = Path(os.environ.get("MIGBENCH_OCCUPANCY_DIR") or Path(tempfile.gettempdir()) / "migbench-occupancy")
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(path, 0o1777)
        except OSError:  # made by another user meanwhile: theirs stays as it is
            pass
    return path


class Occupancy:
    """One measured run's stay on the machine: `enter()`, then `observe()` at its end, then `leave()`."""

    def __init__(self, run_id: str | None = None, machine_slots: int | None = None):
        self.run_id = run_id or uuid.uuid4().hex
        self.machine_slots = machine_slots
        self.started: float | None = None
        self.root: Path | None = None  # None: the registry could not be written (nothing is recorded)

    def enter(self) -> "Occupancy":
        """Register the run; a registry that cannot be written leaves `concurrency` unrecorded (null),
        never the run unmeasured."""
        self.started = time.time()
        me = psutil.Process()
        try:
            root = registry()
            _write_atomic(root / ("%s.live" % self.run_id), {
                "run_id": self.run_id, "pid": me.pid, "create_time": me.create_time(), "started": self.started})
        except OSError:
            return self
        self.root = root
        return self

    def observe(self) -> dict | None:
        """The record's `concurrency` as of now: the other runs that overlapped this one so far (None
        when the registry could not be written)."""
        if self.root is None:
            return None
        now = time.time()
        start = self.started if self.started is not None else now
        spans: dict[str, tuple[float, float]] = {}
        for path in self.root.glob("*.live"):
            entry = _read(path)
            if entry and entry.get("run_id") != self.run_id and _alive(entry):
                spans[entry["run_id"]] = (max(float(entry.get("started", now)), start), now)
        for log in _logs(self.root, now):
            for line in _lines(log):
                other, began, ended = line.get("run_id"), line.get("started"), line.get("ended")
                if other == self.run_id or not isinstance(began, (int, float)) or not isinstance(ended, (int, float)):
                    continue
                if began < now and ended > start:
                    spans[other] = (max(began, start), min(ended, now))
        overlap = _union([span for span in spans.values() if span[1] > span[0]])
        return {"solo": not spans, "overlapping_runs": len(spans), "overlap_s": round(overlap, 3),
                "span_s": round(now - start, 3), "machine_slots": self.machine_slots, "others": sorted(spans)}

    def leave(self) -> None:
        """Log the run as ended and remove its live file (also after a failure: the span stays true)."""
        if self.root is None:
            return
        ended = time.time()
        line = json.dumps({"run_id": self.run_id, "started": self.started, "ended": ended}) + "\n"
        log = self.root / ("ended-%s.jsonl" % time.strftime("%Y%m%d", time.gmtime(ended)))
        try:
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                os.write(fd, line.encode())  # one small write with O_APPEND: lines never interleave
            finally:
                os.close(fd)
        except OSError:
            pass  # the others then miss this run's span once it ended; its own record is written already
        finally:
            (self.root / ("%s.live" % self.run_id)).unlink(missing_ok=True)
        _prune(self.root, ended)

    def __enter__(self) -> "Occupancy":
        return self.enter()

    def __exit__(self, *exc) -> None:
        self.leave()


def _alive(entry: dict) -> bool:
    """Is the run's process still there (and the same process: a pid is reused)?"""
    try:
        process = psutil.Process(int(entry["pid"]))
        return abs(process.create_time() - float(entry.get("create_time", 0))) < 1.0
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


def _union(spans: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one span."""
    total, reach = 0.0, None
    for begin, end in sorted(spans):
        if reach is None or begin > reach:
            total += end - begin
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def _logs(root: Path, now: float) -> list[Path]:
    days = {time.strftime("%Y%m%d", time.gmtime(now - 86400 * back)) for back in range(_KEEP_DAYS)}
    return [root / ("ended-%s.jsonl" % day) for day in sorted(days)]


def _lines(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found = []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict):
            found.append(line)
    return found


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "run_id" in data else None


def _write_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def _prune(root: Path, now: float) -> None:
    keep = {p.name for p in _logs(root, now)}
    for old in root.glob("ended-*.jsonl"):
        if old.name not in keep:
            try:
                old.unlink()
            except OSError:
                pass


__all__ = ["Occupancy", "registry"]
