"""Real probes for the cap search (bench/run/bisect.py), and `migbench bisect` on a scenario's cells.

Two probes:
- `command_probe`: any command under the real limiter, classified like a run
  (the allocator program of the tests; a sanity check of the limiter itself);
- `RecordProbe`: one `migbench run` of a cell at the cap. A bisection's runs
  are results like any other: each probe is a normal record in the store (one
  file per cell-at-cap and repeat, never overwritten), and a probe already
  recorded is read back instead of run again, so an interrupted bisection
  resumes where it stopped (the search is deterministic given its outcomes).

Per bisected cell a summary (`migbench.bisect/1`, docs/bisect.md) goes next to
the records: the answer, its bracket, the confirmation and the uncapped peak,
naming the record files it was derived from.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from migbench import __version__
from migbench.bench.measure import host, limiters
from migbench.bench.measure.outcome import classify
from migbench.bench.measure.supervisor import DEFAULT_INTERVAL, supervise
from migbench.bench.records import Cell, ResultStore, RunRecord, load_record
from migbench.errors import MigbenchError
from migbench.generator.scenario import Scenario
from migbench.provenance import git_commit
from migbench.units import parse_size

from .bisect import Bisection, Probe, bisect_cap, size
from .executor import profile_cell, run_once
from .jobs import Job, Pool, RunContext
from .matrix import Matrix, PlannedCell, check_same_project, plan_with_notes
from .options import RunOptions
from .progress import Progress

SCHEMA = "migbench.bisect/1"
VIRTUAL_NOTE = ("the limiter is rlimit: RLIMIT_AS caps virtual address space, not RSS, so this is the "
                "smallest address-space limit under which the run finishes, not the RAM it needs; "
                "compare it only with other rlimit bisections (docs/limiters.md)")


def parse_bounds(low: str, high: str, tolerance: str) -> tuple[int, int, int]:
    """--low, --high, --tolerance as bytes; one clear error for anything unusable."""
    values = []
    for option, text in (("--low", low), ("--high", high), ("--tolerance", tolerance)):
        try:
            value = parse_size(text)
        except MigbenchError as error:
            raise MigbenchError("%s: %s" % (option, error)) from None
        if value is None:
            raise MigbenchError("%s: a bisection needs a size here, got %r" % (option, text))
        values.append(value)
    low_b, high_b, tol_b = values
    if low_b >= high_b:
        raise MigbenchError("--low %s must be below --high %s" % (size(low_b), size(high_b)))
    if tol_b < parse_size("1M"):
        raise MigbenchError("--tolerance %s: caps are probed in whole MiB, give 1M or more" % size(tol_b))
    return low_b, high_b, tol_b


def command_probe(argv: Sequence[str], limiter: str = "auto", timeout_s: float | None = None,
                  interval_s: float = DEFAULT_INTERVAL) -> Callable[[int, int], Probe]:
    """A probe running `argv` under the real limiter at each cap (not recorded anywhere)."""
    if limiter in limiters.WALLED:
        raise MigbenchError("--limiter %s runs migbench's own environments in a container or guest, not "
                            "an arbitrary --command; bisect a scenario with it, or use a host limiter" % limiter)

    def probe(cap: int, repeat: int) -> Probe:
        capped = limiters.choose(limiter, cap)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            with capped:
                child = supervise(list(capped.command(list(argv))), cwd=os.getcwd(), env=dict(os.environ),
                                  stdout=out, stderr=err, preexec=capped.preexec, timeout=timeout_s,
                                  interval=interval_s)
                reading = capped.read()
            err.seek(0)
            stderr_tail = err.read()[-4096:].decode("utf-8", errors="replace")
        outcome = classify(exit_code=child.exit_code, signal_number=child.signal, timed_out=child.timed_out,
                           oom_kills=reading.oom_kills, stderr_tail=stderr_tail, limit_bytes=cap,
                           peak_bytes=reading.peak_bytes or child.peak_rss_bytes)
        return Probe(cap, outcome.name, child.peak_rss_bytes, round(child.wall_s, 3), repeat, outcome.reason,
                     limit_peak_bytes=reading.peak_bytes)

    return probe


class RecordProbe:
    """Probes of one cell, each a `migbench run` record in `store` (read back when already there).

    It is the search's slots (bench/run/bisect_slots.py: `start`, `next`): here one probe runs at a
    time; with a `pool` (a cluster) every started probe goes to the pool's session at once, and memory
    verdicts do not depend on the neighbours (their times are marked concurrent in the records)."""

    def __init__(self, planned: PlannedCell, matrix: Matrix, scenario: Scenario, options: RunOptions,
                 store: ResultStore, command: list[str], progress: Progress, pool: Pool | None = None):
        self.planned, self.matrix, self.scenario, self.options = planned, matrix, scenario, options
        self.store, self.command, self.progress, self.pool = store, command, progress, pool
        self.records: list[tuple[RunRecord, Path]] = []  # every record this cell's bisection used
        self._queued: list[tuple[int, int]] = []  # started, to run here (or read back) when `next` asks
        self._started: dict = {}  # Job -> (cap, repeat), submitted to the pool's session
        self._session = None

    # -- the search's slots (bench/run/bisect.py): start probes, collect them as they finish --------

    def start(self, cap: int, repeat: int) -> None:
        """Begin the probe at (cap, repeat): read back when recorded, submitted to the pool's session, or
        queued to run here when `next` asks (one at a time)."""
        cell = self._at(cap)
        if self.store.done(cell, repeat) or self.pool is None:
            self._queued.append((cap, repeat))
            return
        if self._session is None:
            self._announce()
            self._session = self.pool.session(self._context())
        job = Job(dataclasses.replace(self.planned, cell=cell), repeat)
        self._session.submit(job)
        self._started[job] = (cap, repeat)
        self.progress.total = max(self.progress.total, self.progress.done + len(self._started))

    def next(self) -> Probe:
        """The next probe to finish: a recorded one first (in the order they finished when they ran, so
        a resumed search retraces its path), else a queued one run here now, else the pool's next."""
        recorded = []
        for cap, repeat in self._queued:
            path = self.store.path_for(self._at(cap), repeat)
            if self.store.done(self._at(cap), repeat):
                record = load_record(path)
                recorded.append((_finished_at(record), (cap, repeat), record, path))
        if recorded:
            _, (cap, repeat), record, path = min(recorded, key=lambda found: found[:2])
            self._queued.remove((cap, repeat))
            return self._keep(cap, repeat, record, path, reused=True)
        if self._queued:
            cap, repeat = self._queued.pop(0)
            try:
                record, path = self._run_here(self._at(cap), repeat)
            except MigbenchError as error:  # the cell cannot be prepared: nothing was measured
                return Probe(cap, "error", None, 0.0, repeat, "cannot run: %s" % error)
            return self._keep(cap, repeat, record, path)
        done = self._session.next()
        cap, repeat = self._started.pop(done.job)
        if done.record is None:  # cannot be prepared there, or lost: nothing measured
            return Probe(cap, "error", None, 0.0, repeat, "cannot run: %s" % (done.error or done.lost))
        return self._keep(cap, repeat, done.record, self.store.write(done.record))

    def close(self) -> None:
        """Cancel what the search left running (an error stopped it, Ctrl-C): no record is kept of it."""
        if self._session is not None:
            self._session.close()
            self._session = None
        self._queued, self._started = [], {}

    def _keep(self, cap: int, repeat: int, record: RunRecord, path: Path, reused: bool = False) -> Probe:
        """Count a probe's record as this bisection's, and say what it found."""
        self.progress.done += 1
        self.records.append((record, path))
        return Probe(cap, record.outcome, record.peak_rss_bytes, record.wall_s, repeat, record.outcome_reason,
                     limit_peak_bytes=record.limit_peak_bytes, source=path.name, reused=reused)

    def _at(self, cap: int | None) -> Cell:
        return dataclasses.replace(self.planned.cell, memory_limit_bytes=cap)

    def _announce(self) -> None:
        """Say which cluster runs the probes, once per command: a local cluster starts (or --cluster is
        reached) at the first probe that is not recorded yet, so a resumed bisection starts none."""
        if not getattr(self.pool, "announced", False):
            self.progress.note("cluster      %s" % self.pool.describe())
            self.pool.announced = True

    def _context(self) -> RunContext:
        return RunContext(self.scenario, self.options, self.command, self.matrix.project_target,
                          dict(zip((e.name for e in self.matrix.engines), self.options.databases)))

    def record(self, cell: Cell, repeat: int) -> tuple[RunRecord, Path]:
        """One run of `cell` (the uncapped one), here or on the pool; a MigbenchError when nothing was measured."""
        if self.pool is None:
            record, path = self._run_here(cell, repeat)
        else:
            self._announce()
            [done] = self.pool.run([Job(dataclasses.replace(self.planned, cell=cell), repeat)], self._context())
            if done.record is None:
                raise MigbenchError("cannot run: %s" % (done.error or done.lost))
            record, path = done.record, self.store.write(done.record)
        self.progress.done += 1
        self.records.append((record, path))
        return record, path

    def _run_here(self, cell: Cell, repeat: int) -> tuple[RunRecord, Path]:
        self.progress.total = max(self.progress.total, self.progress.done + 1)  # the total was a guess
        self.progress.start_cell(cell, repeat)
        record = run_once(dataclasses.replace(self.planned, cell=cell), repeat, self.matrix.project,
                          self.scenario, self.options, self.command, on_sample=self.progress.sample,
                          on_note=self.progress.note)
        path = self.store.write(record)
        self.progress.finish()
        return record, path

    def uncapped_peak(self, run: bool) -> tuple[int | None, str]:
        """The cell's uncapped peak RSS from an ok record in the store, else from one new run."""
        cell = dataclasses.replace(self.planned.cell, memory_limit_bytes=None)
        repeat = 1
        while self.store.done(cell, repeat):
            record = load_record(self.store.path_for(cell, repeat))
            if record.outcome == "ok":
                return record.peak_rss_bytes, "read from %s" % self.store.path_for(cell, repeat).name
            repeat += 1
        if not run:
            return None, "not measured (--no-uncapped)"
        self.progress.note("uncapped     one run without a cap, for the search's starting point and the cap/peak comparison "
                           "(--no-uncapped skips it)")
        try:
            record, path = self.record(cell, repeat)
        except MigbenchError as error:  # the cell cannot be prepared: the search will stop on it too
            return None, "the uncapped run could not be made: %s" % error
        if record.outcome != "ok":
            return None, "the uncapped run ended %s (%s): %s" % (record.outcome, path.name, record.outcome_reason)
        return record.peak_rss_bytes, "measured now: %s" % path.name

    def limiter(self) -> dict:
        """The limiter of the capped probes (name, caps, why), from their records."""
        capped = [r.limiter for r, _ in self.records if r.memory_limit_bytes]
        return {k: capped[-1].get(k) for k in ("name", "caps", "why", "swap_limited")} if capped else {}


