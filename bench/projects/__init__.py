"""Real projects: a user's own Django project, measured on a copy that looks like a generated one.

`resolve` (source.py) turns --project/--manage/--python/--settings/--env into a
`ProjectSource`; `prepare` copies its tree into the cache once per content
(copy.py), adds the overlay settings and manage.py (overlay.py), asks the user's
interpreter which apps are the project's own and where their migrations live
(inspect.py) and writes the manifest (`migbench.json`) every other part of
migbench reads. From there a real project flows through the matrix, the
strategies and the records like a scenario's project. `services` starts what
the project needs besides its database (Redis).

What this package is not responsible for: measuring (bench/measure), choosing
the database (bench/engines), reading models for a twin (bench/measure/worker/shape.py).

Side effects: `prepare` writes `<cache>/real/<name>-<digest>/` and runs the user's
interpreter on it; it never writes into the user's tree or environment
(byte-code writing is off in every child).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from migbench.bench.env.environments import cache_root, locked
from migbench.errors import MigbenchError

from . import copy as copying
from . import inspect, overlay
from .source import ProjectSource, parse_env, resolve

__all__ = ["ProjectSource", "Prepared", "parse_env", "prepare", "resolve", "MANIFEST"]

MANIFEST = "migbench.json"


@dataclass(frozen=True)
class Prepared:
    """migbench's copy of a real project, ready for every child."""

    source: ProjectSource
    path: Path  # the copy's root (cwd of every child)
    env: inspect.UserEnvironment  # the user's interpreter as an environment
    manifest: dict
    sha256: str  # the copy's identity: the user's files + settings + env + launcher

    @property
    def python(self) -> Path:
        return self.env.python

    @property
    def apps(self) -> list[str]:
        return list(self.manifest["apps"])


def prepare(source: ProjectSource, on_note: Callable[[str], None] = print) -> Prepared:
    """The copy of `source` (made on first use, reused while the user's files are the same)."""
    env = inspect.probe(source.python)
    extra = json.dumps({"settings": source.settings, "env": source.env, "launcher": list(source.launcher),
                        "packages": list(source.packages), "python": str(source.python),
                        "django": env.django_version, "overlay": overlay_digest()}, sort_keys=True)
    sha = copying.digest(source.tree, source.packages, extra)
    path = cache_root() / "real" / ("%s-%s" % (source.name, sha[:12]))
    with locked("real-%s" % path.name):
        if not (path / MANIFEST).is_file():
            on_note("copying %s into %s" % (source.tree, path))
            _build(source, env, path)
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    return Prepared(source, path, env, manifest, sha)


def overlay_digest() -> str:
    import hashlib

    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in ("overlay.py", "inspect.py", "copy.py"):
        digest.update((here / name).read_bytes())
    digest.update(inspect.APPS_SCRIPT.read_bytes())
    return digest.hexdigest()[:8]


def _build(source: ProjectSource, env: inspect.UserEnvironment, path: Path) -> None:
    staging = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
    shutil.rmtree(staging, ignore_errors=True)
    try:
        copying.copy_tree(source.tree, staging, source.packages)
        package = staging / overlay.SETTINGS_PACKAGE
        if package.exists():
            raise MigbenchError("%s has a package named %s, which migbench's overlay needs; rename it in a copy "
                                "of your project" % (source.tree, overlay.SETTINGS_PACKAGE))
        package.mkdir()
        (package / "__init__.py").write_text("", encoding="utf-8")
        backend = "postgresql" if _at_least(env.django_version, (1, 9)) else "postgresql_psycopg2"
        (package / "settings.py").write_text(overlay.settings_text(source.settings, source.env, backend,
                                                                   _code_roots(staging, source.settings)),
                                             encoding="utf-8")
        (staging / "manage.py").write_text(overlay.manage_text(source.launcher), encoding="utf-8")
        found = inspect.apps(staging, env, overlay.SETTINGS_MODULE)
        own, others = inspect.own_apps(found, staging, source.tree)
        manifest = inspect.manifest(found, staging, source, own, others)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        # the paths the child printed are the staging directory's: the manifest keeps relative ones only
        os.rename(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _code_roots(copy: Path, settings: str) -> tuple:
    """("src",) when the settings' package lives in a src layout rather than at the root."""
    top = settings.split(".")[0]
    for where in ("", "src"):
        base = copy / where if where else copy
        if (base / top).is_dir() or (base / (top + ".py")).is_file():
            return (where,) if where else ()
    return ()


def _at_least(version: str, wanted: tuple[int, int]) -> bool:
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    return parts >= wanted
