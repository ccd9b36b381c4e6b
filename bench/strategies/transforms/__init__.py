"""Transformations of a project (generated, or a prepared copy of a real one): squash,
squash-final, migrations zero, optimize. Side effects: writes `dest` and a scratch directory.

`transform(kind, source, dest, env)` copies the project `source` to `dest` and
changes the copy with the target Django's own commands (squashmigrations,
makemigrations, optimizemigration), run in child processes of the environment
`env` on a scratch SQLite file, plus the manual steps a Django engineer does
by hand after them. Only the project's own apps are changed (layout.py: a real
project's manifest names them and their migrations folders); third-party apps
migrate as they are, and migrations of theirs that name a deleted migration of an
own app keep working (the replacing migration keeps `replaces`):

- `squash` (squash.py): squashmigrations per project app, in plan order, then
  the "manual porting" Django asks for (porting.py); replaced files and
  `replaces` stay (Django's first step);
- `squash-final` (squash.py): `squash`, then Django's follow-up (edits.py):
  delete the replaced files, repoint dependencies, drop `replaces`;
- `zero` (zero.py): delete every migration of the project apps, makemigrations
  them again, check makemigrations --check is clean; data migrations are lost
  by design (the report's `losses` lists each RunPython and RunSQL dropped);
- `optimize` (optimize.py, Django >= 4.1): optimizemigration on every migration.

After each step the whole project is loaded again (bench/measure/worker/graph.py via
graphinfo.py: every migration imports, the full plan has no cycle) and at the
end it migrates from empty once (base.py); an app whose step fails is restored
byte for byte and reported `failed` with a one-line reason, and the next app
goes on. Unusable input raises MigbenchError with one line and leaves no
`dest`. See docs/transforms.md.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from migbench.bench.env.environments import Environment
from migbench.errors import MigbenchError
from migbench.targets import resolve_line

from .edits import remove_replaces, rewrite_dependencies
from .graphinfo import graph_info, graph_reason
from .layout import Layout, read_layout
from .optimize import Optimize
from .porting import PortingError, port_file, port_functions, referenced_modules
from .report import AppResult, TransformReport
from .squash import Squash, SquashFinal
from .zero import Zero

TRANSFORMS = ("squash", "squash-final", "zero", "optimize")
_JOBS = {"squash": Squash, "squash-final": SquashFinal, "zero": Zero, "optimize": Optimize}

__all__ = [
    "TRANSFORMS", "AppResult", "TransformReport", "transform", "graph_info", "graph_reason",
    "PortingError", "port_file", "port_functions", "referenced_modules", "rewrite_dependencies",
    "remove_replaces", "Layout", "read_layout",
]


def transform(kind: str, source: Path, dest: Path, env: Environment, *, on_note=print,
              engine=None, baseline=None) -> TransformReport:
    """Copy `source` to `dest` (which must not exist), transform the copy with `env`'s Django, report.

    Per-app failures are in the report; unusable input raises MigbenchError and leaves no `dest`.
    `engine` is where a transformed app must migrate to be kept (default: the embedded SQLite;
    a server engine must be serving): a squashed migration that runs on SQLite can fail on
    PostgreSQL or MariaDB, and the other way round, as it would for a user squashing there.
    `baseline`: the original's schema on that engine if the caller has it (else migrated here).
    """
    if kind not in TRANSFORMS:
        raise MigbenchError("unknown transformation %r; choose one of %s" % (kind, ", ".join(TRANSFORMS)))
    source, dest = Path(source), Path(dest)
    if kind == "optimize" and not resolve_line(env.django_version).has_optimizemigration:
        raise MigbenchError("optimizemigration needs Django >= 4.1; Django %s lacks it" % env.django_version)
    layout = read_layout(source)
    if dest.exists():
        raise MigbenchError("%s already exists; a transformation writes a new directory" % dest)
    shutil.copytree(source, dest, symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3", "migbench-transform.json"))
    try:
        with tempfile.TemporaryDirectory(prefix="migbench-transform-") as scratch:
            return _JOBS[kind](source, dest, env, layout, Path(scratch), on_note, engine, baseline).run()
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
