"""The result record: one JSON file per run, a stable contract (docs/records.md).

Reports and comparisons are built from these files only, never from a run's
memory, so records from any machine and any version of migbench can be read
later. The schema is versioned (`schema`); readers accept the version they
know and say clearly when a file is not a record.

The store never overwrites: a record is written to a temporary name and
hard-linked into place, which fails if the name is taken, so two runs racing
for one cell cannot clobber each other, and an interrupted write leaves no
half file under a record's name.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from migbench.errors import MigbenchError

SCHEMA = "migbench.run/1"
# Outcomes that mean "the memory cap was too small"; `ok` means it was enough.
NEEDS_MORE = ("oom-killed", "segfault", "memory-error")


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
    project: dict  # {"apps", "models", "fields", "migrations", "django_target", "path"}
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
    notes: list = field(default_factory=list)
    migbench_commit: str = ""  # git commit of the measuring checkout ("+dirty": uncommitted changes)
    steps: list = field(default_factory=list)  # every child of the strategy, in order (bench/steps.py)
    validation: dict | None = None  # schema vs the baseline, rows written (bench/validation.py)
    transform: dict | None = None  # what squash/zero/optimize did to the copy of the project
    dev_loop: dict | None = None  # makemigrations --check, migrate --plan, test database: name -> step
    deploy: dict | None = None  # zero only: --fake on a database migrated with the old history

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


# Added later within schema 1, so older records may lack them.
_OPTIONAL = ("notes", "migbench_commit", "steps", "validation", "transform", "dev_loop", "deploy")
_REQUIRED = tuple(f.name for f in fields(RunRecord) if f.name not in _OPTIONAL)


def record_from_dict(data: object, source: str) -> RunRecord:
    """A RunRecord from parsed JSON, or one clear error naming the file and the problem."""
    if not isinstance(data, dict):
        raise MigbenchError("%s: not a migbench result record (expected a JSON object)" % source)
    schema = data.get("schema")
    if schema != SCHEMA:
        raise MigbenchError("%s: not a migbench result record (schema %r, expected %r)"
                            % (source, schema, SCHEMA))
    missing = [name for name in _REQUIRED if name not in data]
    if missing:
        raise MigbenchError("%s: result record lacks %s; it was truncated or edited by hand"
                            % (source, ", ".join(missing)))
    known = {f.name for f in fields(RunRecord)}
    return RunRecord(**{k: v for k, v in data.items() if k in known})


def load_record(path: Path) -> RunRecord:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise MigbenchError("%s: cannot read result record (%s)" % (path, error.strerror)) from None
    if not text.strip():
        raise MigbenchError("%s: empty file, not a result record" % path)
    try:
        data = json.loads(text)
    except ValueError as error:
        raise MigbenchError("%s: malformed JSON (%s); not a result record" % (path, error)) from None
    return record_from_dict(data, str(path))


class ResultStore:
    """A directory of records: one file per (cell, repeat), never overwritten."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path_for(self, cell: Cell, repeat: int) -> Path:
        return self.root / (cell.slug(repeat) + ".json")

    def done(self, cell: Cell, repeat: int) -> bool:
        """True when a readable record for this cell and repeat exists (resume skips it)."""
        path = self.path_for(cell, repeat)
        if not path.exists():
            return False
        try:
            load_record(path)
        except MigbenchError:
            return False
        return True

    def write(self, record: RunRecord) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.path_for(record.cell(), record.repeat)
        tmp = final.with_name(".%s.%d.tmp" % (final.name, os.getpid()))
        tmp.write_text(record.to_json(), encoding="utf-8")
        try:
            os.link(tmp, final)
        except FileExistsError:
            if self._unreadable(final):
                # A torn file from an older crash cannot be a result; keep it aside.
                os.replace(final, final.with_suffix(".json.broken"))
                os.link(tmp, final)
            else:
                raise MigbenchError("%s already exists; results are never overwritten "
                                    "(use another --out)" % final) from None
        finally:
            tmp.unlink(missing_ok=True)
        return final

    def records(self) -> list[RunRecord]:
        return [load_record(p) for p in sorted(self.root.glob("*.json"))]

    @staticmethod
    def _unreadable(path: Path) -> bool:
        try:
            load_record(path)
        except MigbenchError:
            return True
        return False
