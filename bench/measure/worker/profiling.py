# -*- coding: utf-8 -*-
"""Where a `migrate` spends its time, split into stages a Django developer names.

Runs INSIDE a target environment, loaded by measure.py only under ``--profile``
(stdlib, Python 2.7 .. 3.13, Django 1.7 .. 6.1; same rules as measure.py).

Two instruments, both stdlib:

- the stage timer: wrappers around a fixed set of Django functions (the
  landmarks below). Each wrapper pushes a frame on entry and pops it on exit;
  the time between two pushes/pops is charged to the innermost frame's stage.
  So the stages partition the worker's own clock exactly: a SQL statement run
  by a post-migrate handler counts as `sql`, the handler's own Python as
  `signals`, and `inclusive` says how long each stage was anywhere on the stack.
  A landmark missing from a Django version is skipped, never an error.
- cProfile (mode "time") for the function table and the `.pstats` export, or
  tracemalloc (mode "memory", allocations.py) for where memory sits at the peak.

What this module is NOT responsible for: reading events (measure.py writes
them), the per-migration table (the parent derives it from the events), or
comparing with an unprofiled run (the parent does). Side effects: it replaces
attributes of Django classes in this process only, and writes files into the
profile directory given by the parent.
"""
from __future__ import absolute_import, division, print_function

import json
import os
import sys
import time

# The stage keys, in order; the parent's copy is bench/records/profiles.py STAGES (a test
# keeps them equal).
STAGES = ("setup", "checks", "graph", "state", "schema", "sql", "python", "signals", "rest")
CHECKPOINT_S = 2.0  # how often the stages so far are written (partial.json)
FUNCTION_ROWS = 200  # per order (cumulative, own): the parent keeps the top 40 after merging steps
_OWN_FILE = os.path.splitext(os.path.abspath(__file__))[0]

# (module, class or None, attribute, stage). stage None: the frame is shown but its own time
# goes to the enclosing stage (Migration.apply's loop is neither state nor schema work).
LANDMARKS = (
    ("django.core.checks.registry", "CheckRegistry", "run_checks", "checks"),
    ("django.db.migrations.loader", "MigrationLoader", "build_graph", "graph"),
    ("django.db.migrations.loader", "MigrationLoader", "check_consistent_history", "graph"),
    ("django.db.migrations.loader", "MigrationLoader", "detect_conflicts", "graph"),
    ("django.db.migrations.executor", "MigrationExecutor", "migration_plan", "graph"),
    ("django.db.migrations.loader", "MigrationLoader", "project_state", "state"),
    ("django.db.migrations.executor", "MigrationExecutor", "_create_project_state", "state"),
    ("django.db.migrations.state", "ProjectState", "clone", "state"),
    ("django.db.migrations.state", "ProjectState", "reload_model", "state"),
    ("django.db.migrations.state", "ProjectState", "reload_models", "state"),
    ("django.db.migrations.state", "StateApps", "__init__", "state"),
    ("django.db.migrations.state", "StateApps", "render_multiple", "state"),
    ("django.db.migrations.state", "StateApps", "clone", "state"),
    ("django.db.migrations.migration", "Migration", "mutate_state", "state"),
    ("django.db.migrations.migration", "Migration", "apply", None),
    ("django.db.migrations.migration", "Migration", "unapply", None),
    ("django.db.backends.base.schema", "BaseDatabaseSchemaEditor", "__enter__", "schema"),
    ("django.db.backends.base.schema", "BaseDatabaseSchemaEditor", "__exit__", "schema"),
    ("django.db.backends.utils", "CursorWrapper", "execute", "sql"),
    ("django.db.backends.utils", "CursorWrapper", "executemany", "sql"),
    ("django.db.backends.utils", "CursorWrapper", "callproc", "sql"),
    ("django.db.backends.base.base", "BaseDatabaseWrapper", "connect", "sql"),
    ("django.db.backends.base.base", "BaseDatabaseWrapper", "_commit", "sql"),
    ("django.db.backends.base.base", "BaseDatabaseWrapper", "_rollback", "sql"),
)
# Django 1.7 only: the schema editor and the connection where they were before 1.8 moved them to
# backends/base/, and its whole-project render (StateApps came in 1.8). Never named missing elsewhere.
LANDMARKS_17 = (
    ("django.db.backends.schema", "BaseDatabaseSchemaEditor", "__enter__", "schema"),
    ("django.db.backends.schema", "BaseDatabaseSchemaEditor", "__exit__", "schema"),
    ("django.db.backends", "BaseDatabaseWrapper", "connect", "sql"),
    ("django.db.backends", "BaseDatabaseWrapper", "_commit", "sql"),
    ("django.db.backends", "BaseDatabaseWrapper", "_rollback", "sql"),
    ("django.db.migrations.state", "ProjectState", "render", "state"),
)
# Every Operation subclass's own definitions of these get a frame "<Class>.<method>".
OPERATION_METHODS = (("state_forwards", "state"), ("database_forwards", "schema"),
                     ("database_backwards", "schema"))
