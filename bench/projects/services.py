"""Services a real project needs besides its database: Redis, started like the database servers or given by URL.

Some projects connect to Redis in `check` and `migrate` (post-migrate handlers,
cache warm-up). `--redis embedded` starts a throwaway redis-server on a Unix
socket in a private directory (nothing listens on the network; no persistence),
owned by this migbench and removed by the next one if this one dies
(bench/engines/embedded.py's cleanup_stale, as for PostgreSQL and MariaDB);
`--redis redis://host:6379/0` uses the user's, checked by one PING. Either way
the URL is put into this process's environment as MIGBENCH_REDIS_URL while
the block runs, so every child inherits it; a real project's overlay settings
substitute it for `{redis}` in --env values and default REDIS_URL to it.

Side effects: starts and stops redis-server, sets and restores one environment variable.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from migbench.bench.engines.embedded import owned_directory, private_files, record_server, spawn, wait_until
from migbench.errors import MigbenchError

ENV_VAR = "MIGBENCH_REDIS_URL"


def redis_unavailable() -> str | None:
    if shutil.which("redis-server") or Path("/usr/bin/redis-server").is_file():
        return None
    return "redis-server is not installed; install it (Debian: apt-get install redis-server) or give --redis URL"


def ping(url: str, timeout: float = 2.0) -> bool:
    """One PING to a redis:// or unix:// URL; True on +PONG."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address = parts.path
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address = (parts.hostname or "localhost", parts.port or 6379)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
        if parts.password:
            sock.sendall(b"AUTH %s\r\n" % parts.password.encode())
            sock.recv(64)
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False
    finally:
        sock.close()


@contextlib.contextmanager
def redis(spec: str | None) -> Iterator[str | None]:
    """Redis for as long as the block: None (not needed), "embedded", or the user's URL."""
    if spec is None:
        yield None
        return
    if spec != "embedded":
        if not ping(spec):
            raise MigbenchError("--redis %s: no Redis answers there; start it or use --redis embedded" % spec)
        with _exported(spec):
            yield spec
        return
    missing = redis_unavailable()
    if missing:
        raise MigbenchError("--redis embedded: %s" % missing)
    with owned_directory("redis") as directory:
        files = private_files(directory, None)
        sock = files / "redis.sock"
        argv = [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", "0", "--unixsocket", str(sock),
                "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", str(files),
                "--daemonize", "no"]
        process = spawn(argv, None, directory / "redis.log")
        try:
            record_server(directory, process.pid, str(files), "SIGTERM")
            url = "unix://%s" % sock
            wait_until(lambda: ping(url, 0.5), 20, "redis-server", process, directory / "redis.log")
            with _exported(url):
                yield url
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def _exported(url: str) -> Iterator[None]:
    before = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = url
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = before
