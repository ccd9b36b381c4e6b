"""`migbench sweep`: one scenario at several sizes, and how time and memory grow with size.

The question a team asks is "what happens when the project doubles?". A
sweep answers it with the machinery of `migbench run`: each size is the
scenario with a few generator knobs set (`--vary apps=10,20,40`), planned
and run like any matrix (same cells, same seed, same records, same resume),
all into one directory; then a power law is fitted per series
(bench/analysis/growth.py) and the exponents are reported.

A sized scenario keeps the scenario's name (the report's scaling chart
groups records by name) and gets its own identity: sha256 of the file's
hash plus the sizes, so every size has its own cached project and record
names, deterministically, and its records say what was set
(`scenario.vary`).

Sizes run smallest first. With `--budget`, a size is only started when the
fit over the sizes already measured says its runs fit in what is left of
the budget; a size at least as large on every axis as a skipped one is
skipped too. Rules and the summary file: docs/sweep.md.
"""

from __future__ import annotations

import datetime
import glob
import hashlib
import itertools
import json
import math
import os
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

from migbench import __version__
from migbench.bench.analysis.growth import SeriesFit, estimate, fit_series, series_label, series_of
from migbench.bench.measure import host
from migbench.bench.records import Cell, ResultStore, RunRecord, load_record
from migbench.bench.report.terminal import invalid_lines, summary_lines
from migbench.errors import MigbenchError
from migbench.generator.scenario import Scenario
from migbench.provenance import git_commit
from migbench.units import format_duration, parse_duration

from .executor import UnpreparedCells, run_matrix
from .matrix import Matrix, plan_matrix
from .options import RunOptions, resolve_options
from .progress import Progress

SCHEMA = "migbench.sweep/1"

# --vary name -> (the generator key it sets, the largest value a scenario file accepts there)
AXES = {
    "apps": ("generator.apps", 100000),
    "models": ("generator.models_per_app, fixed: every app gets exactly that many", 10000),
    "migrations": ("generator.history.migrations_per_app, fixed", 9999),
}


# -- sizes ---------------------------------------------------------------------------------------


