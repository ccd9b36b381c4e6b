"""One measured run as a Dask task: what travels to the worker, and what the worker does with it.

`Task` is a job made portable: the cell, the (--django, --python) values its
environment was asked for, the shared context (scenario, options, command) and
the cluster's description; no path of the client's machine (the worker builds
its own environment and project, cached on its machine).

`perform` is the function Dask runs in a worker's thread. It does not measure
there: the worker process is full of threads (Dask's event loop, heartbeats),
where forking a measured child under a limiter is unsafe, and a worker that
dies must take its run with it. So it starts `child.py` in a fresh
interpreter, which is a serial migbench for one run, and waits for it:
- the child dies with the worker (PR_SET_PDEATHSIG), cleaning up as after a
  Ctrl-C (measured process killed, cgroup removed, scratch database dropped),
  and Dask runs the task again on another worker: no record was made;
- a task the client cancelled (its Ctrl-C, or the client gone) stops its running child
  the same way: the worker marks the task cancelled, which the waiting loop reads.
The record comes back as JSON text (and a profiled run's exported files as
bytes); the client stores it. Nothing is written on the worker but caches.
"""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from migbench.bench.records import Cell
from migbench.bench.run.jobs import Job, RunContext

_POLL_S = 1.0  # how often a waiting task asks whether it was cancelled


@dataclass(frozen=True)
class Task:
    cell: Cell
    request: tuple[str, str | None]
    repeat: int
    dev_loop: bool
    profile: str | None
    context: RunContext
    cluster: dict  # {"scheduler", "workers", "slots_by_worker": {address: slots on its machine}}

    @classmethod
    def of(cls, job: Job, context: RunContext, cluster: dict) -> "Task":
        planned = job.planned
        request = planned.request or (planned.cell.django_version, planned.cell.python_version)
        return cls(planned.cell, request, job.repeat, job.dev_loop, job.profile, context, cluster)


def perform(task: Task) -> dict:
    """Run the task's child on this worker and return its result (see child.py for the keys)."""
    worker = _this_worker()
    address = getattr(worker, "address", "") if worker is not None else ""
    name = getattr(worker, "name", None) if worker is not None else "local"
    name = address if name is None or name == "" else str(name)  # LocalCluster names its workers 0, 1, ...
    cluster = {"scheduler": task.cluster.get("scheduler", ""), "worker": name,
               "workers": int(task.cluster.get("workers", 1)),
               "machine_slots": int(task.cluster.get("slots_by_worker", {}).get(address, 1))}
    with tempfile.TemporaryDirectory(prefix="migbench-task-") as tmp:
        task_path, result_path, log_path = Path(tmp, "task.pickle"), Path(tmp, "result.pickle"), Path(tmp, "log")
        task_path.write_bytes(pickle.dumps(dataclasses.replace(task, cluster=cluster)))
        with open(log_path, "wb") as log:
            child = subprocess.Popen([sys.executable, "-m", "migbench.bench.cluster.child", str(task_path),
                                      str(result_path)], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            _wait(child, _cancelled(worker))
        if result_path.is_file():
            result = pickle.loads(result_path.read_bytes())
        else:
            tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
            result = {"lost": "its process on %s ended with status %s before a record: %s"
                      % (name, child.returncode, " | ".join(tail) or "no output")}
    result["worker"] = name
    return result


def _wait(child: subprocess.Popen, cancelled) -> None:
    """Wait for the child; stop it (SIGTERM: it cleans up as after Ctrl-C) when its task is cancelled."""
    while True:
        try:
            child.wait(timeout=_POLL_S)
            return
        except subprocess.TimeoutExpired:
            pass
        if cancelled():
            child.terminate()
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            return


def _cancelled(worker):
    """Is this task still wanted? The worker's own state says (no client: a client made in a worker
    thread outlives the worker's loop and complains at exit)."""
    if worker is None:
        return lambda: False
    key = worker.get_current_task()

    def cancelled() -> bool:
        state = worker.state.tasks.get(key)
        return state is None or state.state in ("cancelled", "released", "forgotten")

    return cancelled


def _this_worker():
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


__all__ = ["Task", "perform"]
