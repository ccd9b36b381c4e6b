"""What a record holds: `RunRecord` (one run), `Cell` (what varies in a matrix),
and `SCHEMA`, the format version this migbench writes.

Field meanings are in docs/records.md; how records of older formats become a
`RunRecord` is in formats.py. No side effects: nothing here reads or writes files.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

# The version this migbench writes (the writer default of RunRecord.schema).
# formats.LOADERS must have a loader for it; bumping it is step 2 of adding a
# version (formats.py says all three steps).
SCHEMA = "migbench.run/1"
# Outcomes that mean "the memory cap was too small"; `ok` means it was enough.
NEEDS_MORE = ("oom-killed", "segfault", "memory-error")


# The dev loop's test database with migrations: named "test database" before the test-database
# modes (bench/strategies/testdb.py) came; readers take either.
TEST_DATABASE_STEP = "test database (migrations)"
FORMER_TEST_DATABASE_STEP = "test database"


def test_database_step(dev_loop: dict | None) -> dict | None:
    """The dev loop's test-database-with-migrations step of a record, under its current or former name."""
    dev_loop = dev_loop or {}
    return dev_loop.get(TEST_DATABASE_STEP) or dev_loop.get(FORMER_TEST_DATABASE_STEP)


@dataclass(frozen=True)
class Cell:
    """What varies in a matrix; records of one cell are repeats of each other."""

    scenario: str
    scenario_sha256: str
    strategy: str
    django_version: str
    python_version: str
    memory_limit_bytes: int | None
    database: str  # engine name: "sqlite", "postgresql", ...

    @property
    def memory_label(self) -> str:
        from migbench.units import format_size

        return "none" if self.memory_limit_bytes is None else format_size(self.memory_limit_bytes)

    def label(self) -> str:
        """Short human form for progress lines and tables."""
        return "%s Django %s / Python %s / cap %s" % (
            self.strategy, self.django_version, self.python_version, self.memory_label)

    def slug(self, repeat: int) -> str:
        """File name stem; sorts by scenario, strategy, versions, cap, repeat."""
        parts = (self.scenario, self.scenario_sha256[:8], self.strategy,
                 "django" + self.django_version, "py" + self.python_version,
                 "mem" + self.memory_label, self.database, "r%d" % repeat)
        return re.sub(r"[^A-Za-z0-9._-]+", "_", "--".join(parts))

    def profile_slug(self, mode: str) -> str:
        """File name stem of the cell's profiled run of `mode` (one per cell and mode)."""
        return self.slug(0).rsplit("--", 1)[0] + "--profile-" + re.sub(r"[^A-Za-z0-9._-]+", "_", mode)


@dataclass
class RunRecord:
    """Everything known about one run. Field meanings: docs/records.md."""

    run_id: str
    repeat: int
    outcome: str
    outcome_reason: str
    exit_code: int | None
    signal: str | None
    wall_s: float
    cpu_user_s: float
    cpu_sys_s: float
    peak_rss_bytes: int
    peak_rss_detail: dict  # {"wait4_maxrss_bytes", "sampled_tree_bytes"}
    limit_peak_bytes: int | None
    memory_limit_bytes: int | None
    limiter: dict
    strategy: str
    django_version: str
    python_version: str
    shim: bool
    database: dict
    scenario: dict  # {"name", "sha256", "seed", "source"}
    project: dict  # {"apps", "models", "fields", "migrations", "django_target", "path"} (+ a real project's "kind", ...)
    phases: dict
    failed_during: str | None
    last_migration: str | None
    events: list
    samples: dict  # {"interval_s", "t": [...], "rss": [...]}
    error: dict | None  # {"stderr_tail", "stdout_tail"} when not ok
    command: dict  # {"migbench": argv of the run, "child": argv of the measured process}
    host: dict
    started_at: str  # ISO 8601 UTC
    migbench_version: str
    schema: str = SCHEMA
    # Added within migbench.run/1: defaults for writers that leave them out. What a
    # reader fills in for an older record is formats.V1_ADDED's, not these.
    notes: list = field(default_factory=list)
    migbench_commit: str = ""  # git commit of the measuring checkout ("+dirty": uncommitted changes)
    steps: list = field(default_factory=list)  # every child of the strategy, in order (bench/measure/step.py)
    validation: dict | None = None  # schema vs the baseline, rows written (bench/strategies/validation.py)
    transform: dict | None = None  # what squash/zero/optimize did to the copy of the project
    dev_loop: dict | None = None  # makemigrations --check, migrate --plan, test database: name -> step
    deploy: dict | None = None  # zero only: --fake on a database migrated with the old history
    profile: dict | None = None  # a profiled run only (--profile): stages, functions, memory (profiles.py)
    concurrency: dict | None = None  # other measured runs on the machine during this one (sharing.py)
    cluster: dict | None = None  # the Dask cluster and worker that ran it (--cluster, --workers), else None
    django_source: dict | None = None  # Django from a checkout or a commit (bench/env/sources.py); None: PyPI

    def problems(self) -> list[str]:
        """Why this run's result cannot be trusted as equivalent to `all` (empty: it can)."""
        found = []
        if self.validation and not self.validation.get("ok"):
            if self.validation.get("difference_count"):
                found.append("schema differs from the baseline in %d objects: %s" % (
                    self.validation["difference_count"],
                    "; ".join("%s %s" % (d["object"], d["kind"]) for d in self.validation["differences"][:3])))
            rows = self.validation.get("rows")
            if rows and not rows.startswith("ok"):
                found.append("rows: %s" % rows)
        for name, step in (self.dev_loop or {}).items():
            if step.get("verdict") not in (None, "no changes", "nothing to do"):
                found.append("%s: %s" % (name, step["verdict"]))
        if self.deploy and not self.deploy.get("ok"):
            found.append("deploy: %s" % self.deploy.get("verdict"))
        return found

    def to_json(self) -> str:
        """Compact: a 30-minute run holds ~90,000 RSS samples; `python -m json.tool` pretty-prints."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")) + "\n"

    def cell(self) -> Cell:
        return Cell(
            scenario=self.scenario["name"], scenario_sha256=self.scenario["sha256"],
            strategy=self.strategy, django_version=self.django_version,
            python_version=self.python_version, memory_limit_bytes=self.memory_limit_bytes,
            database=self.database["engine"],
        )