def parse_vary(specs: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """`["apps=10,20", "migrations=1,5"]` -> {"apps": (10, 20), "migrations": (1, 5)}, in AXES order."""
    axes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, equals, values = (part.strip() for part in spec.partition("="))
        if not equals or not name or not values:
            raise MigbenchError("--vary %r: expected NAME=V1,V2,..., e.g. apps=10,20,40" % spec)
        if name not in AXES:
            raise MigbenchError("--vary %r: cannot vary %r; vary one of %s" % (spec, name, ", ".join(AXES)))
        if name in axes:
            raise MigbenchError("--vary %s is given twice; put all its values in one: %s=V1,V2,..." % (name, name))
        numbers = set()
        for text in values.split(","):
            text = text.strip()
            if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
                raise MigbenchError("--vary %r: %r is not a whole number >= 1" % (spec, text))
            if int(text) > AXES[name][1]:
                raise MigbenchError("--vary %r: %s is at most %d" % (spec, name, AXES[name][1]))
            numbers.add(int(text))
        axes[name] = tuple(sorted(numbers))
    if not axes:
        raise MigbenchError("sweep: give what to vary, e.g. --vary apps=10,20,40 (names: %s)" % ", ".join(AXES))
    if math.prod(len(values) for values in axes.values()) < 2:
        raise MigbenchError("--vary %s: a sweep needs at least two sizes; give several values, e.g. %s=10,20,40"
                            % (" ".join("%s=%s" % (n, v[0]) for n, v in axes.items()), next(iter(axes))))
    return {name: axes[name] for name in AXES if name in axes}


def grid(axes: Mapping[str, Sequence[int]]) -> list[dict[str, int]]:
    """Every combination of the axes' values, smallest first: by the product of the
    values (a rough measure of the work), then axis by axis."""
    names = list(axes)
    points = [dict(zip(names, values)) for values in itertools.product(*(axes[n] for n in names))]
    return sorted(points, key=lambda p: (math.prod(p.values()), tuple(p.values())))


def label(sizes: Mapping[str, int]) -> str:
    return " ".join("%s=%d" % item for item in sizes.items())


def dominates(sizes: Mapping[str, int], other: Mapping[str, int]) -> bool:
    """At least as large as `other` on every axis: it cannot take less time."""
    return all(sizes[name] >= other[name] for name in other)


def fit_variables(axes: Mapping[str, Sequence[int]]) -> tuple[str, ...]:
    """What the fits use as x: the model count when apps or models per app vary, the migration
    count when migrations per app vary, both when both do."""
    varied = {name for name, values in axes.items() if len(values) > 1}
    return tuple(v for v, axes_of in (("models", {"apps", "models"}), ("migrations", {"migrations"}))
                 if varied & axes_of)


def sized_scenario(scenario: Scenario, sizes: Mapping[str, int]) -> Scenario:
    """The scenario at `sizes`: same name, seed and everything else; its own sha256.

    The sha256 is that of the scenario's own hash and the sizes in canonical
    JSON, so it is the same on every machine and differs from the file's
    (whose records, made by `migbench run`, measure another project).
    """
    params = scenario.generator
    if "apps" in sizes:
        params = replace(params, apps=sizes["apps"])
    if "models" in sizes:
        params = replace(params, models_per_app=(sizes["models"], sizes["models"]))
    if "migrations" in sizes:
        count = sizes["migrations"]
        params = replace(params, history=replace(params.history, migrations_per_app=(count, count)))
    vary = {**scenario.vary, **{name: sizes[name] for name in sorted(sizes)}}
    canonical = json.dumps(vary, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(("%s\nvary %s" % (scenario.sha256, canonical)).encode("utf-8")).hexdigest()
    return replace(scenario, generator=params, sha256=digest, vary=vary)


# -- one size --------------------------------------------------------------------------------------


@dataclass
class Point:
    """One size of the sweep and what became of it."""

    sizes: dict[str, int]
    scenario: Scenario
    status: str = "pending"  # run, recorded (nothing left to run), skipped, interrupted
    reason: str | None = None  # why it was skipped
    estimate_s: float | None = None  # the budget's estimate of its runs, when one was made
    counts: dict = field(default_factory=dict)  # the generated project's models and migrations
    cells: list[Cell] = field(default_factory=list)
    runs: int = 0  # (cell, repeat) pairs planned
    recorded_before: int = 0  # of those, already recorded when the sweep reached it
    unprepared: str | None = None  # cells that could not be prepared (UnpreparedCells)

    @property
    def label(self) -> str:
        return label(self.sizes)

    def to_dict(self, records: list[RunRecord]) -> dict:
        return {"vary": self.sizes, "label": self.label, "sha256": self.scenario.sha256, "status": self.status,
                "reason": self.reason, "estimate_s": self.estimate_s,
                "models": self.counts.get("models"), "migrations": self.counts.get("migrations"),
                "runs": {"planned": self.runs, "recorded_before": self.recorded_before,
                         "recorded": len(records), "ok": sum(r.outcome == "ok" for r in records)},
                "unprepared": self.unprepared}


def _counts(project: Path) -> dict:
    try:
        counts = json.loads((Path(project) / "migbench.json").read_text(encoding="utf-8")).get("counts", {})
    except (OSError, ValueError):
        return {}
    return {key: counts.get(key) for key in ("apps", "models", "migrations")}


# -- the sweep -------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    points: list[Point]
    fits: dict[Cell, SeriesFit]
    by_cell: dict[Cell, list[RunRecord]]
    summary_path: Path
    out: Path

    def lines(self) -> list[str]:
        """The end of the sweep on stdout: runs by size, skipped sizes, the fits."""
        cells = [c for p in self.points for c in p.cells]
        lines = summary_lines(self.by_cell, cells) if any(self.by_cell.get(c) for c in cells) else []
        for point in self.points:
            if point.status in ("skipped", "interrupted"):
                lines.append("%s %s: %s" % (point.status, point.label, point.reason or "stopped by the user"))
        lines.append("")
        lines.append("growth (medians of ok runs per size, against the generated project's counts):")
        order = list(dict.fromkeys(series_of(cell) for cell in cells))  # the matrix's order
        for series in sorted(self.fits, key=lambda s: order.index(s) if s in order else len(order)):
            lines.append("  " + self.fits[series].line(series_label(series, self.fits)))
        if not self.fits:
            lines.append("  no ok runs to fit")
        lines.append("sweep summary in %s" % self.summary_path)
        lines.append("records in %s" % self.out)
        return lines

    def problems(self) -> list[str]:
        """Runs whose result is not equivalent to `all`, and cells that could not be prepared."""
        return invalid_lines(self.by_cell) + ["error: %s: %s" % (p.label, p.unprepared)
                                              for p in self.points if p.unprepared]

    @property
    def status(self) -> int:
        return 1 if self.problems() else 0


class Sweep:
    """Runs the sizes in order under an optional budget; `plan`, `run` and `clock` are
    injectable so the budget logic is testable without running Django."""

    def __init__(self, scenario: Scenario, axes: Mapping[str, Sequence[int]], options: RunOptions,
                 store: ResultStore, command: list[str], progress, budget_s: float | None = None,
                 plan: Callable[..., Matrix] = plan_matrix, run: Callable = run_matrix,
                 clock: Callable[[], float] = time.monotonic, pool=None):
        self.scenario, self.axes, self.options, self.store = scenario, dict(axes), options, store
        self.pool = pool  # a cluster's slots (bench/run/jobs.Pool): each size's runs run there at once
        self.command, self.progress, self.budget_s = command, progress, budget_s
        self.plan, self.run_matrix, self.clock = plan, run, clock
        self.variables = fit_variables(axes)
        self.points = [Point(sizes, sized_scenario(scenario, sizes)) for sizes in grid(axes)]
        self.records: dict[str, list[RunRecord]] = {}  # point sha256 -> its cells' records
        self._notes_seen: set[str] = set()
        self._spent = self._walls = 0.0  # real seconds in run_matrix, wall_s of the runs made there
        self._started = 0.0
        self._started_at = ""

    def run(self) -> SweepResult:
        self._started = self.clock()
        self._started_at = _now()
        try:
            for index, point in enumerate(self.points, 1):
                self._point(index, point)
        except KeyboardInterrupt:
            self.progress.finish()
            for point in self.points:
                if point.status == "running":
                    point.status = "interrupted"
            self.write_summary(interrupted=True)
            raise
        records = [r for p in self.points for r in self.records.get(p.scenario.sha256, [])]
        by_cell: dict[Cell, list[RunRecord]] = defaultdict(list)
        for record in records:
            by_cell[record.cell()].append(record)
        fits = fit_series(records, self.variables)
        path = self.write_summary(interrupted=False, fits=fits)
        return SweepResult(self.points, fits, dict(by_cell), path, self.store.root)

    def _point(self, index: int, point: Point) -> None:
        note = self.progress.note
        larger = next((p for p in self.points[:index - 1]
                       if p.status == "skipped" and dominates(point.sizes, p.sizes)), None)
        if larger is not None:
            point.status, point.reason = "skipped", "at least as large as %s, which was skipped" % larger.label
            note("skipped %s: %s" % (point.label, point.reason))
            return
        note("sweep %d/%d: %s" % (index, len(self.points), point.label))
        matrix = self.plan(point.scenario, self.options, on_note=self._note_once)
        for reason in matrix.skipped:
            self._note_once("skipped      %s" % reason)
        point.counts = _counts(matrix.project)
        point.cells = [planned.cell for planned in matrix.cells]
        todo = [(p.cell, r) for r in range(1, self.options.repeat + 1) for p in matrix.cells]
        pending = [(cell, r) for cell, r in todo if not self.store.done(cell, r)]
        point.runs, point.recorded_before = len(todo), len(todo) - len(pending)
        note("  %s models, %s migrations; %d of %d runs to do"
             % (point.counts.get("models"), point.counts.get("migrations"), len(pending), len(todo)))
        if pending:
            why = self._over_budget(point, [cell for cell, _ in pending])
            if why:
                point.status, point.reason = "skipped", why
                note("skipped %s: %s" % (point.label, why))
                return
            point.status = "running"
            began = self.clock()
            try:
                self.run_matrix(point.scenario, self.options, matrix, self.store, self.command, self.progress,
                                **({"pool": self.pool} if self.pool is not None else {}))
            except UnpreparedCells as error:  # the other cells ran; the sweep goes on
                point.unprepared = str(error)
            self._spent += self.clock() - began
        point.status = "run" if pending else "recorded"
        made_now = set(pending)
        self.records[point.scenario.sha256] = records = self._load(point)
        self._walls += sum(r.wall_s for r in records if (r.cell(), r.repeat) in made_now)

    def _over_budget(self, point: Point, pending: list[Cell]) -> str | None:
        """Why the point must not start (None: start it)."""
        if self.budget_s is None:
            return None
        left = self.budget_s - (self.clock() - self._started)
        if left <= 0:
            return "the budget (%s) is spent" % format_duration(self.budget_s)
        measured = [r for p in self.points if p.status in ("run", "recorded")
                    for r in self.records.get(p.scenario.sha256, [])]
        guess = estimate(pending, point.counts, fit_series(measured, self.variables), self._overhead())
        if guess is None:
            self.progress.note("  no estimate yet (too few sizes measured to fit); running it")
            return None
        point.estimate_s = round(guess.seconds, 3)
        if guess.seconds > left:
            return "estimated %s (%s) > %s left of the budget" % (
                format_duration(guess.seconds), guess.basis, format_duration(left))
        self.progress.note("  estimated %s (%s); %s left of the budget"
                           % (format_duration(guess.seconds), guess.basis, format_duration(left)))
        return None

    def _overhead(self) -> float:
        """Real seconds per second of measured wall time so far (validation, setup); >= 1."""
        return max(1.0, self._spent / self._walls) if self._walls > 0 else 1.0

    def _load(self, point: Point) -> list[RunRecord]:
        """Every stored record of the point's cells, all repeats (earlier sweeps' too)."""
        records = []
        for cell in point.cells:
            stem = cell.slug(0)[:-1]  # "...--r": any repeat
            for path in sorted(self.store.root.glob(glob.escape(stem) + "*.json")):
                if re.fullmatch(r"[0-9]+\.json", path.name[len(stem):]):
                    try:
                        records.append(load_record(path))
                    except MigbenchError:
                        continue  # a torn file; the store sets it aside on the next write
        return records

    def _note_once(self, text: str) -> None:
        """Planning notes (environments, skipped pairs) repeat at every size: show each once."""
        if text not in self._notes_seen:
            self._notes_seen.add(text)
            self.progress.note(text)

    # -- the summary file --

    def summary_path(self) -> Path:
        return self.store.root / "sweep" / (re.sub(r"[^A-Za-z0-9._-]+", "_", self.scenario.name) + ".json")

    def write_summary(self, interrupted: bool, fits: Mapping[Cell, SeriesFit] | None = None) -> Path:
        """OUT/sweep/SCENARIO.json, replaced atomically; in a subdirectory because the store
        reads every top-level *.json of OUT as a run record."""
        options = self.options
        document = {
            "schema": SCHEMA,
            "scenario": {"name": self.scenario.name, "sha256": self.scenario.sha256,
                         "seed": self.scenario.generator.seed, "source": self.scenario.source},
            "vary": {name: list(values) for name, values in self.axes.items()},
            "variables": list(self.variables),
            "options": {"django": list(options.djangos), "python": list(options.pythons),
                        "memory_limit_bytes": list(options.memories), "strategy": list(options.strategies),
                        "repeat": options.repeat, "database": ",".join(options.databases), "limiter": options.limiter,
                        "timeout_s": options.timeout_s, "interval_s": options.interval_s},
            "budget_s": self.budget_s,
            "elapsed_s": round(self.clock() - self._started, 3),
            "interrupted": interrupted,
            "points": [p.to_dict(self.records.get(p.scenario.sha256, [])) for p in self.points],
            "fits": [fit.to_dict() for fit in (fits or {}).values()],
            "command": self.command,
            "host": host.describe(),
            "started_at": self._started_at,
            "finished_at": _now(),
            "migbench_version": __version__,
            "migbench_commit": git_commit(),
        }
        path = self.summary_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def prepare_sweep(scenario: Scenario, vary: Sequence[str], cli: Mapping, budget: str | None,
                  out: str | None, command: list[str]) -> Sweep:
    """The sweep a command line asks for; every bad value fails here, before anything runs."""
    from migbench.bench.measure.limiters import choose

    axes = parse_vary(vary)
    budget_s = parse_duration(budget, "--budget") if budget else None
    options = resolve_options(cli, scenario.run, scenario.source)
    progress = Progress()
    caps = [m for m in options.memories if m is not None]
    probe = choose(options.limiter, max(caps) if caps else None)
    progress.note("limiter      %s: %s" % (probe.name, probe.why))
    store = ResultStore(Path(out) if out else Path("results") / ("%s-sweep" % scenario.name))
    return Sweep(scenario, axes, options, store, command, progress, budget_s)


__all__ = ["AXES", "SCHEMA", "Point", "Sweep", "SweepResult", "dominates", "fit_variables", "grid", "label",
           "parse_vary", "prepare_sweep", "sized_scenario"]
