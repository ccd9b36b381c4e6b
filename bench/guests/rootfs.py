"""Debian root filesystems made with debootstrap, built once and cached.

No registry is reachable on many machines that run migbench (CI runners
behind a proxy, this machine kind): container images and the VM's disk are
therefore built from a root filesystem debootstrap makes from Debian's own
package mirror, which apt already reaches. The release is the host's (when
the host is Debian): the interpreters migbench runs inside are the host's
own pyenv or system builds, linked against the host's libraries, and a root
of the same release has the same ones.

A root is a directory under <cache>/guests/rootfs-<kind>-<digest>/root, with a
rootfs.json beside it written last: a directory without it is a build that
was killed, and is made again. Building is locked, so two processes build once.

Side effects: runs debootstrap (as root: it chroots and makes device nodes),
writes under <cache>/guests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from migbench.bench.env import environments
from migbench.errors import MigbenchError

# What each kind of root holds beyond minbase. python3 brings the shared libraries the
# host's interpreters link against (libffi, libsqlite3, libssl, libbz2, liblzma, ...);
# libmariadb3 is what mysqlclient's C extension loads (psycopg2-binary and psycopg[binary]
# carry their own libpq; libpq5 is there for a psycopg2 built from source).
PACKAGES = {
    "container": ("python3", "libmariadb3", "libpq5"),
    "vm": ("python3", "libmariadb3", "libpq5", "linux-image-amd64", "kmod", "util-linux"),
}
VARIANT = "minbase"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
_TIMEOUT = 1800  # seconds; a slow mirror takes minutes, never half an hour
MARKER = "rootfs.json"


class RootfsError(MigbenchError):
    """A root filesystem cannot be built here; the message names the fix."""


def suite() -> str:
    """The Debian release to bootstrap: the host's, else bookworm (what migbench is tested on)."""
    release = _os_release()
    if release.get("ID") == "debian" and release.get("VERSION_CODENAME"):
        return release["VERSION_CODENAME"]
    return os.environ.get("MIGBENCH_DEBIAN_SUITE", "bookworm")


def mirror() -> str:
    """$MIGBENCH_DEBIAN_MIRROR, else the Debian mirror apt uses here, else deb.debian.org."""
    if os.environ.get("MIGBENCH_DEBIAN_MIRROR"):
        return os.environ["MIGBENCH_DEBIAN_MIRROR"]
    sources = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*"))
    for path in sources:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for url in re.findall(r"(?:^deb\s+(?:\[[^\]]*\]\s+)?|^URIs:\s*)(\S+)", text, re.M):
            if "security" not in url and url.rstrip("/").endswith("/debian"):
                return url.rstrip("/")
    return DEFAULT_MIRROR


def digest(kind: str) -> str:
    """What a root is cached under: its kind, release, variant and packages (not the mirror)."""
    packages = PACKAGES[kind]
    text = json.dumps([kind, suite(), VARIANT, sorted(packages)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def location(kind: str) -> Path:
    return environments.cache_root() / "guests" / ("rootfs-%s-%s" % (kind, digest(kind)))


def find(kind: str) -> Path | None:
    """The finished root of `kind`, or None: never builds."""
    place = location(kind)
    return place / "root" if (place / MARKER).is_file() else None


def ensure(kind: str) -> Path:
    """The root directory of `kind` ("container" or "vm"), debootstrapped on first use."""
    if kind not in PACKAGES:
        raise ValueError(kind)
    found = find(kind)
    if found is not None:
        return found
    place = location(kind)
    with environments.locked(place.name):
        found = find(kind)
        if found is None:
            _build(kind, place)
            found = find(kind)
        assert found is not None, place
        return found


def describe(kind: str) -> dict:
    """The finished root's marker (release, packages, build time), or {} before it exists."""
    try:
        return json.loads((location(kind) / MARKER).read_text())
    except (OSError, ValueError):
        return {}


def _build(kind: str, place: Path) -> None:
    """debootstrap into a temporary sibling, then rename it into place and write the marker."""
    tool = shutil.which("debootstrap") or ("/usr/sbin/debootstrap" if os.path.exists("/usr/sbin/debootstrap") else None)
    if tool is None:
        raise RootfsError("debootstrap is not installed; it builds the %s image offline: "
                          "apt-get install debootstrap" % kind)
    if os.geteuid() != 0:
        raise RootfsError("building the %s image needs root (debootstrap chroots and makes device "
                          "nodes); run `migbench %s build` once as root" % (
                              kind, "image" if kind == "container" else "vm"))
    place.parent.mkdir(parents=True, exist_ok=True)
    scratch = place.parent / (".%s.building-%d" % (place.name, os.getpid()))
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(place, ignore_errors=True)  # no marker: a killed build
    scratch.mkdir()
    packages, source, release = PACKAGES[kind], mirror(), suite()
    argv = [tool, "--variant=%s" % VARIANT, "--include=%s" % ",".join(packages),
            release, str(scratch / "root"), source]
    started = time.monotonic()
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              errors="replace", timeout=_TIMEOUT)
        if done.returncode != 0:
            last = [line for line in done.stdout.splitlines() if line.strip()][-1:] or ["no output"]
            raise RootfsError("debootstrap of the %s image failed (exit %d: %s); check that %s "
                              "is reachable, or set MIGBENCH_DEBIAN_MIRROR to a Debian mirror that is"
                              % (kind, done.returncode, last[0][:200], source))
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):  # ~160 MB of .debs and indexes
            _empty(scratch / "root" / cache)
        (scratch / MARKER).write_text(json.dumps({
            "kind": kind, "suite": release, "variant": VARIANT, "packages": list(packages),
            "mirror": source, "digest": digest(kind), "built_at": time.time(),
            "build_seconds": round(time.monotonic() - started, 1),
        }, indent=2))
        os.rename(scratch, place)
    except subprocess.TimeoutExpired:
        raise RootfsError("debootstrap of the %s image took over %d s; check the mirror %s, or set "
                          "MIGBENCH_DEBIAN_MIRROR" % (kind, _TIMEOUT, source)) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _empty(directory: Path) -> None:
    """Remove the files in `directory` (apt's caches: the root never installs again), keep the tree."""
    for path in directory.glob("*"):
        if path.is_file() or path.is_symlink():
            path.unlink()


def _os_release() -> dict[str, str]:
    values = {}
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            key, _, value = line.partition("=")
            values[key] = value.strip().strip('"')
    except OSError:
        pass
    return values
