"""Proof that a strategy did not change the result: schema equal to the baseline, rows writable.

After a strategy's steps finish `ok`, its database is introspected
(by its engine, bench/engines/) and compared with the baseline of the same environment
(bench/strategies/baseline.py): tables, columns with type, null and default, primary
keys, foreign keys, indexes, unique and check constraints. Any difference
fails the run's validation; the differing objects are named in the record.
Then one row is written into every model (bench/measure/worker/write_rows.py):
Django 1.9-1.11 on SQLite >= 3.26 can migrate "successfully" and leave
foreign keys pointing at dropped tables, which only a write reveals.

`backward` ends with the project's apps at zero, so its check is different:
every table of the project's apps is gone, the rest of the baseline is
untouched, and no migration of those apps is still recorded.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from migbench.bench.engines import Database
from migbench.bench.engines.schema import Schema, diff, fingerprint
from migbench.bench.env.child import SETTINGS, project_env
from migbench.bench.measure.worker import WRITE_ROWS

from .baseline import Baseline

MAX_DIFFERENCES = 200  # stored per record; the count is always complete


@dataclass
class Validation:
    ok: bool
    schema: str  # "identical" | "different" | "emptied" | "not emptied" | "became the baseline"
    baseline: dict  # {"source", "fingerprint"}
    fingerprint: str
    differences: list = field(default_factory=list)  # [{"object", "kind", "detail"}]
    difference_count: int = 0
    rows: str | None = None  # "ok: N models, M rows" | "failed: ..." | None (not run)

    def to_dict(self) -> dict:
        return asdict(self)


def compare(candidate: Schema, baseline: Baseline) -> Validation:
    differences = diff(baseline.schema, candidate)
    return Validation(
        ok=not differences, schema="identical" if not differences else "different",
        baseline={"source": baseline.source, "fingerprint": baseline.fingerprint},
        fingerprint=fingerprint(candidate),
        differences=[asdict(d) for d in differences[:MAX_DIFFERENCES]],
        difference_count=len(differences),
    )


def emptied(database: Database, baseline: Baseline, project_apps: list[str], plan: list[str] | None = None
            ) -> Validation:
    """After `backward`: the project's tables gone, everything else as in the baseline.

    `plan` (a real project's full plan, "app.name" each, from its manifest): other apps'
    migrations that depend on the project's (a third-party migration listed in a project
    migration's `run_before`, as wagtail's `home` does with wagtailcore) are unapplied with
    them by Django; their apps' differences are then expected, and named in `schema`.
    """
    prefixes = tuple(app + "_" for app in project_apps)
    expected = Schema(baseline.schema.engine,
                      tuple(t for t in baseline.schema.tables if not t.name.startswith(prefixes)))
    result = compare(database.engine.snapshot(database), Baseline(baseline.path, expected, fingerprint(expected),
                                                 baseline.source + ", without the project's tables",
                                                 None, []))
    taken = _taken_along(database, project_apps, plan or [])
    if taken and not result.ok:
        apps = sorted({name.split(".", 1)[0] for name in taken})
        pattern = re.compile(r"\b(%s)_" % "|".join(re.escape(app) for app in apps))
        left_over = [d for d in result.differences if not pattern.search(d["object"])]
        result.ok = not left_over
        result.differences, result.difference_count = left_over, len(left_over)
    left = database.engine.recorded_migrations(database, project_apps)
    result.schema = "emptied" if result.ok else "not emptied"
    if taken:
        result.schema += " (with %d migrations of other apps that depend on them: %s%s)" % (
            len(taken), ", ".join(taken[:3]), ", ..." if len(taken) > 3 else "")
    if left:
        result.ok = False
        result.differences.append({"object": "django_migrations", "kind": "extra",
                                   "detail": "still recorded: %s" % ", ".join(left[:10])})
        result.difference_count += 1
    return result


def _taken_along(database: Database, project_apps: list[str], plan: list[str]) -> list[str]:
    """Migrations of other apps in the plan that are no longer recorded after going back."""
    others = [name for name in plan if name.split(".", 1)[0] not in project_apps]
    if not others:
        return []
    recorded = set(database.engine.recorded_migrations(database, sorted({n.split(".", 1)[0] for n in others})))
    return [name for name in others if name not in recorded]


def write_rows(python: Path, project: Path, database: Database, project_apps: list[str],
               timeout: float = 1800) -> str:
    """One row into every model of the project's apps; "ok: ..." or "failed: <first error>"."""
    argv = [str(python), str(WRITE_ROWS), "--project", str(project), "--settings", SETTINGS,
            "--apps", ",".join(project_apps)]
    try:
        done = subprocess.run(argv, cwd=project, env=project_env(database), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return "failed: the write probe timed out after %ds" % timeout
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        last = (done.stderr.strip().splitlines() or ["exit %d" % done.returncode])[-1]
        return "failed: %s" % last
    if report.get("ok"):
        return "ok: %d models, %d rows" % (report.get("models", 0), report.get("rows", 0))
    first = (report.get("errors") or [{}])[0]
    return "failed: %s: %s" % (first.get("model", "?"), first.get("error", "?"))
