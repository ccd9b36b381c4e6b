"""One measured child process of a run: a `manage.py` command or the floor's SQL replay.

A strategy is a sequence of steps on one database (per-app is one `migrate
<app>` per app, backward is a forward `migrate` then one `migrate <app> zero`
per app, ...). Every step gets its own limiter (a fresh cgroup, so its peak is
its own), the same supervisor as any run, and the worker's event timeline; the
result is a StepResult the record keeps. The runner adds the steps of a
strategy up: wall times summed, the worst peak, the first failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from migbench.bench.env.child import SETTINGS, launcher_options, project_env
from migbench.bench.env.environments import MARKER as ENV_MARKER
from migbench.bench.records import events as timeline

from . import limiters
from .outcome import classify
from .supervisor import supervise
from .worker import HERE as WORKER_DIR
from .worker import MEASURE, TESTDB_DIR

_TAIL_LINES = 30

# Roles: what a step's time counts towards.
MEASURED = "measured"  # the strategy itself: summed into the record's wall and peak
SETUP = "setup"  # brings the database where the strategy starts (backward's forward pass)
DEV = "dev"  # the daily commands: makemigrations --check, migrate --plan, test database
DEPLOY = "deploy"  # migrations zero on an already migrated database
COUNTERPART = "counterpart"  # timed to compare with the measured steps, not counted (rollback's re-apply)


@dataclass(frozen=True)
class StepSpec:
    """What to run: `args` after `manage.py` (kind "manage") or the DDL file (kind "sql")."""

    name: str
    role: str
    args: tuple[str, ...] = ()
    kind: str = "manage"  # "manage" | "sql"
    project: str = "variant"  # "variant" (the strategy's project) | "original"
    database: str = "main"  # "main" | "deploy" (a second database, zero's deploy flow)
    verdict: str | None = None  # "no-changes" | "nothing-to-do": what the output must say


def judge(rule: str | None, exit_code: int | None, stdout: str) -> str | None:
    """The verdict of a check command from its whole output (not just the tail)."""
    if rule is None:
        return None
    if rule == "no-changes":  # makemigrations --check (exit 1 on changes) or the 1.7-1.9 dry run
        if "Migrations for" in stdout:
            return "changes detected"
        return "no changes" if exit_code == 0 else "failed"
    if rule == "nothing-to-do":  # migrate --plan, migrate --check (exit 1 if unapplied), showmigrations
        if exit_code != 0:
            return "unapplied migrations" if exit_code == 1 else "failed"
        if "No planned migration operations" in stdout:
            return "nothing to do"
        if "Planned operations:" in stdout or "[ ]" in stdout:
            return "unapplied migrations"
        return "nothing to do"
    raise ValueError(rule)


@dataclass
class StepResult:
    name: str
    role: str
    command: list
    outcome: str
    outcome_reason: str
    exit_code: int | None
    signal: str | None
    wall_s: float
    cpu_user_s: float
    cpu_sys_s: float
    peak_rss_bytes: int
    limit_peak_bytes: int | None
    oom_kills: int | None
    phases: dict
    failed_during: str | None
    last_migration: str | None
    stdout_tail: str = ""
    stderr_tail: str = ""
    verdict: str | None = None  # what the command said, for dev/deploy checks ("no changes", ...)
    events: list = field(default_factory=list)
    samples: list = field(default_factory=list)  # [[t, rss], ...]
    limiter: dict = field(default_factory=dict)
    peak_rss_detail: dict = field(default_factory=dict)
    argv: list = field(default_factory=list)  # the child's argv as run (temporary paths included)
    profile: dict | None = None  # a profiled step: the worker's profile.json (or its last memory.json)
    profile_files: list = field(default_factory=list)  # (kind, path) of its exported files, under the workdir

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def summary(self) -> dict:
        """The step as stored in a record: no events or samples (the record keeps those once)."""
        data = asdict(self)
        for bulky in ("events", "samples", "limiter", "peak_rss_detail", "argv", "profile", "profile_files"):
            data.pop(bulky)
        if self.ok:
            data.pop("stdout_tail")
            data.pop("stderr_tail")
        return data


@dataclass
class StepContext:
    """Where a run's steps execute: interpreter, projects, databases, limits."""

    python: Path
    projects: dict  # {"variant": Path, "original": Path}
    # {"main": ..., "deploy": ...}: an engine's Database handles (bench/engines/base.py). A step
    # uses only their child_env() and, for the floor, replay_argv(): measure/ knows no engine.
    databases: dict
    workdir: Path
    limiter_name: str
    memory_limit_bytes: int | None
    timeout_s: float | None
    interval_s: float
    ddl: Path | None = None  # capture_ddl.py output, for kind "sql"
    profile: str | None = None  # "time" | "memory": profile the measured manage.py steps (a profiled run)