PYTHON_OPERATIONS = ("RunPython",)  # their database_* run the project's own functions


def clock_function():
    """The finest wall clock this Python has (perf_counter from 3.3; time.time on 2.7)."""
    return getattr(time, "perf_counter", time.time)


class StageTimer(object):
    """Exclusive seconds per stage and per stack of frames; calls, own and cumulative per frame."""

    def __init__(self, clock, started):
        self.clock = clock
        self.started = self.last = started
        self.frames = []  # (name, stage, path, entered minus the pauses before it, has its own stage)
        self.exclusive = dict((stage, 0.0) for stage in STAGES)
        self.inclusive = dict((stage, 0.0) for stage in STAGES)
        self.on_stack = {}  # stage or frame name -> how many times it is on the stack now
        self.by_path = {}  # tuple of frame names -> exclusive seconds (the flame graph)
        self.landmarks = {}  # frame name -> [calls, own, cum]
        self.paused = 0.0  # the profiler's own work inside the span (memory snapshots)
        self.on_pop = None  # called after each pop, with the clock stopped (memory mode)
        self.ended = None

    def _charge(self, now):
        elapsed = now - self.last
        self.last = now
        if self.frames:
            name, stage, path = self.frames[-1][:3]
            self.landmarks[name][1] += elapsed
        else:
            stage, path = "rest", ()
        self.exclusive[stage] += elapsed
        self.by_path[path] = self.by_path.get(path, 0.0) + elapsed

    def push(self, name, stage):
        now = self.clock()
        self._charge(now)
        own = stage is not None  # a frame without a stage (Migration.apply) is not its parent's stage
        if stage is None:
            stage = self.frames[-1][1] if self.frames else "rest"
        path = (self.frames[-1][2] if self.frames else ()) + (name,)
        self.frames.append((name, stage, path, now - self.paused, own))
        row = self.landmarks.get(name)
        if row is None:
            row = self.landmarks[name] = [0, 0.0, 0.0]
        row[0] += 1
        for key in ((stage, name) if own else (name,)):
            self.on_stack[key] = self.on_stack.get(key, 0) + 1

    def pop(self):
        now = self.clock()
        self._charge(now)
        name, stage, _, entered, own = self.frames.pop()
        entered += self.paused  # the profiler's own pauses inside the frame are not its time
        for key, table in (((stage, self.inclusive), (name, None)) if own else ((name, None),)):
            count = self.on_stack[key] - 1
            self.on_stack[key] = count
            if count == 0:
                if table is not None:
                    table[key] += now - entered
                else:
                    self.landmarks[name][2] += now - entered
        if self.on_pop is not None:
            self.on_pop()

    def pause(self):
        """Stop charging (the profiler works); returns the token resume() takes."""
        now = self.clock()
        self._charge(now)
        return now

    def resume(self, token):
        now = self.clock()
        self.paused += now - token
        self.last = now

    def end(self):
        if self.ended is None:
            now = self.clock()
            while self.frames:  # a raising command leaves no frame open, but be sure
                self.pop()
            self._charge(now)
            self.ended = now

    def summary(self):
        span = (self.ended if self.ended is not None else self.clock()) - self.started
        return {
            "span_s": round(span, 6),
            "paused_s": round(self.paused, 6),
            "stages": dict((k, round(v, 6)) for k, v in self.exclusive.items()),
            # a stage's time on the stack includes its own; "rest" has no frame of its own
            "inclusive": dict((k, round(max(v, self.exclusive[k]), 6)) for k, v in self.inclusive.items()),
            "landmarks": dict((name, {"calls": row[0], "own_s": round(row[1], 6), "cum_s": round(row[2], 6)})
                              for name, row in self.landmarks.items()),
        }


