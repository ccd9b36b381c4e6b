"""Transformed copies of a project (squashed, reset to zero, optimized), cached.

A transformation runs the target Django's own commands (squashmigrations,
makemigrations, optimizemigration), so its output depends on the project and
on the exact (Python, Django) pair; it is cached per pair next to the
projects, with the transformation's report, and rebuilt when the code that
makes it changes (its source digest is part of the key). The original
project is never touched: a variant is a copy. For a real project the
"original" is already migbench's prepared copy (bench/projects/), and only its
own apps are transformed (transforms/layout.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from migbench.bench.env import environments
from migbench.bench.env.environments import Environment
from migbench.bench.measure.worker import GRAPH

REPORT = "migbench-transform.json"
_SOURCES = (Path(__file__).parent / "transforms", GRAPH)


@dataclass
class Variant:
    path: Path
    report: dict  # TransformReport.to_dict()


@functools.lru_cache(maxsize=None)
def code_digest() -> str:
    """Digest of the transformation code: a change makes new variants."""
    digest = hashlib.sha256()
    for path in _SOURCES:
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else []
        for file in files:
            digest.update(file.relative_to(path.parent).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:8]


def directory(project: Path, kind: str, env: Environment, engine=None) -> Path:
    """Per project, transformation, environment and (for a server engine) the engine it was
    checked on: which apps a squash keeps depends on where their squashed migrations run."""
    from .baseline import project_key

    on = "" if engine is None or engine.name == "sqlite" else "-" + engine.cache_key()
    return (environments.cache_root() / "variants" / project_key(project)
            / ("%s-%s%s-t%s" % (kind, env.key, on, code_digest())))


def ensure(project: Path, kind: str, env: Environment, on_note=print, engine=None, baseline=None) -> Variant:
    """The `kind` variant of `project` for `env`, transforming a copy if not cached; checked on
    `engine` (default SQLite; a server engine must be serving) against `baseline`, the original's
    schema there, when the caller has it."""
    from .transforms import transform

    where = directory(project, kind, env, engine)
    if (where / REPORT).is_file():
        return Variant(where, json.loads((where / REPORT).read_text(encoding="utf-8")))
    on_note("transforming %s: %s with Django %s / Python %s (cached in %s)"
            % (project.name, kind, env.django_version, env.python_version, where))
    where.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".%s-" % kind, dir=where.parent))
    try:
        report = transform(kind, project, staging / "project", env, on_note=on_note, engine=engine,
                           baseline=baseline).to_dict()
        (staging / "project" / REPORT).write_text(json.dumps(report, sort_keys=True, indent=1),
                                                 encoding="utf-8")
        try:
            os.rename(staging / "project", where)
        except OSError:  # another migbench made it meanwhile: use theirs
            if not (where / REPORT).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Variant(where, json.loads((where / REPORT).read_text(encoding="utf-8")))