def profiles(spec: StepSpec, ctx: StepContext) -> bool:
    """Is this step profiled? Only the strategy's own measured manage.py commands are."""
    return ctx.profile is not None and spec.role == MEASURED and spec.kind == "manage"


def child_argv(spec: StepSpec, ctx: StepContext, events_path: Path) -> list[str]:
    if spec.kind == "sql":
        return ctx.databases[spec.database].replay_argv(ctx.python, ctx.ddl, events_path)
    project = ctx.projects[spec.project]
    profile = (["--profile", ctx.profile, "--profile-dir", str(events_path.parent / "profile")]
               if profiles(spec, ctx) else [])
    return ([str(ctx.python), str(MEASURE), "--project", str(project), "--settings", SETTINGS,
             "--events", str(events_path)] + launcher_options(project) + profile + ["--"] + list(spec.args))


def child_job(spec: StepSpec, ctx: StepContext, argv: list[str], env: dict[str, str],
              scratch: Path) -> limiters.ChildJob:
    """The step's child with what a container or VM needs to run it: the paths it touches."""
    database = ctx.databases[spec.database]
    paths = [ctx.projects[spec.project], scratch, *database.host_paths()]
    if spec.kind == "sql" and ctx.ddl is not None:
        paths.append(ctx.ddl.parent)
    environment = Path(ctx.python).parent.parent
    return limiters.ChildJob(
        argv=tuple(argv), env=env, cwd=Path(ctx.projects[spec.project]), scratch=scratch,
        paths=tuple(paths), read_only=(WORKER_DIR,),
        environment=environment if (environment / ENV_MARKER).is_file() else None,
        network=database.over_network, interval_s=ctx.interval_s, timeout_s=ctx.timeout_s,
        stdout=scratch / "stdout.txt", stderr=scratch / "stderr.txt")


def run_child(job: limiters.ChildJob, limiter: limiters.Limiter, stdout, stderr,
              timeout_s: float | None, interval_s: float,
              on_sample: Callable[[float, int], None] | None = None):
    """(child, reading, described): `job` run to its end under `limiter`, as the limiter observed it.

    The one place a limiter's hooks are called in order: wrap the job (a container or a guest
    may be built here, before the clock starts), supervise the command, ask the limiter what the
    child did (behind a wall, its sampler's answer), read the cap's counters, describe the cap.
    """
    with limiter:
        command, command_env = limiter.wrap(job)
        if timeout_s is not None:
            timeout_s += limiter.start_stop_allowance
        outside = supervise(command, cwd=job.cwd, env=command_env, stdout=stdout, stderr=stderr,
                            preexec=limiter.preexec, timeout=timeout_s, interval=interval_s,
                            on_sample=None if limiter.inside else on_sample)
        child = limiter.observed(outside)
        return child, limiter.read(), limiter.describe()


