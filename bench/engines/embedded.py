"""The embedded servers' processes and files: start, wait, run as a system user, clean leftovers.

Everything here is what a throwaway server needs from the operating system,
the same for PostgreSQL and MariaDB: a directory per server under
cache_root()/servers (owner.json names the migbench that started it,
server.json its server's pid and private files), tools run as the system
user a server demands when migbench is root, and `cleanup_stale`, which
stops the servers of migbench processes that died without stopping them
(SIGKILL, a power cut), the way stale cgroups are cleaned.

Side effects: starts and kills processes, writes and removes directories.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, Sequence

from migbench.bench.env.environments import cache_root
from migbench.errors import MigbenchError

OWNER_FILE = "owner.json"


def servers_root() -> Path:
    return cache_root() / "servers"


def cleanup_stale(engine_name: str | None = None, root: Path | None = None) -> list[Path]:
    """Stop and remove embedded servers whose migbench is gone; returns the directories removed.

    A directory is stale when its owner process no longer exists (or is another
    process that reused the pid: the start time is compared). Its server is
    stopped by pid only if that process still runs from the directory's files.
    """
    root = root or servers_root()
    removed = []
    if not root.is_dir():
        return removed
    for directory in sorted(root.iterdir()):
        if not directory.is_dir() or (engine_name and not directory.name.startswith(engine_name + "-")):
            continue
        if _owner_alive(directory):
            continue
        info = _read_json(directory / "server.json")
        _kill_server(info.get("pid"), [str(directory)] + ([info["files"]] if info.get("files") else []),
                     getattr(signal, str(info.get("stop_signal")), signal.SIGTERM))
        _remove_files(directory)
        removed.append(directory)
    return removed


@contextlib.contextmanager
def owned_directory(name: str) -> Iterator[Path]:
    """A server's directory for as long as the block: leftovers of dead migbench runs of `name`
    cleaned first, then `<servers>/NAME-PID-RANDOM` with this process as its owner; removed on
    leaving with the server's private files (the caller stops its server inside the block)."""
    cleanup_stale(name)
    directory = servers_root() / ("%s-%d-%s" % (name, os.getpid(), secrets.token_hex(3)))
    directory.mkdir(parents=True)
    _write_owner(directory)
    try:
        yield directory
    finally:
        _remove_files(directory)


def record_server(directory: Path, pid: int, files: str, stop_signal: str) -> None:
    """server.json: what cleanup_stale needs to stop this server if its migbench dies."""
    _write_json(directory / "server.json", {"pid": pid, "files": files, "stop_signal": stop_signal})


def _owner_alive(directory: Path) -> bool:
    owner = _read_json(directory / OWNER_FILE)
    pid = owner.get("pid")
    if not isinstance(pid, int):
        # No owner file yet: a migbench is creating it right now, unless it is old.
        return time.time() - directory.stat().st_mtime < 60
    started = _start_time(pid)
    return started is not None and abs(started - owner.get("started", 0)) < 2


def _start_time(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _write_owner(directory: Path) -> None:
    _write_json(directory / OWNER_FILE, {"pid": os.getpid(), "started": _start_time(os.getpid())})


def _kill_server(pid, paths: list[str], stop: int = signal.SIGTERM) -> None:
    import psutil

    if not isinstance(pid, int):
        return
    try:
        process = psutil.Process(pid)
        command = " ".join(process.cmdline())
    except psutil.Error:
        return
    if not any(path and path in command for path in paths):
        return  # the pid now belongs to something else
    group = [process] + process.children(recursive=True)
    for each in group:
        with contextlib.suppress(psutil.Error):
            each.send_signal(stop)
    # Not psutil.wait_procs: the server's parent (the dead migbench) is gone, and where the
    # container's PID 1 does not reap orphans a stopped server stays a zombie, which wait_procs
    # counts as alive until its timeout. A zombie has stopped: it holds no memory, port or file.
    # 3 s, then SIGKILL: its data is thrown away anyway, and a server still starting up (mariadbd
    # initialising InnoDB) does not act on SIGTERM before it is up.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and any(_running(each) for each in group):
        time.sleep(0.05)
    for each in group:
        if _running(each):
            with contextlib.suppress(psutil.Error):
                each.kill()


def _running(process) -> bool:
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:  # gone
        return False


def _remove_files(directory: Path) -> None:
    info = _read_json(directory / "server.json")
    if info.get("files"):
        shutil.rmtree(info["files"], ignore_errors=True)
    shutil.rmtree(directory, ignore_errors=True)


def private_files(directory: Path, user: str | None) -> Path:
    """Where a server's data and socket live: a private temporary directory (mode 700), owned by
    the server's user when that is not us, recorded in server.json so leftovers are still found.

    Not under the cache: a Unix socket path holds ~107 bytes, which a deep cache path
    (~/.cache/migbench/servers/postgresql-12345-abcdef/...) can exceed, and a server run as
    another user could not reach root's private home anyway.
    """
    files = Path(tempfile.mkdtemp(prefix="migbench-%s-" % directory.name.split("-")[0]))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(files, entry.pw_uid, entry.pw_gid)
    os.chmod(files, 0o700)
    info = _read_json(directory / "server.json")
    info["files"] = str(files)
    _write_json(directory / "server.json", info)
    return files


def run_as_user(preferred: Sequence[str]) -> str | None:
    """The system user a server runs as when migbench is root (servers refuse root), else None.

    $MIGBENCH_SERVER_USER wins; then the first of `preferred` that exists; then nobody.
    """
    if os.geteuid() != 0:
        return None
    for name in ([os.environ["MIGBENCH_SERVER_USER"]] if os.environ.get("MIGBENCH_SERVER_USER") else []) \
            + list(preferred) + ["nobody"]:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise MigbenchError("running as root and no system user to run the database server as; "
                        "set MIGBENCH_SERVER_USER to one")


def spawn(argv: list[str], user: str | None, log: Path, env: dict | None = None,
          directory: Path | None = None) -> subprocess.Popen:
    """Start a server process detached from our terminal (Ctrl-C reaches us, and we stop it).

    Its pid goes into `directory`'s server.json (default: the log's directory) at once, so a
    migbench killed while waiting for the server to answer leaves no orphan cleanup_stale misses.
    """
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   user=user, start_new_session=True, env=env, close_fds=True)
    directory = directory or log.parent
    if (directory / OWNER_FILE).is_file():
        info = _read_json(directory / "server.json")
        info["pid"] = process.pid
        _write_json(directory / "server.json", info)
    return process


def run_tool(argv: list[str], user: str | None, what: str, timeout: float = 120, env: dict | None = None) -> str:
    """Run an initialisation tool (initdb, mariadb-install-db); its output in the error if it fails."""
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, user=user,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise MigbenchError("%s did not finish in %ds" % (what, timeout)) from None
    if done.returncode != 0:
        raise MigbenchError("%s failed (exit %d): %s" % (what, done.returncode,
                                                           _one_line(done.stderr or done.stdout)))
    return done.stdout


def wait_until(check, timeout: float, what: str, process: subprocess.Popen | None = None, log: Path | None = None):
    """Poll `check()` until it returns a true value; fail with the server's log tail if it never does."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        try:
            found = check()
            if found:
                return found
        except Exception as error:  # not up yet: the driver's connection errors
            last = error
        time.sleep(0.1)
    tail = (" ".join(log.read_text(errors="replace")[-2000:].split())[-300:] if log and log.exists()
            else _one_line(last or ""))
    raise MigbenchError("%s did not start: %s" % (what, tail))



def _one_line(error) -> str:
    return " ".join(str(error).split())[:300]


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
