"""The compatibility shim for old Django on new Python, as files for an environment.

The shim itself is migbench_django_shim.py next to this file (its docstring
lists every patch). It runs *inside* target environments and is never imported
by the parent: importing it installs import hooks in the importing process.
environments.py copies it, with a .pth line that imports it at start-up, into
the site-packages of every environment whose (Django, Python) pair needs it
(targets.needs_shim), and records digest() in the environment's marker so a
changed shim is copied again without rebuilding the environment.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

MODULE = "migbench_django_shim"
SOURCE = Path(__file__).with_name(MODULE + ".py")
PTH = MODULE + ".pth"
PTH_LINE = "import %s\n" % MODULE  # site.py executes .pth lines starting with "import"


def files() -> dict[str, bytes]:
    """File name -> content, as they go into site-packages."""
    return {MODULE + ".py": SOURCE.read_bytes(), PTH: PTH_LINE.encode()}


def digest() -> str:
    """sha256 of the files as installed: changes whenever the shim does."""
    sha = hashlib.sha256()
    for name, content in sorted(files().items()):
        sha.update(name.encode() + b"\0" + content + b"\0")
    return sha.hexdigest()


def install(site_packages: Path) -> list[Path]:
    """Write the shim's files into site_packages (each atomically); return their paths."""
    written = []
    for name, content in files().items():
        target = Path(site_packages) / name
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(content)
        os.replace(tmp, target)
        written.append(target)
    return written


def uninstall(site_packages: Path) -> None:
    """Remove the shim's files (and the module's cached bytecode) if present."""
    site_packages = Path(site_packages)
    for name in reversed(list(files())):  # the .pth first: nothing imports a missing module
        (site_packages / name).unlink(missing_ok=True)
    for cached in (site_packages / "__pycache__").glob(MODULE + ".*.pyc"):
        cached.unlink(missing_ok=True)


__all__ = ["MODULE", "PTH", "PTH_LINE", "SOURCE", "digest", "files", "install", "uninstall"]