def run_step(spec: StepSpec, ctx: StepContext,
             on_sample: Callable[[float, int], None] | None = None) -> StepResult:
    """Run one step under its own limiter; classify it like any run."""
    scratch = Path(tempfile.mkdtemp(prefix="step-", dir=ctx.workdir))
    try:
        events_path = scratch / "events.jsonl"
        (scratch / "profile").mkdir()
        argv = child_argv(spec, ctx, events_path)
        env = project_env(ctx.databases[spec.database])
        if spec.args[:1] == ("test",):
            env["PYTHONPATH"] = str(TESTDB_DIR)
        job = child_job(spec, ctx, argv, env, scratch)
        limiter = limiters.choose(ctx.limiter_name, ctx.memory_limit_bytes)
        with open(scratch / "stdout.txt", "wb") as out, open(scratch / "stderr.txt", "wb") as err:
            child, reading, described = run_child(job, limiter, out, err, ctx.timeout_s, ctx.interval_s,
                                                  on_sample)
        stdout_tail = tail(scratch / "stdout.txt")
        verdict = judge(spec.verdict, child.exit_code,
                        (scratch / "stdout.txt").read_text(encoding="utf-8", errors="replace")
                        if spec.verdict else "")
        stderr_tail = tail(scratch / "stderr.txt")
        events = timeline.read_events(events_path, child.started_at)
        profile, profile_files = _keep_profile(spec, ctx, scratch / "profile")
        if profile and profile.get("started_epoch"):  # interpreter start-up: spawn to the worker's clock
            profile["startup_s"] = round(min(max(0.0, profile["started_epoch"] - child.started_at), child.wall_s), 6)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    outcome = classify(
        exit_code=child.exit_code, signal_number=child.signal, timed_out=child.timed_out,
        oom_kills=reading.oom_kills, stderr_tail=stderr_tail,
        memory_error_event=any(e["event"] == "memory_error" for e in events),
        limit_bytes=ctx.memory_limit_bytes, peak_bytes=reading.peak_bytes or child.peak_rss_bytes,
    )
    return StepResult(
        name=spec.name, role=spec.role, command=list(spec.args) if spec.kind == "manage" else ["<floor sql>"],
        outcome=outcome.name, outcome_reason=outcome.reason,
        exit_code=child.exit_code, signal=child.signal_name,
        wall_s=round(child.wall_s, 4), cpu_user_s=round(child.cpu_user_s, 4),
        cpu_sys_s=round(child.cpu_sys_s, 4), peak_rss_bytes=child.peak_rss_bytes,
        limit_peak_bytes=reading.peak_bytes, oom_kills=reading.oom_kills,
        phases=timeline.phases(events, child.wall_s),
        failed_during=None if outcome.name == "ok" else timeline.failed_during(events),
        last_migration=timeline.last_migration(events),
        stdout_tail=stdout_tail, stderr_tail=stderr_tail, verdict=verdict,
        events=events, samples=[[t, rss] for t, rss in child.samples],
        limiter=dict(described, oom_kills=reading.oom_kills, reading=reading.details),
        peak_rss_detail={"wait4_maxrss_bytes": child.maxrss_bytes,
                         "wait4_maxrss_trusted": child.maxrss_trusted,
                         "parent_rss_at_fork_bytes": child.parent_rss_bytes,
                         "vmhwm_bytes": child.hwm_bytes,
                         "sampled_tree_bytes": child.sampled_peak_bytes,
                         "samples": len(child.samples)},
        argv=argv, profile=profile, profile_files=profile_files,
    )


def _keep_profile(spec: StepSpec, ctx: StepContext, directory: Path) -> tuple[dict | None, list]:
    """The worker's profile of a profiled step, and its exported files moved out of the scratch dir.

    A child killed before it finished leaves no profile.json; a memory profile's last snapshot
    (memory.json, written at each one) is then what there is.
    """
    if not profiles(spec, ctx):
        return None, []

    def read(name: str) -> dict | None:
        try:
            return json.loads((directory / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    summary = read("profile.json")
    if summary is None:  # killed: the stages until the last checkpoint, the last memory snapshot
        summary, memory = read("partial.json"), read("memory.json")
        if summary is None and memory is None:
            return None, []
        summary = dict(summary or {"mode": ctx.profile, "files": {}}, memory=memory,
                       outcome="killed: the profile up to its last checkpoint (stages every 2 s, memory at "
                               "its last snapshot)")
    keep = ctx.workdir / "profile-files" / re.sub(r"[^A-Za-z0-9._-]+", "_", spec.name)
    keep.mkdir(parents=True, exist_ok=True)
    files = []
    for kind, name in sorted((summary.get("files") or {}).items()):
        source = directory / name
        if source.is_file():
            files.append((kind, Path(shutil.move(str(source), str(keep / name)))))
    return summary, files


def tail(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-_TAIL_LINES:])
