"""Where an environment's Django comes from: PyPI, a local checkout, or a commit of a local git clone.

`--django` names a line ("5.2"), a release ("5.2.19") or a pre-release ("6.1rc1"): pip installs
it from the index, and nothing here is involved. It can also name Django as it is being built:

- a checkout, `--django ~/src/django`: the tree as it is on disk, uncommitted changes included;
- a commit, branch or tag of a local clone, `--django-repo ~/src/django --django main`.

Both become a *spec*, "<version>@<location>" ("6.2.dev0@/home/me/django",
"6.2.dev0@git:/home/me/django#<commit>:<ref>"): a string that travels through options, the matrix and
`resolve_line` like any version (targets.py reads the part before "@"), and that
`environments.ensure` turns back into a Source to build from. The version is Django's own
VERSION tuple, read from the tree (or from the commit) without importing it.

What the environment is keyed by, and what the record says, is the source's *identity*
(`snapshot`): the version plus a local label naming the commit, "6.2.dev0+g1a2b3c4d5e6f", and
".dirty<digest>" when the checkout has uncommitted changes (the digest of `git diff HEAD` and of
the untracked files), so an edit is a new environment and an unchanged tree reuses its own.
A checkout outside git is keyed by a digest of its files ("+tree<digest>").

Side effects: runs `git` (read-only: rev-parse, show, diff, ls-files, archive) in the user's
clone; `export` writes a copy of the tree into an environment. This module never changes the
user's checkout or clone.
"""

from __future__ import annotations

import ast
import configparser
import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from migbench.errors import MigbenchError
from migbench.targets import SOURCE_SEPARATOR

_GIT_TIMEOUT = 120
_GIT_PREFIX = "git:"  # a checkout's location is an absolute path: "/..." never starts with it
_COMMIT_SEPARATOR = "#"
_REF_SEPARATOR = ":"
# What a checkout contributes to an environment: the package and the files naming its dependencies.
_METADATA = ("pyproject.toml", "setup.cfg", "setup.py")
_SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")


@dataclass(frozen=True)
class Source:
    """A Django that is not on PyPI: a checkout on disk, or a commit of a clone."""

    kind: str  # "checkout" (the working tree as it is) or "git" (one commit of a clone)
    version: str  # from django/__init__.py's VERSION: "6.2.dev0", "5.2.19", "6.1rc1"
    location: Path  # the checkout's root, or the clone's
    commit: str | None = None  # "git": the full commit the ref named when the command started
    ref: str | None = None  # "git": the ref as given (a branch moves; the commit is what ran)

    @property
    def spec(self) -> str:
        where = str(self.location)
        if self.kind == "git":  # git refs never hold ":" (git check-ref-format)
            where = _GIT_PREFIX + where + _COMMIT_SEPARATOR + str(self.commit) + (
                _REF_SEPARATOR + self.ref if self.ref else "")
        return self.version + SOURCE_SEPARATOR + where


@dataclass(frozen=True)
class Snapshot:
    """What exactly a source held when its environment was asked for."""

    identity: str  # "6.2.dev0+g1a2b3c4d5e6f", "+...dirty<12 hex>", "+tree<12 hex>": the env's Django version
    commit: str | None  # None: a checkout outside git
    dirty: bool
    dirty_sha256: str | None  # digest of the uncommitted changes; None when clean
    tree_sha256: str | None = None  # a checkout outside git: digest of its files

    def describe(self, source: Source) -> dict:
        """The record's `django_source` (docs/records.md)."""
        return {"kind": source.kind, "path": str(source.location), "ref": source.ref, "commit": self.commit,
                "dirty": self.dirty, "dirty_sha256": self.dirty_sha256, "tree_sha256": self.tree_sha256,
                "version": source.version}


def is_spec(django: str) -> bool:
    return SOURCE_SEPARATOR in django


def looks_like_path(value: str) -> bool:
    """A --django value meant as a checkout: it has a slash, starts with "." or "~", or is a directory."""
    if "/" in value or value.startswith((".", "~")):
        return True
    try:
        return Path(value).is_dir()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte: not a directory
        return False


def from_checkout(value: str) -> Source:
    """`--django PATH`: the checkout's root (the folder holding django/__init__.py), or one clear line."""
    path = Path(value).expanduser()
    if not path.is_dir():
        raise MigbenchError("--django %s: no such directory; give a Django checkout's path (the folder "
                            "holding django/__init__.py), a line like 5.2 or a release like 5.2.19" % value)
    root = path.resolve()
    if not (root / "django" / "__init__.py").is_file() and (root / "__init__.py").is_file() \
            and root.name == "django":
        root = root.parent  # the package folder itself was given
    init = root / "django" / "__init__.py"
    if not init.is_file():
        raise MigbenchError("--django %s: not a Django checkout (no django/__init__.py in it); give the folder "
                            "you cloned or unpacked Django into" % value)
    return Source("checkout", _version_of(init.read_text(errors="replace"), str(init)), root)


