"""Where a project's own apps keep their migrations, read from its manifest (`migbench.json`).

A generated project has every app at `apps/<label>/migrations`. A real project's
manifest (written by bench/projects/ into the cached copy) names its *own* apps
in "apps" and where each keeps its migrations in "migrations_dirs" (relative to
the copy's root: `shop/catalog/migrations`, or a MIGRATION_MODULES folder such
as `dbmigrations/catalog`). Only those apps are transformed: third-party apps
("third_party_apps") stay installed and migrate as they are, because nobody can
squash or reset code they do not own. Pure: reads the manifest, writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from migbench.errors import MigbenchError

MANIFEST = "migbench.json"
APPS_DIR = "apps"  # a generated project's apps: apps/<label>/migrations


@dataclass(frozen=True)
class Layout:
    """The apps a transformation may change and their migrations folders (relative, POSIX)."""

    labels: list[str]
    dirs: dict[str, str]
    real: bool = False  # a real project (the manifest has "migrations_dirs")
    left_alone: list[str] = field(default_factory=list)  # own apps without migrations: not transformed

    def folder(self, root: Path, label: str) -> Path:
        return root.joinpath(*PurePosixPath(self.dirs[label]).parts)


def read_layout(source: Path) -> Layout:
    """The layout of the project at `source`; MigbenchError (one line) if its manifest is unusable."""
    path = Path(source) / MANIFEST
    if not path.is_file():
        raise MigbenchError("%s is not a migbench project (no %s): generate one with migbench generate, "
                            "or measure your own with migbench run --project" % (source, MANIFEST))
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        labels = [str(label) for label in manifest["apps"]]
    except (ValueError, KeyError, TypeError) as error:
        raise MigbenchError("%s: unreadable manifest (%s: %s); prepare the project again"
                            % (path, type(error).__name__, error))
    dirs = manifest.get("migrations_dirs")
    if dirs is None:
        return Layout(labels, {label: "%s/%s/migrations" % (APPS_DIR, label) for label in labels})
    if not isinstance(dirs, dict):
        raise MigbenchError("%s: \"migrations_dirs\" must map app labels to folders; prepare the project again"
                            % path)
    for label, folder in dirs.items():
        relative = PurePosixPath(str(folder))
        if relative.is_absolute() or ".." in relative.parts or str(folder) in ("", "."):
            raise MigbenchError("%s: the migrations folder of %r, %r, is not inside the project; "
                                "prepare the project again" % (path, label, folder))
    own = [label for label in labels if label in dirs]
    return Layout(own, {label: str(dirs[label]) for label in own}, real=True,
                  left_alone=[label for label in labels if label not in dirs])
