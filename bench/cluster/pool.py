"""A Dask cluster as a pool of measurement slots (bench/run/jobs.Pool).

Dask distributed schedules; this module only says how migbench uses it:
- a slot is a worker resource, `measure=1` per worker (`dask worker ...
  --nthreads 1 --resources measure=1`), and every task asks for one, so two
  measured runs never share a worker; a worker without the resource gets no run;
- a task is one run (task.py), submitted at once (`run`) or one by one (`session`: a
  bisection chooses its next probe from the last outcome); Dask reruns a task whose worker was lost
  (the scheduler's `allowed-failures`, 3 by default), and one lost more often
  than that comes back as `Done.lost`, with no record;
- records come back to this process as they finish (`as_completed`) and the
  caller stores them; exported profile files come as bytes and are written
  into a temporary folder here, as a serial profiled run leaves them.
Before the first task it checks that every worker runs the migbench this
client runs (same version and commit: a record names the commit that
measured it), and counts the slots on each machine (a record says how many
measured runs its machine could hold at once).

It is not responsible for starting remote workers (docs/cluster.md), nor for
storing: bench/run/executor.py stores what comes back.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator

from migbench import __version__
from migbench.bench.measure import host
from migbench.bench.records import record_from_dict
from migbench.bench.records.sharing import machine_name
from migbench.bench.run.jobs import Done, Job, RunContext
from migbench.errors import MigbenchError
from migbench.provenance import git_commit

from .task import Task, perform

RESOURCE = "measure"


class DaskPool:
    """Measurement slots of a Dask cluster, through one Client."""

    def __init__(self, client, origin: str):
        self.client, self.origin = client, origin
        self.workers = _slot_workers(client)
        if not self.workers:
            raise MigbenchError(
                "%s offers no measurement slot: start each worker with `dask worker %s "
                "--nthreads 1 --resources %s=1` (docs/cluster.md)" % (origin, client.scheduler.address, RESOURCE))
        identities = _identities(client, self.workers)
        self.machines = {address: identity["machine"] for address, identity in identities.items()}
        self.slots = len(self.workers)
        per_machine = Counter(self.machines.values())
        self.info = {"scheduler": client.scheduler.address, "workers": self.slots,  # what each task carries
                     "slots_by_worker": {w: per_machine[m] for w, m in self.machines.items()}}

    def describe(self) -> str:
        per_machine = Counter(self.machines.values())
        return "%s: %d measurement slot%s on %d machine%s (%s)" % (
            self.origin, self.slots, "" if self.slots == 1 else "s", len(per_machine),
            "" if len(per_machine) == 1 else "s",
            ", ".join("%s: %d" % (machine, n) for machine, n in sorted(per_machine.items())))

    def run(self, jobs: Iterable[Job], context: RunContext) -> Iterator[Done]:
        """Submit every job at once (one slot each); yield a Done per job as it finishes. Leaving early
        (Ctrl-C, an error) cancels the rest and stops the runs in progress (their children clean up)."""
        with self.session(context) as session:
            for job in jobs:
                session.submit(job)
            while session.pending:
                yield session.next()

    def session(self, context: RunContext) -> "Session":
        """Jobs submitted one by one, collected as they finish (a bisection decides its next probe from
        the last one's outcome)."""
        return Session(self, context)


class Session:
    """Submitted jobs of one command: `submit`, `next` (blocks until one is done), `pending`. Leaving the
    with block with jobs pending cancels them: queued ones never start, running ones stop (SIGTERM to
    their children, which clean up as after Ctrl-C) and leave no record."""

    def __init__(self, pool: DaskPool, context: RunContext):
        from distributed import as_completed

        self.pool, self.context = pool, context
        self.futures: dict = {}
        self.completed = as_completed()

    @property
    def pending(self) -> int:
        return len(self.futures)

    def submit(self, job: Job) -> None:
        task = Task.of(job, self.context, self.pool.info)
        key = "migbench-%s-%s" % (job.planned.cell.slug(job.repeat), uuid.uuid4().hex[:8])
        future = self.pool.client.submit(perform, task, resources={RESOURCE: 1}, pure=False, key=key)
        self.futures[future] = job
        self.completed.add(future)

    def next(self) -> Done:
        future = next(self.completed)
        return _done(self.futures.pop(future), future)

    def close(self) -> None:
        if self.futures:  # queued tasks never start; running ones stop their children (task.py)
            self.pool.client.cancel(list(self.futures), force=True)
            self.futures.clear()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _done(job: Job, future) -> Done:
    try:
        result = future.result()
    except Exception as error:  # KilledWorker: lost more often than the scheduler retries; or a task bug
        return Done(job, lost="%s: %s" % (type(error).__name__, error))
    worker = result.get("worker", "")
    if "error" in result:
        return Done(job, error=result["error"], worker=worker)
    if "lost" in result:
        return Done(job, lost=result["lost"], worker=worker)
    record = record_from_dict(json.loads(result["record"]), "the record from worker %s" % worker)
    return Done(job, record, _unpack(result.get("files") or []), worker=worker)


def _unpack(files: list) -> list[tuple[str, Path]]:
    """A profiled run's exported files, written where a serial run hands them over (held/<folder>/<name>)."""
    if not files:
        return []
    held = Path(tempfile.mkdtemp(prefix="migbench-profile-"))
    out = []
    for kind, name, data in files:
        folder, base = name.split("/", 1)
        target = held / Path(folder).name / Path(base).name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(data)
        out.append((kind, target))
    return out


def _slot_workers(client) -> list[str]:
    info = client.scheduler_info()
    if "workers" not in info or len(info["workers"]) < info.get("n_workers", 0):
        info = client.scheduler_info(n_workers=-1)
    return sorted(address for address, worker in info.get("workers", {}).items()
                  if (worker.get("resources") or {}).get(RESOURCE, 0) >= 1)


def _identity() -> dict:
    """What a worker runs and where (run on every worker by the client)."""
    return {"version": __version__, "commit": git_commit(), "machine": machine_name(host.describe())}


def _identities(client, workers: list[str]) -> dict[str, dict]:
    """Every worker's identity, after checking it imports the migbench this client runs, at the same commit."""
    mine = _identity()
    try:
        theirs = client.run(_identity, workers=workers)
    except Exception as error:  # a worker cannot import migbench at all
        raise MigbenchError("the cluster's workers cannot run migbench (%s: %s): install this migbench on every "
                            "machine, `pip install 'migbench[cluster]'` (docs/cluster.md)"
                            % (type(error).__name__, error)) from None
    for address, identity in sorted(theirs.items()):
        if (identity["version"], identity["commit"]) != (mine["version"], mine["commit"]):
            raise MigbenchError("worker %s runs migbench %s (commit %s), this client %s (commit %s): install the "
                                "same migbench on every machine of the cluster (docs/cluster.md)"
                                % (address, identity["version"], identity["commit"] or "unknown",
                                   mine["version"], mine["commit"] or "unknown"))
    return theirs


__all__ = ["DaskPool", "RESOURCE"]
