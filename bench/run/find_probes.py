"""`migbench find` on real commits: the history, one cell measured at each probed commit, the summary.

Each probe is a normal measured run of the same cell (scenario, strategy, Python, cap, database)
on the environment of one commit of the clone (bench/env/sources.py builds it: the commit's tree
in a cached venv), written to the store like every record and read back when already there, so an
interrupted search resumes: the search (bench/run/find.py) is deterministic given the values.

Every commit runs the same project, generated once for the oldest line of the two ends: a history
that crosses a version bump (6.1 to 6.2.dev) must not change the project under the search.

Side effects: runs `git` read-only in the clone, builds environments, runs measured children,
writes records and `find--*.json` (migbench.find/1) into the store's directory.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import subprocess
from pathlib import Path
from typing import Callable

from migbench import __version__
from migbench.bench.env import sources
from migbench.bench.records import ResultStore, RunRecord, load_record
from migbench.errors import MigbenchError
from migbench.generator.scenario import Scenario
from migbench.provenance import git_commit

from .executor import run_once
from .find import Finding, Measured, Verdict, find_first_bad
from .matrix import Matrix, PlannedCell, check_same_project, plan_matrix, plan_with_notes
from .options import RunOptions, generation_target
from .progress import Progress

SCHEMA = "migbench.find/1"
METRICS = {"time": ("wall_s", lambda s: "%.2f s" % s), "peak": ("peak_rss_bytes", lambda b: "%.1f MB" % (b / 2**20))}


def history(repo: Path, good: str, bad: str) -> list[str]:
    """Commits from good to bad, both included, oldest first, along bad's first parents (a merged
    branch is one step: the merge), or one clear line when bad does not descend from good."""
    if subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", good, bad],
                      capture_output=True).returncode != 0:
        raise MigbenchError("--good %s is not an ancestor of --bad %s in %s: give a good commit older than the bad "
                            "one, on its history" % (good[:12], bad[:12], repo))
    out = subprocess.run(["git", "-C", str(repo), "rev-list", "--first-parent", "--reverse", "%s..%s" % (good, bad)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise MigbenchError("git rev-list %s..%s in %s failed: %s" % (good[:12], bad[:12], repo, out.stderr.strip()))
    commits = [good] + out.stdout.split()
    if len(commits) < 2:
        raise MigbenchError("--good and --bad name the same commit %s: nothing lies between them" % good[:12])
    return commits


class CommitRuns:
    """`measure(commit, n)` for the search: n runs of the cell at that commit, recorded in the store."""

    def __init__(self, scenario: Scenario, options: RunOptions, repo: Path, store: ResultStore,
                 command: list[str], progress: Progress, metric: str):
        self.scenario, self.options, self.repo, self.store = scenario, options, repo, store
        self.command, self.progress, self.field = command, progress, METRICS[metric][0]
        self.planned: dict[str, tuple[PlannedCell, Matrix] | str] = {}  # commit -> its cell, or why it has none
        self.records: list[tuple[str, Path]] = []  # (commit, record file) of every run the search used
        self.engines = None  # the first plan's engines: every commit's runs use them, served once for the search

    def spec(self, commit: str) -> str:
        return sources.from_repo(str(self.repo), commit).spec

    def plan(self, commit: str, notes: bool = False) -> tuple[PlannedCell, Matrix] | str:
        """The commit's one cell (its environment built on first use), or why it cannot be measured."""
        if commit not in self.planned:
            options = dataclasses.replace(self.options, djangos=(self.spec(commit),))
            try:
                matrix = (plan_with_notes(self.scenario, options, None, self.progress) if notes
                          else plan_matrix(self.scenario, options, on_note=self.progress.note, chosen=self.engines))
            except MigbenchError as error:  # e.g. the commit's tree does not import
                self.planned[commit] = str(error)
                return self.planned[commit]
            if len(matrix.cells) != 1:
                raise MigbenchError("find measures one cell; this matrix has %d: give one --strategy, --python, "
                                    "--database and --memory" % len(matrix.cells))
            self.planned[commit] = (matrix.cells[0], matrix)
            self.engines = self.engines or matrix.engines
        return self.planned[commit]

    def __call__(self, commit: str, n: int) -> Measured:
        planned = self.plan(commit)
        if isinstance(planned, str):
            return Measured((), "cannot run: %s" % planned)
        cell_plan, matrix = planned
        values = []
        for repeat in range(1, n + 1):
            record, path = self._run(cell_plan, matrix, repeat)
            if (commit, path) not in self.records:
                self.records.append((commit, path))
            if record.outcome != "ok":
                return Measured(tuple(values), "run %d ended %s: %s (%s)" % (repeat, record.outcome,
                                                                             record.outcome_reason, path.name))
            values.append(float(getattr(record, self.field)))
        return Measured(tuple(values))

    def _run(self, planned: PlannedCell, matrix: Matrix, repeat: int) -> tuple[RunRecord, Path]:
        path = self.store.path_for(planned.cell, repeat)
        if self.store.done(planned.cell, repeat):
            return load_record(path), path
        self.progress.total = max(self.progress.total, self.progress.done + 1)
        self.progress.start_cell(planned.cell, repeat)
        record = run_once(planned, repeat, matrix.project, self.scenario, self.options, self.command,
                          on_sample=self.progress.sample, on_note=self.progress.note)
        path = self.store.write(record)
        self.progress.done += 1
        self.progress.finish()
        return record, path