def bisect_scenario(scenario: Scenario, options: RunOptions, bounds: tuple[int, int, int], out: Path,
                    command: list[str], uncapped: bool = True, stream=None, pool: Pool | None = None,
                    prior: bool = True) -> list[Bisection]:
    """Bisect every cell of the matrix; print probes as they finish; write one summary per cell.

    Cells are bisected one after another; with a `pool`, a cell's search keeps every slot busy
    (several caps while the bracket is open, the confirmation's repeats early: bench/run/bisect.py). `prior`: start
    the bracket at the cell's uncapped peak when it is recorded or measured (first)."""
    stream = stream or sys.stdout
    low, high, tolerance = bounds
    progress = Progress()
    if options.limiter == "none":
        raise MigbenchError("--limiter none cannot cap memory, and every probe of a bisection runs under a "
                            "cap; use --limiter auto, cgroup2, cgroup1, systemd or rlimit")
    matrix = plan_with_notes(scenario, options, high, progress)
    store = ResultStore(out)
    check_same_project(store, scenario, matrix.project_target, options.limiter)
    # high, low, the bisection, two confirmations, the uncapped run: a guess (widening adds more)
    steps = math.ceil(math.log2((high - low) / tolerance))
    progress.begin(total=len(matrix.cells) * (4 + steps + int(uncapped)), already=0)
    results = []
    try:
        with matrix.serving():
            for planned in matrix.cells:
                probe = RecordProbe(planned, matrix, scenario, options, store, command, progress, pool)
                results.append(_bisect_cell(probe, bounds, uncapped, stream, prior))
                for mode in options.profile:  # uncapped: the profiler's own memory must not decide the run
                    free = dataclasses.replace(planned, cell=dataclasses.replace(planned.cell, memory_limit_bytes=None))
                    if not store.profile_done(free.cell, mode):
                        path = profile_cell(free, mode, matrix.project, scenario, options, command, store, progress)
                        print("  profile (%s, uncapped): %s" % (mode, path), file=stream, flush=True)
    finally:
        progress.finish()  # also on Ctrl-C: clear the status line before the caller's message
    print("\nrecords in %s" % out, file=stream)
    return results