def _wrap(owner, attr, name, stage, timer):
    original = owner.__dict__.get(attr)
    if original is None or not callable(original) or isinstance(original, (staticmethod, classmethod)):
        return False
    if getattr(original, "_migbench_stage", None) is not None:
        return False  # already wrapped (a subclass seen twice)

    wrapper = wrap_callable(original, name, stage, timer)
    for key in ("__name__", "__doc__", "__module__"):
        try:
            setattr(wrapper, key, getattr(original, key))
        except (AttributeError, TypeError):
            pass
    wrapper._migbench_stage = stage or "-"
    setattr(owner, attr, wrapper)
    return True


def hook_django(timer):
    """Wrap every landmark this Django has; return (wrapped frame names, missing ones).

    Called right after django.setup(): every module named here imports cleanly then.
    """
    import importlib
    import django
    wrapped, missing = [], []
    landmarks = LANDMARKS + (LANDMARKS_17 if django.VERSION[:2] < (1, 8) else ())
    for module_name, class_name, attr, stage in landmarks:
        name = "%s.%s" % (class_name, attr)
        try:
            owner = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            missing.append(name)
            continue
        (wrapped if _wrap(owner, attr, name, stage, timer) else missing).append(name)
    missing = [name for name in missing if name not in wrapped]  # 1.7: found in its own module
    _rebind_run_checks()
    try:
        from django.db.migrations.operations.base import Operation
        importlib.import_module("django.db.migrations.operations")  # every built-in operation class
    except ImportError:
        return wrapped, missing
    seen, todo = set(), [Operation]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        todo.extend(cls.__subclasses__())
        for attr, stage in OPERATION_METHODS:
            if cls.__name__ in PYTHON_OPERATIONS and attr != "state_forwards":
                stage = "python"
            name = "%s.%s" % (cls.__name__, attr)
            if _wrap(cls, attr, name, stage, timer):
                wrapped.append(name)
    return wrapped, missing


def _rebind_run_checks():
    """django.core.checks.run_checks is the global registry's method bound at import time, so
    it still calls the unwrapped function: bind it again (callers look it up on the module)."""
    try:
        from django.core import checks
        from django.core.checks import registry
    except ImportError:
        return
    for module in (checks, registry):
        if getattr(module, "run_checks", None) is not None:
            module.run_checks = registry.registry.run_checks


def wrap_callable(function, name, stage, timer):
    """A module-level function wrapped like a landmark (django.setup, the migrate signals)."""

    def wrapper(*args, **kwargs):
        timer.push(name, stage)
        try:
            return function(*args, **kwargs)
        finally:
            timer.pop()

    wrapper.__wrapped__ = function
    return wrapper


# -- cProfile: the function table and the export -------------------------------------------


def _short(filename):
    """A file name without the environment's prefix: django/db/migrations/state.py."""
    marker = "site-packages" + os.sep
    if marker in filename:
        return filename.split(marker, 1)[1]
    cwd = os.getcwd() + os.sep
    if filename.startswith(cwd):
        return filename[len(cwd):]
    return filename


def function_table(profiler):
    """(rows, total): the profiler's functions, biggest first by cumulative and by own time."""
    import pstats
    stats = pstats.Stats(profiler).stats
    rows, total = [], 0.0
    for (filename, line, function), (primitive, calls, own, cumulative, _) in stats.items():
        if filename.startswith(_OWN_FILE) or filename == "~" and function.startswith("<method 'disable'"):
            continue
        total += own
        label = "%s:%d(%s)" % (_short(filename), line, function) if filename != "~" else function
        rows.append({"function": label, "calls": calls, "primitive_calls": primitive,
                     "own_s": round(own, 6), "cum_s": round(cumulative, 6)})
    by_cumulative = sorted(rows, key=lambda row: -row["cum_s"])[:FUNCTION_ROWS]
    by_own = sorted(rows, key=lambda row: -row["own_s"])[:FUNCTION_ROWS]
    return {"by_cumulative": by_cumulative, "by_own": by_own, "total_s": round(total, 6)}


# -- the speedscope export --------------------------------------------------------------------


