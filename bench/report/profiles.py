"""Profiled runs (`migbench run --profile`) as the report reads them: one per cell and mode.

A profiled run is one extra run of a cell under a profiler (cProfile or
tracemalloc) and the stage timer; its record's `profile` (docs/records.md,
bench/records/profiles.py) holds the stage split, the top functions, every
migration's time and, in memory mode, where the memory was allocated. Such a
record is never a timing record: bench/report/load.py keeps it in
`ResultSet.profiled`, out of every table, chart and ratio of times.

This module picks the run shown per (cell, mode) (`profiled_cells`), names it,
reads its stages in the order of `STAGES` (shared by the tables, the stages
chart and `migbench compare`), says what profiling cost (`overhead_text`) and
where its exported files are (`FileLinks`, absolute paths: the pages make them
relative to the report's directory). profile_tables.py makes the tables.
No side effects (a file's existence is checked, nothing is read).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import quote

from migbench.bench.records import Cell, RunRecord
from migbench.bench.records.profiles import STAGES

from .load import profile_of

UNATTRIBUTED = "unattributed"
UNATTRIBUTED_LABEL = "unattributed (the process's exit: outside every clock of the worker)"
STARTUP = "startup"
STARTUP_LABEL = "interpreter start-up (spawn to the worker's first line)"
PROFILER = "profiler"
PROFILER_LABEL = "the profiler's own time (measured apart from the stages)"
# How to open each kind of exported file, for the report's notes.
OPENERS = {
    "pstats": "cProfile's dump: open with snakeviz, tuna or `python -m pstats FILE` under the same Python "
              "major.minor that wrote it",
    "memory_speedscope": "allocation stacks at the kept memory snapshot, weighted by bytes, in speedscope's "
                         "format: drop the file on https://www.speedscope.app",
    "speedscope": "stacks in speedscope's format: drop the file on https://www.speedscope.app (time mode: the "
                  "stage timer's frames weighted by seconds; memory mode: allocation stacks weighted by bytes)",
}


@dataclass(frozen=True)
class ProfiledCell:
    """The profiled run shown for one (cell, mode), and how many there were."""

    record: RunRecord
    profile: dict
    mode: str  # "time" or "memory"
    runs: int  # profiled runs found for this cell and mode (the latest is shown)

    @property
    def cell(self) -> Cell:
        return self.record.cell()

    def label(self) -> str:
        """'all, Django 5.2.19 / Python 3.11.7 / sqlite, cap none (time profile)'."""
        cell = self.cell
        return "%s, Django %s / Python %s / %s, cap %s (%s profile)" % (
            cell.strategy, cell.django_version, cell.python_version, cell.database, cell.memory_label, self.mode)

    def wall(self) -> float:
        return _number(self.profile.get("wall_s"), self.record.wall_s)


@dataclass(frozen=True)
class FileLinks:
    """One profiled run's exported files: (kind, absolute path, present on disk), in the record's order."""

    label: str  # the ProfiledCell's label
    files: tuple[tuple[str, Path, bool], ...]


def profiled_cells(profiled: Iterable[RunRecord]) -> list[ProfiledCell]:
    """One ProfiledCell per (scenario + hash, cell, mode), in the records' order; the latest run of each."""
    groups: dict[tuple, list[RunRecord]] = {}
    for record in profiled:
        profile = profile_of(record)
        if profile is None:
            continue
        groups.setdefault((record.cell(), mode_of(profile)), []).append(record)
    cells = []
    for (_cell, mode), records in groups.items():
        latest = max(records, key=lambda r: (r.started_at, r.run_id))
        cells.append(ProfiledCell(latest, profile_of(latest), mode, len(records)))
    return cells


def mode_of(profile: dict) -> str:
    mode = profile.get("mode")
    return mode if isinstance(mode, str) and mode else "time"


def short_label(label: str) -> str:
    """A stage's label without its parenthesis: 'building and rendering states'."""
    return label.split(" (", 1)[0]