def find_scenario(scenario: Scenario, options: RunOptions, good: sources.Source, bad: sources.Source, out: Path,
                  command: list[str], metric: str, threshold: float, max_repeats: int,
                  stream=None, progress: Progress | None = None) -> Finding:
    """List the history between the two ends (`sources.from_repo` of --good and --bad), pin the project,
    run the search, print each step, write the summary."""
    import sys

    stream = stream or sys.stdout
    progress = progress or Progress()
    repo, ends = good.location, (good, bad)
    commits = history(repo, good.commit, bad.commit)
    # One project for the whole history: generated for the oldest line of the two ends (and the scenario's pin).
    target = generation_target(tuple(end.spec for end in ends), scenario.generator.django)
    scenario = dataclasses.replace(scenario, generator=dataclasses.replace(scenario.generator, django=target))
    store = ResultStore(out)
    runs = CommitRuns(scenario, options, repo, store, command, progress, metric)
    first = runs.plan(commits[0], notes=True)
    if isinstance(first, str):
        raise MigbenchError("the good commit %s cannot be measured: %s" % (commits[0][:12], first))
    check_same_project(store, scenario, first[1].project_target, options.limiter)
    # Every commit on the good end's Python: a history may move its default interpreter.
    runs.options = dataclasses.replace(options, pythons=(".".join(first[0].env.python_version.split(".")[:2]),))
    unit = METRICS[metric][1]
    print("\nfinding the commit that made %s %s (%s) larger by more than %.0f%%: %d commits from %s (good) to "
          "%s (bad), %d runs a commit to start, up to %d" % (
              first[0].cell.strategy, scenario.name, metric, threshold * 100, len(commits), commits[0][:12],
              commits[-1][:12], options.repeat, max_repeats), file=stream, flush=True)
    progress.begin(total=2 * options.repeat, already=0)
    started_at = datetime.datetime.now(datetime.timezone.utc)
    try:
        with first[1].serving():  # an embedded server starts once for the whole search
            finding = find_first_bad(commits, runs, threshold, repeats=options.repeat, max_repeats=max_repeats,
                                     on_verdict=lambda v: print("  " + v.line(unit), file=stream, flush=True))
    finally:
        progress.finish()
    path = write_summary(finding, runs, scenario, options, repo, (good.ref, bad.ref), metric, started_at, command, out)
    for line in summary_lines(finding, unit):
        print("  " + line, file=stream)
    print("  summary in %s" % path, file=stream, flush=True)
    return finding


def summary_lines(finding: Finding, unit: Callable[[float], str]) -> list[str]:
    if finding.reason:
        return ["no answer: %s" % finding.reason]
    commits = finding.commits
    first, last = commits[finding.first_bad], commits[finding.last_good]
    bad = next((v for v in finding.steps if v.index == finding.first_bad), finding.bad)
    lines = ["first bad commit: %s (after %s, the last good one), %.2fx good [%.2f-%.2f]; boundary %.2fx; %s" % (
        first, last[:12], bad.ratio.ratio, bad.ratio.low or 0, bad.ratio.high or 0, finding.boundary,
        "confident at every step" if finding.confident else "NOT confident at every step: see the steps")]
    if finding.skipped_between:
        lines.append("skipped between them (cannot be measured; the change may be in any of them): %s"
                     % ", ".join(c[:12] for c in finding.skipped_between))
    lines.append("%d commits probed besides the ends, %d runs" % (
        len(finding.steps), sum(len(v.values) for v in finding.steps + [finding.good, finding.bad])))
    return lines


def write_summary(finding: Finding, runs: CommitRuns, scenario: Scenario, options: RunOptions, repo: Path,
                  refs: tuple[str, str], metric: str, started_at: datetime.datetime, command: list[str],
                  out: Path) -> Path:
    """OUT/find--SCENARIO--GOOD--BAD--METRIC.json (migbench.find/1, docs/find.md): the answer and its steps,
    naming the record files each verdict came from. Rewritten whole (atomically) by a resumed search."""
    commits = finding.commits

    def verdict(v: Verdict | None) -> dict | None:
        if v is None:
            return None
        ratio = v.ratio
        return {"commit": v.commit, "index": v.index, "side": v.side, "confident": v.confident, "why": v.why,
                "values": list(v.values), "ratio": None if ratio is None else {
                    "ratio": ratio.ratio, "low": ratio.low, "high": ratio.high,
                    "n_good": ratio.n_baseline, "n_commit": ratio.n_candidate},
                "records": [p.name for c, p in runs.records if c == v.commit]}

    summary = {
        "schema": SCHEMA, "scenario": {"name": scenario.name, "sha256": scenario.sha256,
                                       "seed": scenario.generator.seed},
        "repo": str(repo), "good": {"ref": refs[0], "commit": commits[0]}, "bad": {"ref": refs[1], "commit": commits[-1]},
        "metric": metric, "threshold": finding.threshold, "repeat": options.repeat,
        "commits": commits, "boundary": finding.boundary, "found": finding.found, "confident": finding.confident,
        "first_bad": None if finding.first_bad is None else commits[finding.first_bad],
        "last_good": None if finding.last_good is None else commits[finding.last_good],
        "skipped_between": finding.skipped_between, "reason": finding.reason,
        "ends": [verdict(finding.good), verdict(finding.bad)], "steps": [verdict(v) for v in finding.steps],
        "command": command, "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "migbench_version": __version__, "migbench_commit": git_commit(),
    }
    path = out / ("find--%s--%s--%s--%s.json" % (scenario.name, commits[0][:12], commits[-1][:12], metric))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path
