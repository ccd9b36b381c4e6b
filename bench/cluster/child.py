"""A cluster task's measuring process: a serial migbench for one run, started by task.perform.

`python -m migbench.bench.cluster.child TASK RESULT` reads the pickled Task,
prepares what the run needs on this machine (the environment for the cell's
--django/--python values, the engine's driver, the generated project: each
cached here, built once per machine however many slots share it), measures the
run exactly as `migbench run` does (bench/run/executor.run_once) and writes
the result (pickled) for the waiting task:
- {"record": JSON text, "files": [(kind, "folder/name", bytes)]} after a run
  (failed runs too: a crash is a result);
- {"error": text} when the cell cannot be prepared here (nothing measured).
An environment whose exact versions differ from the client's plan (another
patch release of Python on this machine) is such an error: its record would be
filed under another cell, and resuming would never find it.

It dies with its parent (PR_SET_PDEATHSIG): a lost worker takes its run with
it, and SIGTERM stops the run the way Ctrl-C stops `migbench run`.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import shutil
import signal
import sys
from pathlib import Path

from migbench.bench import engines
from migbench.bench.env import environments
from migbench.bench.run.executor import run_once
from migbench.bench.run.matrix import PlannedCell, install_driver, prepare_project
from migbench.errors import MigbenchError
from migbench.targets import resolve_line

_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    task_path, result_path = Path(argv[0]), Path(argv[1])
    _die_with_parent()
    signal.signal(signal.SIGTERM, _interrupt)
    task = pickle.loads(task_path.read_bytes())
    try:
        result = measure(task)
    except MigbenchError as error:
        result = {"error": str(error)}
    tmp = result_path.with_name(result_path.name + ".tmp")
    tmp.write_bytes(pickle.dumps(result))
    os.replace(tmp, result_path)  # the task reads a whole result or none
    return 0


def measure(task) -> dict:
    cell, context = task.cell, task.context
    notes: list[str] = []
    env = environments.ensure(*task.request)
    if (env.django_version, env.python_version) != (cell.django_version, cell.python_version):
        raise MigbenchError(
            "worker %s has Django %s / Python %s for --django %s --python %s, the client planned Django %s / "
            "Python %s: install the same interpreters on every machine of the cluster (docs/cluster.md)"
            % (task.cluster.get("worker"), env.django_version, env.python_version, task.request[0],
               task.request[1] or "(default)", cell.django_version, cell.python_version))
    engine = engines.get(context.databases.get(cell.database, cell.database))
    unavailable = engine.unavailable()
    if unavailable:
        raise MigbenchError("worker %s: --database %s: %s" % (task.cluster.get("worker"), cell.database, unavailable))
    with engine.serving():
        line = resolve_line(env.django_version)
        driver = install_driver(env, engine, line, notes.append)
        project = prepare_project(context.scenario, context.target, notes.append)
        planned = PlannedCell(cell, env, engine, driver, task.request)
        done = run_once(planned, task.repeat, project, context.scenario, context.options, context.command,
                        on_note=notes.append, dev_loop=task.dev_loop, profile=task.profile, cluster=task.cluster)
    record, files = done if task.profile else (done, [])
    try:
        carried = [(kind, "%s/%s" % (path.parent.name, path.name), path.read_bytes()) for kind, path in files]
    finally:
        for _, path in files:  # the folder run_once handed them over in
            shutil.rmtree(path.parent.parent, ignore_errors=True)
    return {"record": record.to_json(), "notes": notes, "files": carried}


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _die_with_parent() -> None:
    """SIGTERM when the worker process dies; exit now if it already has (the race before prctl)."""
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: a lost worker's run then ends by itself
        return
    if os.getppid() != parent:
        sys.exit(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
