"""Which migbench measured: the version and, in a git checkout, the commit.

Results are compared across months; "0.1.0" alone does not say which runner
or generator produced a number, the commit does ("+dirty" when the working
tree had uncommitted changes to tracked files).
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=None)
def git_commit() -> str:
    """Short commit of the checkout migbench runs from, "" when not a git checkout."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=_ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=_ROOT,
                               text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    except OSError:
        return ""
    return commit + ("+dirty" if commit and dirty.strip() else "")
