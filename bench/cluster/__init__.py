"""Runs on several machines (or several slots of one): a Dask cluster as migbench's pool.

`migbench run|bisect|sweep --cluster tcp://HOST:8786` uses an existing Dask
scheduler; `--workers N` starts a local cluster of N worker processes for the
command's lifetime. Either way each worker offers one measurement slot (a Dask
resource), each run is one task (task.py) measured in a fresh process on the
worker (child.py), and the records come back to the client, which stores them
(bench/run/executor.py). docs/cluster.md says how to start workers elsewhere
and why Dask (no broker; a scheduler, workers, resources and retries of lost
work exist already; LocalCluster makes it testable on one machine).

- pool.py: DaskPool (slots, machines, the same-migbench check, submit and collect);
- task.py: Task, perform (the worker's side: waits for the measuring child);
- child.py: the measuring child (one serial run on the worker's machine).

Dask is an optional dependency (`pip install 'migbench[cluster]'`); without it
these options are one line naming what to install. Importing this package
imports no Dask.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Iterator

from migbench.errors import MigbenchError

if TYPE_CHECKING:
    from .pool import DaskPool

MAX_LOCAL_WORKERS = 64
_CONNECT_S = 10


@contextlib.contextmanager
def open_pool(address: str | None = None, workers: int | None = None) -> Iterator["DaskPool"]:
    """The pool of `--cluster ADDRESS` (connected) or `--workers N` (a LocalCluster started here and stopped
    on leaving, also on errors and Ctrl-C); one line naming the problem when it cannot be had."""
    require_dask()
    import dask
    from distributed import Client, LocalCluster

    from .pool import DaskPool  # noqa: F811 (the runtime import; the one above is for the annotation)

    with contextlib.ExitStack() as stack:
        if workers is not None:
            # A lost worker's run goes to another worker up to this many times (Dask's default, said here).
            stack.enter_context(dask.config.set({"distributed.scheduler.allowed-failures": 3}))
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, resources={"measure": 1},
                memory_limit=0,  # the measured child is capped by migbench's limiter, never by the nanny
                dashboard_address=None, host="127.0.0.1", silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
            origin = "a local Dask cluster of %d worker process%s" % (workers, "" if workers == 1 else "es")
        else:
            try:
                client = stack.enter_context(Client(address, timeout=_CONNECT_S))
            except (OSError, TimeoutError, ValueError) as error:
                raise MigbenchError("--cluster %s: cannot reach a Dask scheduler there (%s); start one with "
                                    "`dask scheduler` (docs/cluster.md)" % (address, error)) from None
            origin = "the Dask scheduler at %s" % address
        yield DaskPool(client, origin)


def require_dask() -> None:
    """One line naming what to install when Dask is missing (checked before planning: nothing runs)."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None or importlib.util.find_spec("dask") is None:
        raise MigbenchError("--cluster and --workers need Dask: pip install 'migbench[cluster]' (or dask "
                            "distributed), then retry")


class LazyPool:
    """`open_pool` on first use: a command whose runs are all recorded already starts no cluster. A
    cluster that cannot be had is still one line (MigbenchError) before any run, at that first use."""

    def __init__(self, address: str | None, workers: int | None):
        self.address, self.workers = address, workers
        self._stack = contextlib.ExitStack()
        self._pool = None

    def _open(self):
        if self._pool is None:
            self._pool = self._stack.enter_context(open_pool(self.address, self.workers))
        return self._pool

    @property
    def slots(self) -> int:
        """--workers N is N slots without starting anything; a --cluster's slots are its workers'."""
        return self.workers if self._pool is None and self.workers is not None else self._open().slots

    def describe(self) -> str:
        return self._open().describe()

    def run(self, jobs, context):
        return self._open().run(jobs, context)

    def session(self, context):
        return self._open().session(context)

    def close(self) -> None:
        self._stack.close()


def parse_workers(text: str | None) -> int | None:
    """--workers N: a whole number of local worker processes, 1 to MAX_LOCAL_WORKERS."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LOCAL_WORKERS:
        raise MigbenchError("--workers %s: give a whole number of local worker processes from 1 to %d, e.g. "
                            "--workers 2" % (text, MAX_LOCAL_WORKERS))
    return value


def parse_cluster(text: str | None) -> str | None:
    """--cluster ADDRESS: a Dask scheduler address, tcp://HOST:PORT (or tls://)."""
    if text is None:
        return None
    scheme, _, rest = text.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("tcp", "tls") or not host or not port.isdigit():
        raise MigbenchError("--cluster %s: give a Dask scheduler address, e.g. --cluster tcp://10.0.0.5:8786 "
                            "(`dask scheduler` prints it)" % text)
    return text


__all__ = ["LazyPool", "MAX_LOCAL_WORKERS", "open_pool", "parse_cluster", "parse_workers", "require_dask"]