def _bisect_cell(probe: RecordProbe, bounds: tuple[int, int, int], uncapped: bool, stream,
                 prior: bool = True) -> Bisection:
    low, high, tolerance = bounds
    started_at = datetime.datetime.now(datetime.timezone.utc)
    cell = probe.planned.cell
    width = probe.pool.slots if probe.pool is not None else 1
    print("\nbisecting %s Django %s / Python %s between %s and %s (tolerance %s%s)" % (
        cell.strategy, cell.django_version, cell.python_version, size(low), size(high), size(tolerance),
        ", %d probes at once" % width if width > 1 else ""), file=stream, flush=True)
    # The uncapped peak first: the answer sits close to it (0.96-1.01x in results/segfault-2015-bisect),
    # so a search started there needs a few probes instead of log2((high - low) / tolerance).
    peak, source = probe.uncapped_peak(run=uncapped)
    if source:
        print("  uncapped: %s" % source, file=stream, flush=True)
    try:
        result = bisect_cap(None, low, high, tolerance, width=width, prior=peak if prior else None, slots=probe,
                            on_probe=lambda p: print("  " + p.line(), file=stream, flush=True))
    finally:
        probe.close()  # an error or Ctrl-C: what is still running is cancelled, and leaves no record
    result.uncapped_peak_bytes = peak
    if probe.limiter().get("caps") == "virtual":
        result.notes.append(VIRTUAL_NOTE)
    path = write_summary(result, probe, started_at, source)
    print("  " + result.summary(), file=stream)
    for note in result.notes:
        print("  note: %s" % note, file=stream)
    print("  summary in %s" % path, file=stream, flush=True)
    return result


