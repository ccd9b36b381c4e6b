"""migbench's copy of a user's project: what is copied, its identity, and the proof nothing else changed.

The copy is made once per content (`<cache>/real/<name>-<digest>`) and every
strategy works on it or on copies of it (the transformations copy again), so
the user's tree is only ever read. What is left out of the copy: version control,
byte code, virtualenvs inside the tree (a directory holding pyvenv.cfg), node
modules, tool caches and SQLite files (a project's own database is not part of
its schema history; migbench makes its own databases).

Side effects: `copy_tree` writes into a directory the caller names (a staging
directory under the cache); `fingerprint` and `digest` only read.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Iterator

SKIP_DIRS = frozenset((".git", ".hg", ".svn", "__pycache__", "node_modules", ".tox", ".nox", ".mypy_cache",
                       ".pytest_cache", ".ruff_cache", ".venv", "venv", ".idea", ".vscode"))
SKIP_SUFFIXES = (".pyc", ".pyo", ".sqlite3", ".sqlite", ".db")


def _skipped_dir(path: Path) -> bool:
    return path.name in SKIP_DIRS or (path / "pyvenv.cfg").is_file()


def walk(root: Path, packages: tuple = ()) -> Iterator[Path]:
    """The files copied from `root` (only its `packages` when given), in a stable order, relative."""
    tops = [root / p for p in packages] if packages else [root]
    for top in tops:
        for directory, dirs, files in os.walk(top):
            here = Path(directory)
            dirs[:] = sorted(d for d in dirs if not _skipped_dir(here / d))
            for name in sorted(files):
                if not name.endswith(SKIP_SUFFIXES):
                    yield (here / name).relative_to(root)


def digest(root: Path, packages: tuple = (), extra: str = "") -> str:
    """sha256 of every copied file's path and bytes (and `extra`: settings, env, launcher)."""
    sha = hashlib.sha256(extra.encode("utf-8") + b"\0")
    for rel in walk(root, packages):
        path = root / rel
        sha.update(str(rel).encode("utf-8", "surrogateescape") + b"\0")
        if path.is_symlink():
            sha.update(b"link:" + os.readlink(path).encode("utf-8", "surrogateescape"))
        else:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    sha.update(block)
        sha.update(b"\0")
    return sha.hexdigest()


def copy_tree(root: Path, dest: Path, packages: tuple = ()) -> int:
    """Copy what `walk` yields into `dest` (which must not exist), keeping modes and mtimes; files copied."""
    count = 0
    dest.mkdir(parents=True)
    for rel in walk(root, packages):
        source, target = root / rel, dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)
        count += 1
    return count


def fingerprint(root: Path) -> dict[str, tuple]:
    """Every entry under `root` (nothing skipped, directories included) with its size, mtime and bytes' hash.

    Two fingerprints are equal only if nothing under `root` was written, created or removed: the
    proof that migbench left a user's tree (or environment) as it found it.
    """
    found: dict[str, tuple] = {}
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        stat = here.stat()
        found[str(here.relative_to(root)) + "/"] = ("dir", stat.st_mtime_ns, tuple(sorted(dirs + files)))
        for name in files:
            path = here / name
            stat = path.lstat()
            if path.is_symlink():
                found[str(path.relative_to(root))] = ("link", stat.st_mtime_ns, os.readlink(path))
                continue
            sha = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    sha.update(block)
            found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns, sha.hexdigest())
    return found