def from_repo(repo: str, ref: str) -> Source:
    """`--django-repo REPO --django REF`: the commit REF names now, or one clear line."""
    root = Path(repo).expanduser()
    if not root.is_dir():
        raise MigbenchError("--django-repo %s: no such directory; give a local clone of Django" % repo)
    root = root.resolve()
    try:
        _git(root, "rev-parse", "--git-dir")
    except MigbenchError as error:
        said = str(error).rpartition("failed: ")[2].splitlines()[0] if "failed: " in str(error) else str(error)
        raise MigbenchError("--django-repo %s: not a git repository (git: %s); give a local clone of Django "
                            "(or --django PATH for a checkout outside git)" % (repo, said)) from None
    if not ref or ref.startswith("-"):
        raise MigbenchError("--django %s: not a git ref; give a commit, branch or tag of %s" % (ref, repo))
    commit = _git_ok(root, "rev-parse", "--verify", "--quiet", ref + "^{commit}")
    if not commit:
        raise MigbenchError("%s: no such commit, branch or tag in %s; see `git -C %s log --oneline`"
                            % (ref, repo, repo))
    text = _git_ok(root, "show", "%s:django/__init__.py" % commit, strip=False)
    if text is None:
        raise MigbenchError("--django %s: commit %s of %s has no django/__init__.py; is it a Django clone?"
                            % (ref, commit[:12], repo))
    return Source("git", _version_of(text, "%s:django/__init__.py" % commit[:12]), root, commit, ref)


def parse(spec: str) -> Source:
    """A spec back into its Source (what `Source.spec` wrote)."""
    version, _, where = spec.partition(SOURCE_SEPARATOR)
    if where.startswith(_GIT_PREFIX):
        location, _, commit = where[len(_GIT_PREFIX):].rpartition(_COMMIT_SEPARATOR)
        commit, _, ref = commit.partition(_REF_SEPARATOR)
        return Source("git", version, Path(location), commit, ref or None)
    return Source("checkout", version, Path(where))


def snapshot(source: Source) -> Snapshot:
    """The source's identity now: its commit, and a digest of what is not committed."""
    if source.kind == "git":
        return Snapshot(_identity(source.version, "g" + str(source.commit)[:12]), source.commit, False, None)
    root = source.location
    if not (root / "django" / "__init__.py").is_file():
        raise MigbenchError("Django checkout %s is gone (no django/__init__.py); give another --django" % root)
    commit = _git_ok(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}") if _in_git(root) else None
    if commit is None:
        digest = _tree_digest(root)
        return Snapshot(_identity(source.version, "tree" + digest[:12]), None, False, None, digest)
    changes = _changes_digest(root)
    label = "g" + commit[:12] + (".dirty" + changes[:12] if changes else "")
    return Snapshot(_identity(source.version, label), commit, bool(changes), changes)


def export(source: Source, snap: Snapshot, dest: Path) -> Path:
    """Write the source's django/ package and its metadata files into `dest` (a fresh folder)."""
    dest.mkdir(parents=True)
    if source.kind == "git":
        names = ["django"] + [n for n in _METADATA
                              if _git_ok(source.location, "cat-file", "-e", "%s:%s" % (source.commit, n)) is not None]
        # git archive piped to tar: Python's tarfile takes ~3 s for Django's 6,000 files, tar a tenth of that
        archive = subprocess.Popen(["git", "-C", str(source.location), "archive", "--format=tar", str(source.commit),
                                    *names], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, env=_git_env())
        unpacked = subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, capture_output=True,
                                  timeout=_GIT_TIMEOUT)
        archive.stdout.close()
        failed = archive.wait(timeout=_GIT_TIMEOUT) != 0 or unpacked.returncode != 0
        if failed:
            raise MigbenchError("exporting commit %s of %s failed: %s" % (
                str(source.commit)[:12], source.location,
                (archive.stderr.read().decode(errors="replace") + unpacked.stderr.decode(errors="replace"))
                .strip()[-200:] or "git archive or tar said nothing"))
    else:
        shutil.copytree(source.location / "django", dest / "django", ignore=_SKIPPED, symlinks=True)
        for name in _METADATA:
            if (source.location / name).is_file():
                shutil.copy2(source.location / name, dest / name)
    return dest