def speedscope(weighted_stacks, name, unit):
    """A speedscope "sampled" profile: stacks (tuples of frame names, outermost first) with weights."""
    frames, index, samples, weights = [], {}, [], []
    for stack, weight in sorted(weighted_stacks, key=lambda item: -item[1]):
        if weight <= 0:
            continue
        row = []
        for frame in stack:
            if frame not in index:
                index[frame] = len(frames)
                frames.append({"name": frame})
            row.append(index[frame])
        samples.append(row)
        weights.append(weight)
    return {"$schema": "https://www.speedscope.app/file-format-schema.json", "exporter": "migbench",
            "name": name, "activeProfileIndex": 0, "shared": {"frames": frames},
            "profiles": [{"type": "sampled", "name": name, "unit": unit, "startValue": 0,
                          "endValue": sum(weights), "samples": samples, "weights": weights}]}


def write_json(path, data):
    """Atomically: a killed child leaves the previous file or none, never half of one."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as handle:
        json.dump(data, handle, sort_keys=True)
    os.rename(tmp, path)


class Profile(object):
    """One profiled command: the stage timer, plus cProfile or tracemalloc."""

    def __init__(self, mode, directory, started, load):
        self.mode, self.directory = mode, directory
        self.clock = clock_function()
        self.timer = StageTimer(self.clock, started)
        self.profiler = self.memory = None
        self.wrapped, self.missing = [], []
        self.notes = []
        self.started_epoch = None  # time.time() when the worker's clock started (measure.py sets it)
        self.checkpoint_at = started + CHECKPOINT_S
        self.timer.on_pop = self._tick
        if mode == "memory":
            self.memory = load("allocations").Allocations(self, directory)
        elif mode == "time":
            import cProfile
            self.profiler = cProfile.Profile()
        else:
            raise ValueError(mode)

    def start(self):
        if self.profiler is not None:
            self.profiler.enable()
        if self.memory is not None:
            self.memory.start()

    def _tick(self):
        """After each landmark: a memory snapshot if due, and every CHECKPOINT_S the stages so far
        (partial.json), so a run the kernel kills still says where its time went until then."""
        if self.memory is not None:
            self.memory.tick()
        if self.timer.last >= self.checkpoint_at:
            token = self.timer.pause()
            try:
                partial = self.timer.summary()
                partial.update({"mode": self.mode, "outcome": "running", "wrapped": sorted(self.wrapped),
                                "started_epoch": self.started_epoch,
                                "missing": sorted(self.missing), "files": {}, "output_s": 0.0,
                                "python": "%d.%d.%d" % tuple(sys.version_info[:3])})
                write_json(os.path.join(self.directory, "partial.json"), partial)
            finally:
                self.timer.resume(token)
            self.checkpoint_at = self.timer.last + CHECKPOINT_S

    def wrap_callable(self, function, name, stage):
        return wrap_callable(function, name, stage, self.timer)

    def after_setup(self):
        token = self.timer.pause()
        try:
            self.wrapped, self.missing = hook_django(self.timer)
        finally:
            self.timer.resume(token)

    def finish(self, outcome):
        """Stop measuring and write profile.json (+ exports); the time it takes is the profiler's own."""
        self.timer.end()
        if self.profiler is not None:
            self.profiler.disable()
        written_at = self.clock()
        summary = self.timer.summary()
        summary.update({"mode": self.mode, "outcome": outcome, "wrapped": sorted(self.wrapped),
                        "started_epoch": self.started_epoch,
                        "missing": sorted(self.missing), "python": "%d.%d.%d" % tuple(sys.version_info[:3]),
                        "notes": self.notes, "files": {}})
        flame = [(("migrate",) + path, seconds) for path, seconds in self.timer.by_path.items()]
        write_json(os.path.join(self.directory, "stages.speedscope.json"),
                   speedscope(flame, "migrate: stages (seconds)", "seconds"))
        summary["files"]["speedscope"] = "stages.speedscope.json"
        if self.profiler is not None:
            summary["tool"] = "cProfile + stage timer"
            summary["functions"] = function_table(self.profiler)
            self.profiler.dump_stats(os.path.join(self.directory, "migrate.pstats"))
            summary["files"]["pstats"] = "migrate.pstats"
        if self.memory is not None:
            summary["tool"] = "tracemalloc + stage timer"
            summary["memory"] = self.memory.finish()
            if summary["memory"].get("speedscope"):
                summary["files"]["memory_speedscope"] = summary["memory"].pop("speedscope")
        summary["output_s"] = round(self.clock() - written_at, 6)
        write_json(os.path.join(self.directory, "profile.json"), summary)
