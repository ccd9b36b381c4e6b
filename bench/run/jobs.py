"""What a command hands to a pool of measuring machines, and what comes back.

A `Job` is one measured run: a planned cell, a repeat, whether its daily
commands are timed and whether it is a profiled run. The commands build jobs;
a pool (bench/cluster/: a Dask cluster, one measurement slot per worker) runs
them wherever it likes and yields a `Done` per job as each finishes. The
record in a `Done` has not been stored: storing stays the orchestrating
parent's (the store's rules, never overwrite and resume, hold on one machine,
the client's). This module is not responsible for scheduling: the pool is.

`Pool` is the interface bench/run needs (a protocol, so bench/run never
imports Dask); `RunContext` is what every job of one command shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Protocol

from migbench.bench.records import RunRecord
from migbench.generator.scenario import Scenario

from .matrix import PlannedCell
from .options import RunOptions


@dataclass(frozen=True)
class Job:
    planned: PlannedCell
    repeat: int
    dev_loop: bool = False
    profile: str | None = None  # "time" or "memory": a profiled run (stored under OUT/profiles/)

    def label(self) -> str:
        return "%s r%d%s" % (self.planned.cell.label(), self.repeat,
                             " (profile %s)" % self.profile if self.profile else "")


@dataclass(frozen=True)
class RunContext:
    """What every job of one command shares: the scenario, its options, the command line, the
    Django line the project is generated for, and each engine's --database value."""

    scenario: Scenario
    options: RunOptions
    command: list[str]
    target: str
    databases: dict[str, str] = field(default_factory=dict)  # engine name -> --database value


@dataclass
class Done:
    """A job's end: a record (not stored yet; with a profiled run's exported files), or why none.

    `error`: the cell could not be prepared there (nothing measured, as in a serial run);
    `lost`: the run never finished (its worker was lost more often than the cluster retries,
    or the task failed outside the measurement). Neither leaves a record."""

    job: Job
    record: RunRecord | None = None
    files: list[tuple[str, Path]] = field(default_factory=list)
    error: str | None = None
    lost: str | None = None
    worker: str = ""


class Session(Protocol):
    """Jobs submitted one at a time and collected as they finish (a context manager: leaving it with jobs
    pending cancels them, and a cancelled run leaves no record)."""

    pending: int

    def submit(self, job: Job) -> None: ...

    def next(self) -> Done: ...  # blocks until a submitted job is done

    def close(self) -> None: ...  # cancels what is still pending

    def __enter__(self) -> "Session": ...

    def __exit__(self, *exc) -> None: ...


class Pool(Protocol):
    slots: int  # measurement slots: how many jobs run at once

    def describe(self) -> str: ...

    def run(self, jobs: Iterable[Job], context: RunContext) -> Iterator[Done]: ...

    def session(self, context: RunContext) -> Session: ...


__all__ = ["Done", "Job", "Pool", "RunContext", "Session"]
