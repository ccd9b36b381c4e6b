"""One record from a run's steps: the counted steps added up, with the run's provenance.

A strategy runs several children (per-app: one `migrate <app>` each); the
record adds the counted ones up: wall and CPU summed, the worst step's peak,
events and samples joined on one clock, the first failure named with its step.
Pure: builds the RunRecord, writes nothing.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from migbench import __version__
from migbench.bench.engines import Engine
from migbench.bench.measure import host
from migbench.bench.measure.step import MEASURED, StepResult
from migbench.bench.records import RunRecord
from migbench.generator.scenario import Scenario
from migbench.provenance import git_commit

from .matrix import PlannedCell
from .options import RunOptions
from .profiling import profile_block


def build_record(planned: PlannedCell, repeat: int, scenario: Scenario, options: RunOptions,
            command: list[str], manifest: dict, project: Path, results: list[StepResult],
            started_at, line, proof: dict | None, dev: dict | None, deploy: dict | None,
            variant, engine: Engine, strategy_notes: list[str] = (), server_memory: dict | None = None,
            profile: str | None = None) -> RunRecord:
    """One record for the run: the counted steps added up (wall summed, worst peak).
    `strategy_notes`: what the strategy says about its steps (per-app: the order and its rule).
    `server_memory`: a server engine's own peak during the run, kept apart from the child's
    (the cap applies to the child only). `profile`: the mode of a profiled run, whose record
    gets the `profile` block (bench/run/profiling.py)."""
    cell, env = planned.cell, planned.env
    failure = next((r for r in results if not r.ok), None)
    counted = [r for r in results if r.role == MEASURED]
    if failure is not None and failure.role != MEASURED:
        counted.append(failure)
    worst = max(counted, key=lambda r: r.peak_rss_bytes)
    last = failure or counted[-1]
    several = len(counted) > 1
    events, samples = _joined(counted) if several else (counted[0].events, counted[0].samples)
    notes = []
    if worst.limiter.get("caps") == "virtual":
        notes.append("RLIMIT_AS caps virtual address space, not RSS: not comparable to a cgroup cap")
    notes.extend(engine.notes(line))
    notes.extend(strategy_notes)
    if env.shim:
        notes.append("Django %s ran on Python %s through migbench's compatibility shim"
                      % (env.django_version, env.python_version))
    if env.source:
        notes.append("Django %s from %s %s%s" % (
            env.django_version, "the checkout" if env.source.get("kind") == "checkout" else "the clone",
            env.source.get("path"), ", with uncommitted changes (a snapshot of them was measured)"
            if env.source.get("dirty") else ""))
    if several:
        notes.append("%d steps: wall and CPU are their sums, peaks the worst step's (%s)"
                     % (len(counted), worst.name))
    return RunRecord(
        run_id=uuid.uuid4().hex,
        repeat=repeat,
        outcome=last.outcome if failure else "ok",
        outcome_reason=(("%s: %s" % (last.name, last.outcome_reason)) if failure and several
                        else "%d steps, each %s" % (len(counted), last.outcome_reason) if several
                        else last.outcome_reason),
        exit_code=last.exit_code,
        signal=last.signal,
        wall_s=round(sum(r.wall_s for r in counted), 4),
        cpu_user_s=round(sum(r.cpu_user_s for r in counted), 4),
        cpu_sys_s=round(sum(r.cpu_sys_s for r in counted), 4),
        peak_rss_bytes=worst.peak_rss_bytes,
        peak_rss_detail=worst.peak_rss_detail,
        limit_peak_bytes=max((r.limit_peak_bytes for r in counted if r.limit_peak_bytes), default=None),
        memory_limit_bytes=cell.memory_limit_bytes,
        limiter=worst.limiter,
        strategy=cell.strategy,
        django_version=env.django_version,
        python_version=env.python_version,
        shim=env.shim,
        database=_database(engine, planned.driver, server_memory),
        scenario={"name": scenario.name, "sha256": scenario.sha256, "seed": scenario.generator.seed,
                  "source": scenario.source, **({"vary": dict(scenario.vary)} if scenario.vary else {})},
        project=_project_summary(manifest, project),
        phases=counted[0].phases if not several else _summed_phases(counted),
        failed_during=None if not failure else ("%s: %s" % (failure.name, failure.failed_during)
                                                if several else failure.failed_during),
        last_migration=last.last_migration,
        events=events,
        samples={"interval_s": options.interval_s, "t": [t for t, _ in samples],
                 "rss": [rss for _, rss in samples]},
        error=None if not failure else {"stderr_tail": failure.stderr_tail, "stdout_tail": failure.stdout_tail,
                                        "step": failure.name},
        command={"migbench": command, "child": counted[0].argv,
                 "steps": [r.command for r in results]},
        host=host.describe(),
        started_at=started_at.isoformat(timespec="seconds"),
        migbench_version=__version__,
        migbench_commit=git_commit(),
        notes=notes,
        steps=[r.summary() for r in results],
        validation=proof,
        transform=variant.report if variant else None,
        dev_loop=dev,
        deploy=deploy,
        profile=profile_block(results, events, profile) if profile else None,
        django_source=django_source(planned),
    )


def django_source(planned) -> dict | None:
    """Where the env's Django came from (None: PyPI), with the ref this command named (a branch moves,
    and the environment of a commit is shared by every ref that named it)."""
    source = planned.env.source
    if not source:
        return None
    out = dict(source)
    if planned.request:
        from migbench.bench.env import sources

        requested = planned.request[0]
        if sources.is_spec(requested):  # the env may have been built from another copy of the same commit
            parsed = sources.parse(requested)
            out["path"] = str(parsed.location)
            if parsed.kind == "git":
                out["ref"] = parsed.ref
    return out


def _database(engine: Engine, driver: dict | None, server_memory: dict | None) -> dict:
    """The record's `database`: the engine's own description, the env's driver, the server's memory."""
    out = engine.describe()
    if driver is not None:
        out["driver"] = {key: driver.get(key) for key in ("module", "package", "version")}
    if server_memory is not None:
        out["server_memory"] = server_memory
    return out


def _joined(results: list[StepResult]) -> tuple[list, list]:
    """Events and samples of several steps on one clock: each step starts where the last ended."""
    events, samples, offset = [], [], 0.0
    for result in results:
        for event in result.events:
            events.append(dict(event, t=round(event["t"] + offset, 4), step=result.name))
        samples.extend([round(t + offset, 4), rss] for t, rss in result.samples)
        offset += result.wall_s
    return events, samples


def _summed_phases(results: list[StepResult]) -> dict:
    total: dict = {}
    for result in results:
        for phase, seconds in result.phases.items():
            if seconds is not None:
                total[phase] = round((total.get(phase) or 0.0) + seconds, 4)
            else:
                total.setdefault(phase, None)
    return total


def _project_summary(manifest: dict, project: Path) -> dict:
    counts = manifest.get("counts", {})
    fields = counts.get("fields", {})
    relations = counts.get("relations", {})
    scalar = sum(fields.values()) if isinstance(fields, dict) else fields
    relation_fields = sum(relations.get(k, 0) for k in ("foreign_key", "one_to_one", "many_to_many"))
    return {
        "apps": counts.get("apps", len(manifest.get("apps", []))),
        "models": counts.get("models"),
        "fields": scalar + relation_fields,
        "migrations": counts.get("migrations"),
        "django_target": manifest.get("django_target"),
        "path": str(project),
        # a real project (bench/projects): its own apps' share, and where the original lives
        **({"kind": "project", "own_apps": counts.get("own_apps"), "own_migrations": counts.get("own_migrations"),
            "user_tree": manifest.get("user_tree"), "user_settings": manifest.get("user_settings"),
            "launcher": manifest.get("launcher") or None}
           if manifest.get("kind") == "project" else {}),
    }