def _finished_at(record: RunRecord) -> float:
    """When a recorded probe's run ended: its start plus its span (`concurrency`), else plus its wall."""
    started = datetime.datetime.fromisoformat(record.started_at).timestamp()
    return started + float((record.concurrency or {}).get("span_s") or record.wall_s or 0.0)


def write_summary(result: Bisection, probe: RecordProbe, started_at: datetime.datetime,
                  uncapped_source: str | None) -> Path:
    """The cell's `migbench.bisect/1` summary. Derived from the records, so a resumed bisection
    with the same bounds rewrites it (atomically) instead of refusing."""
    cell, scenario = probe.planned.cell, probe.scenario
    first = probe.records[0][0] if probe.records else None
    data = {
        "schema": SCHEMA,
        "scenario": first.scenario if first else {"name": scenario.name, "sha256": scenario.sha256,
                                                   "seed": scenario.generator.seed, "source": scenario.source},
        "project": first.project if first else {"path": str(probe.matrix.project),
                                                "django_target": probe.matrix.project_target},
        "strategy": cell.strategy, "django_version": cell.django_version, "python_version": cell.python_version,
        "shim": probe.planned.env.shim, "database": cell.database,
        "limiter": probe.limiter(), "options": {"timeout_s": probe.options.timeout_s,
                                                "interval_s": probe.options.interval_s},
        "bisection": result.to_dict(), "uncapped_source": uncapped_source,
        "records": [path.name for _, path in probe.records],
        "command": probe.command, "host": host.describe(),
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "migbench_version": __version__, "migbench_commit": git_commit(),
    }
    parts = (cell.scenario, cell.scenario_sha256[:8], cell.strategy, "django" + cell.django_version,
             "py" + cell.python_version, cell.database,
             "bisect-%s-%s-%s" % (size(result.low), size(result.high), size(result.tolerance)))
    path = probe.store.root / (re.sub(r"[^A-Za-z0-9._-]+", "_", "--".join(parts)) + ".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


__all__ = ["RecordProbe", "SCHEMA", "bisect_scenario", "command_probe", "parse_bounds", "write_summary"]
