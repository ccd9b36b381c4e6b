"""Cached dumps of a migrated test database: what "test database (from dump)" restores.

Teams that find `migrate` too slow for every test run keep a dump of a
migrated test database and load it instead. One dump per (project,
environment, engine), cached like the baselines (bench/strategies/baseline.py)
under `<cache>/testdb-dumps/<project>/<environment>/<engine>/`:

- `test-<digest><suffix>`: the dump itself, in the engine's format (SQLite: a
  copy of the file; PostgreSQL: pg_dump's custom format; MariaDB: SQL). The
  digest is of the project's migration files, so a changed history (a real
  project's copy refreshed in place) never restores a stale schema; an older
  dump of the same directory is removed when a new one is written;
- `meta.json`: where it came from and how it was made.

The dump is made once, from the test database `test --keepdb` has just made
and kept (testdb.py), unmeasured; every later run only restores it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from migbench.bench.engines import Database, Engine
from migbench.bench.env import environments
from migbench.bench.env.environments import Environment

from .baseline import keep, project_key


@dataclass(frozen=True)
class Dump:
    path: Path
    made_now: bool  # made by this run (from its kept test database), else found in the cache
    how: str  # the program or method that made it
    size_bytes: int

    def describe(self) -> dict:
        """What the record keeps about the dump a run restored."""
        return {"made_now": self.made_now, "how": self.how, "size_bytes": self.size_bytes}


def directory(project: Path, env: Environment, engine: Engine) -> Path:
    return environments.cache_root() / "testdb-dumps" / project_key(project) / env.key / engine.cache_key()


def migrations_digest(project: Path) -> str:
    """Digest of every migration file of the project's tree (path and bytes), in a stable order."""
    digest = hashlib.sha256()
    root = Path(project)
    for path in sorted(root.rglob("migrations/*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def find(project: Path, env: Environment, engine: Engine) -> Dump | None:
    """The cached dump for the project's current migrations, or None."""
    where = directory(project, env, engine)
    path = where / ("test-%s%s" % (migrations_digest(project)[:16], engine.dump_suffix))
    if not path.is_file():
        return None
    try:
        how = json.loads((where / "meta.json").read_text(encoding="utf-8")).get("how", "?")
    except (OSError, ValueError):
        how = "?"
    return Dump(path, False, how, path.stat().st_size)


def ensure(project: Path, env: Environment, engine: Engine, source: Database) -> Dump:
    """The cached dump, made from `source` (a migrated test database) when there is none.

    Written to a temporary name and renamed: a reader never restores half a dump,
    and two runs making the same one at once both end with a whole file.
    """
    found = find(project, env, engine)
    if found is not None:
        return found
    where = directory(project, env, engine)
    where.mkdir(parents=True, exist_ok=True)
    digest = migrations_digest(project)
    path = where / ("test-%s%s" % (digest[:16], engine.dump_suffix))
    tmp = where / (".%s.%d.tmp" % (path.name, os.getpid()))
    try:
        how = engine.dump(source, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    for stale in where.glob("test-*%s" % engine.dump_suffix):
        if stale != path:
            stale.unlink(missing_ok=True)
    keep(where / "meta.json", {"how": how, "migrations_digest": digest, "project": str(project),
                               "environment": env.key, "engine": engine.cache_key(),
                               "created_at": datetime.datetime.now(datetime.timezone.utc)
                               .isoformat(timespec="seconds")})
    return Dump(path, True, how, path.stat().st_size)