def stage_rows(profile: dict) -> list[tuple[str, str, float]]:
    """(key, label, exclusive seconds) in STAGES order, stages a newer migbench added after them, the
    profiler's own time when the record measured it apart, then unattributed (wall minus the worker's
    clock: may be slightly negative); every stage of STAGES is listed, 0 when the record has none."""
    stages = profile.get("stages") or {}
    known = dict(STAGES)
    rows = [(key, label, _number(stages.get(key), 0.0)) for key, label in STAGES]
    rows += [(key, key, _number(value, 0.0)) for key, value in stages.items() if key not in known]
    if "startup_s" in profile:
        rows.append((STARTUP, STARTUP_LABEL, _number(profile.get("startup_s"), 0.0)))
    if "profiler_s" in profile:
        rows.append((PROFILER, PROFILER_LABEL, _number(profile.get("profiler_s"), 0.0)))
    rows.append((UNATTRIBUTED, UNATTRIBUTED_LABEL, _number(profile.get("unattributed_s"), 0.0)))
    return rows


def overhead_text(profile: dict) -> str:
    """'1.22x the median wall of 3 unprofiled runs (10.1 s)', or 'not measured'."""
    overhead = profile.get("overhead")
    if not isinstance(overhead, dict) or not isinstance(overhead.get("ratio"), (int, float)):
        return "not measured (no ok unprofiled run of the cell in the same directory)"
    runs = overhead.get("unprofiled_runs")
    wall = overhead.get("unprofiled_wall_s")
    text = "%.2fx" % overhead["ratio"]
    if isinstance(runs, int) and isinstance(wall, (int, float)):
        text += " the median wall of %d unprofiled run%s (%s s)" % (runs, "" if runs == 1 else "s",
                                                                    seconds_text(wall))
    return text


def cell_lines(cells: Sequence[ProfiledCell]) -> list[str]:
    """One line per profiled run (tool, wall, overhead), then its notes."""
    lines = []
    for pc in cells:
        text = "%s: %s, wall %s s, profile overhead %s" % (
            pc.label(), pc.profile.get("tool") or "profiler", seconds_text(pc.wall()), overhead_text(pc.profile))
        if pc.runs > 1:
            text += "; the latest of %d profiled runs of this cell" % pc.runs
        lines.append(text)
        lines += ["%s: %s" % (pc.label(), note) for note in pc.profile.get("notes") or [] if isinstance(note, str)]
    return lines


def file_links(cells: Sequence[ProfiledCell], sources: dict[str, Path]) -> list[FileLinks]:
    """Each run's exported files; `profile.files` paths are relative to the directory holding
    `profiles/`, the record file's grandparent (ResultSet.sources)."""
    found = []
    for pc in cells:
        source = sources.get(pc.record.run_id)
        files = pc.profile.get("files")
        if source is None or not isinstance(files, dict):
            continue
        root = Path(source).absolute().parent.parent
        entries = []
        for kind, paths in files.items():
            for relative in ([paths] if isinstance(paths, str) else paths or []):
                if isinstance(relative, str) and relative:
                    path = root / relative
                    entries.append((str(kind), path, path.exists()))
        if entries:
            found.append(FileLinks(pc.label(), tuple(entries)))
    return found


def opener_lines(links: Sequence[FileLinks]) -> list[str]:
    kinds = list(dict.fromkeys(kind for link in links for kind, _, _ in link.files))
    return ["%s files: %s" % (kind, OPENERS[kind]) for kind in kinds if kind in OPENERS]


def seconds_text(value: float) -> str:
    return "%.3f" % value if value < 1 else "%.2f" % value if value < 10 else "%.1f" % value


def _number(value, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def href(path: Path, base: Path | None) -> str:
    """A link to `path` from a page in `base` (the report's directory): relative, URL-quoted; a file URI
    when no base is known."""
    if base is None:
        return Path(path).absolute().as_uri()
    return quote(Path(os.path.relpath(Path(path).absolute(), Path(base).absolute())).as_posix())
