"""The reference every strategy is checked against: what `all` builds on one environment.

For one (generated project, environment, engine), cached on disk like the
project itself:
- `schema.json`: the snapshot of a database migrated with plain `migrate`;
- `ddl.jsonl`: every statement the schema editor executed doing it, with
  migration markers (bench/measure/worker/capture_ddl.py), which the `floor` replays;
- `meta.json`: where it came from, and the order in which the full plan
  first reaches each app (per-app migrates in that order).

The reference run is not measured (it runs uncapped, with the capture hooks).
When an `all` run finishes first on an environment with no reference yet, its
own schema becomes the reference (a plain `migrate` is what the reference is),
so a matrix whose baseline would take an hour to build uncapped (Django 1.8
on segfault-2015) does not pay for it twice; the DDL is then captured only
if a `floor` run asks for it.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from migbench.bench.engines import Database, Engine
from migbench.bench.engines.schema import Schema, fingerprint
from migbench.bench.env import environments
from migbench.bench.env.child import SETTINGS, project_env
from migbench.bench.env.environments import Environment
from migbench.bench.measure.worker import CAPTURE_DDL
from migbench.errors import MigbenchError
from migbench.provenance import git_commit
from migbench.targets import resolve_line

_TAIL = 20


@dataclass
class Baseline:
    path: Path
    schema: Schema
    fingerprint: str
    source: str  # "reference run" or "all run <run_id>"
    ddl: Path | None  # None until captured
    app_order: list[str]  # apps with migrations, in full-plan order (from the DDL markers)


def directory(project: Path, env: Environment, engine: Engine) -> Path:
    return environments.cache_root() / "baselines" / project_key(project) / env.key / engine.cache_key()


def project_key(project: Path) -> str:
    """Cache key of a project: its name plus a digest of its absolute path (two projects
    named alike in different places must not share a baseline)."""
    import hashlib

    where = str(Path(project).resolve())
    return "%s-%s" % (Path(project).name, hashlib.sha256(where.encode()).hexdigest()[:8])


def load(project: Path, env: Environment, engine: Engine) -> Baseline | None:
    """The cached baseline, or None."""
    where = directory(project, env, engine)
    try:
        meta = json.loads((where / "meta.json").read_text(encoding="utf-8"))
        schema = Schema.from_dict(json.loads((where / "schema.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    ddl = where / "ddl.jsonl"
    return Baseline(where, schema, fingerprint(schema), meta.get("source", "?"),
                    ddl if ddl.is_file() else None, meta.get("app_order", []))


def adopt(project: Path, env: Environment, database: Database, run_id: str) -> Baseline:
    """Make the schema of a finished `all` run the baseline (when there is none yet)."""
    engine = database.engine
    existing = load(project, env, engine)
    if existing is not None:
        return existing
    _write(directory(project, env, engine), engine.snapshot(database), None, "all run %s" % run_id, [])
    return load(project, env, engine)


def ensure(project: Path, env: Environment, engine: Engine, *, need_capture: bool = False,
           on_note=print) -> Baseline:
    """The baseline, running the reference `migrate` (with DDL capture) if it is missing.

    `need_capture`: the caller needs the DDL or the app order (floor, per-app,
    backward), which an adopted `all` run does not provide.
    """
    existing = load(project, env, engine)
    if existing is not None and (existing.ddl is not None or not need_capture):
        return existing
    # One reference migrate per machine: runs on several cluster slots of one machine need the same
    # baseline at once; the others wait for it instead of migrating the same project again.
    name = "baseline-%s-%s-%s" % (project_key(project), env.key, engine.cache_key())
    with environments.locked(re.sub(r"[^A-Za-z0-9._-]+", "_", name)):
        existing = load(project, env, engine)
        if existing is not None and (existing.ddl is not None or not need_capture):
            return existing
        return _reference(project, env, engine, existing, on_note)


def _reference(project: Path, env: Environment, engine: Engine, existing: Baseline | None, on_note) -> Baseline:
    """Run the reference migrate with DDL capture and cache its schema (the lock is the caller's)."""
    on_note("baseline: reference migrate of %s on Django %s / Python %s (not measured; cached)"
            % (project.name, env.django_version, env.python_version))
    work = Path(tempfile.mkdtemp(prefix="migbench-baseline-"))
    database = engine.fresh(work, "reference", resolve_line(env.django_version))
    try:
        ddl = work / "ddl.jsonl"
        argv = [str(env.python), str(CAPTURE_DDL), "--out", str(ddl), "--project", str(project),
                "--settings", SETTINGS, "--", "migrate", "--noinput", "-v", "0"]
        done = subprocess.run(argv, cwd=project, env=project_env(database), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace")
        if done.returncode != 0:
            last = done.stdout.strip().splitlines()[-_TAIL:]
            failed = _last_migration(ddl)
            raise MigbenchError("the reference migrate of %s failed on Django %s / Python %s, %s%sso no "
                                "baseline exists to validate against: %s"
                                % (project.name, env.django_version, env.python_version, engine.name,
                                   " in migration %s, " % failed if failed else ", ",
                                   last[-1] if last else "exit %d" % done.returncode))
        schema = engine.snapshot(database)
        if existing is not None and fingerprint(schema) != existing.fingerprint:
            on_note("baseline: warning: the reference run's schema differs from the adopted "
                    "one (%s); keeping the reference run's" % existing.source)
        _write(directory(project, env, engine), schema, ddl, "reference run", app_order(ddl))
    finally:
        engine.drop(database)
        shutil.rmtree(work, ignore_errors=True)
    return load(project, env, engine)


def _last_migration(ddl: Path) -> str | None:
    """The migration the capture saw last: the one a failed migrate stopped in."""
    last = None
    try:
        with open(ddl, encoding="utf-8") as lines:
            for line in lines:
                try:
                    last = json.loads(line).get("migration") or last
                except ValueError:
                    break
    except OSError:
        return None
    return last


def app_order(ddl: Path) -> list[str]:
    """Apps in the order the plan first reaches them, read from the capture's markers."""
    order: list[str] = []
    with open(ddl, encoding="utf-8") as lines:
        for line in lines:
            entry = json.loads(line)
            app = entry.get("migration", "").split(".", 1)[0]
            if app and app not in order:
                order.append(app)
    return order


def keep(path: Path, data) -> None:
    """A JSON file of a strategy's own next to a baseline's (per-app's order), written atomically."""
    _atomic_text(path, json.dumps(data, sort_keys=True, indent=1))


def _write(where: Path, schema: Schema, ddl: Path | None, source: str, order: list[str]) -> None:
    """Each file written to a temporary name and renamed: readers never see half a file."""
    where.mkdir(parents=True, exist_ok=True)
    if ddl is not None:
        _atomic_copy(ddl, where / "ddl.jsonl")
    _atomic_text(where / "schema.json", json.dumps(schema.to_dict(), sort_keys=True))
    meta = {"source": source, "app_order": order, "fingerprint": fingerprint(schema),
            "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "migbench_commit": git_commit()}
    _atomic_text(where / "meta.json", json.dumps(meta, sort_keys=True, indent=1))


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _atomic_copy(source: Path, path: Path) -> None:
    tmp = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
    shutil.copyfile(source, tmp)
    os.replace(tmp, path)