def requirements(tree: Path) -> list[str]:
    """Django's own runtime dependencies as its tree declares them (pyproject.toml, setup.cfg or setup.py).

    Read, not built: asking pip for a checkout's metadata builds it in an isolated environment
    (~10 s a commit). Environment markers stay in the strings; pip evaluates them."""
    pyproject = tree / "pyproject.toml"
    if pyproject.is_file():
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib
        try:
            project = tomllib.loads(pyproject.read_text()).get("project") or {}
        except ValueError:
            project = {}
        if "dependencies" in project:
            return [str(item) for item in project["dependencies"]]
    setup_cfg = tree / "setup.cfg"
    if setup_cfg.is_file():
        parser = configparser.ConfigParser()
        try:
            parser.read_string(setup_cfg.read_text())
        except configparser.Error:
            parser = configparser.ConfigParser()
        if parser.has_option("options", "install_requires"):
            return [line.strip() for line in parser.get("options", "install_requires").splitlines() if line.strip()]
    setup_py = tree / "setup.py"
    if setup_py.is_file():
        match = re.search(r"install_requires\s*=\s*(\[[^\]]*\])", setup_py.read_text(errors="replace"))
        if match:
            try:
                return [str(item) for item in ast.literal_eval(match.group(1))]
            except (ValueError, SyntaxError):
                pass
    return []


# -- reading the tree -------------------------------------------------------------------------------

_VERSION_TUPLE = re.compile(r"^VERSION\s*=\s*(\([^)]*\))", re.MULTILINE)
_PRE = {"alpha": "a", "beta": "b", "rc": "rc"}


def _version_of(init_text: str, where: str) -> str:
    """django/__init__.py's VERSION as PEP 440: (6, 2, 0, "alpha", 0) -> "6.2.dev0", (6, 1, 0, "rc", 1) -> "6.1rc1"."""
    match = _VERSION_TUPLE.search(init_text)
    try:
        major, minor, micro, level, serial = ast.literal_eval(match.group(1)) if match else (None,) * 5
        main = "%d.%d" % (major, minor) + (".%d" % micro if micro else "")
    except (ValueError, SyntaxError, TypeError):
        raise MigbenchError("%s: no VERSION tuple like (6, 2, 0, \"alpha\", 0); is it Django?" % where) from None
    if level == "final":
        return main if micro else main + ".0"
    if level == "alpha" and serial == 0:
        return main + ".dev0"  # Django's main branch between releases
    return main + _PRE.get(level, "a") + str(serial)


def _identity(version: str, label: str) -> str:
    return version + "+" + label


def _in_git(root: Path) -> bool:
    top = _git_ok(root, "rev-parse", "--show-toplevel")
    return top is not None and Path(top).resolve() == root


def _changes_digest(root: Path) -> str | None:
    """sha256 of the uncommitted changes (tracked diff against HEAD, then each untracked file), or None."""
    diff = _git(root, "diff", "HEAD", "--binary", "--no-color", "--no-ext-diff", text=False)
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z", text=False).split(b"\0")
    untracked = sorted(name for name in untracked if name)
    if not diff and not untracked:
        return None
    digest = hashlib.sha256(diff)
    for name in untracked:
        digest.update(b"\0" + name + b"\0")
        path = root / os.fsdecode(name)
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _tree_digest(root: Path) -> str:
    """sha256 over django/'s files (names and contents), for a checkout outside git."""
    digest = hashlib.sha256()
    base = root / "django"
    for path in sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and p.suffix not in (".pyc", ".pyo")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    for name in _METADATA:
        if (root / name).is_file():
            digest.update(name.encode() + b"\0" + (root / name).read_bytes())
    return digest.hexdigest()


def _git(root: Path, *args: str, text: bool = True):
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=_GIT_TIMEOUT,
                              stdin=subprocess.DEVNULL, env=_git_env())
    except FileNotFoundError:
        raise MigbenchError("git is not installed; install it (apt-get install git) to use a Django checkout") from None
    except subprocess.TimeoutExpired:
        raise MigbenchError("git %s in %s took over %d s" % (args[0], root, _GIT_TIMEOUT)) from None
    if proc.returncode != 0:
        raise MigbenchError("git %s in %s failed: %s" % (" ".join(args[:2]), root,
                                                         proc.stderr.decode(errors="replace").strip()[-200:]))
    return proc.stdout.decode(errors="replace") if text else proc.stdout


def _git_ok(root: Path, *args: str, strip: bool = True) -> str | None:
    """git's output, or None when it says no (a missing ref, not a repository)."""
    try:
        out = _git(root, *args)
    except MigbenchError as error:
        if str(error).startswith("git is not installed"):
            raise
        return None
    return out.strip() if strip else out


def _git_env() -> dict:
    """No pager, no prompts, and the user's own git config otherwise (safe.directory included)."""
    env = dict(os.environ)
    env.update(GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat", LC_ALL="C")
    return env
