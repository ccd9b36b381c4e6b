# -*- coding: utf-8 -*-
"""Where memory sits at the peak: tracemalloc snapshots, grouped the way a Django developer asks.

Runs INSIDE a target environment, loaded by profiling.py for ``--profile memory``
(stdlib, Python 3.4+: tracemalloc; the parent refuses a Python 2.7 cell first).

A snapshot is taken whenever the traced memory has grown by GROWTH over the
last snapshot, at the stage timer's pops (after a state is cloned or rendered,
a statement run, ...): so the largest snapshot kept is within GROWTH of the
peak tracemalloc saw, which it reports too. Each snapshot is summarised at once
and written to memory.json (atomically), then dropped: keeping it would double
the memory being measured, and a run the kernel kills still leaves its last
summary. The time this takes is the profiler's own (the stage timer is paused).

Groupings, each by the allocation's traceback:
- sites: the innermost frame (file:line and its function);
- functions / modules: the innermost frame inside Django, so the deep copies
  made by ProjectState.clone count as clone's, not as copy.py's;
- landmarks: the innermost stage-timer landmark on the traceback
  (ProjectState.clone, StateApps.__init__, ...), found by function name.
"""
from __future__ import absolute_import, division, print_function

import bisect
import os
import re
import sys

GROWTH = 1.3


def _megabytes(text):
    text = text.strip().upper()
    return int(float(text[:-1]) * 2 ** 20) if text.endswith("M") else int(text)


# No snapshot below this much traced memory: start-up is not the question.
FIRST = _megabytes(os.environ.get("MIGBENCH_TRACEMALLOC_FIRST", "32M"))
# Frames kept per allocation: tracing time grows with it (about 10x a plain run at 16), and a
# landmark (ProjectState.clone, ...) must be within reach of the allocation.
FRAMES = int(os.environ.get("MIGBENCH_TRACEMALLOC_FRAMES", "16"))
TOP = 25
SPEEDSCOPE_STACKS = 3000
# Allocation tracebacks read per snapshot, biggest first (statistics() sorts them): reading
# each frame is Python code that tracemalloc traces too, so the long tail of small ones is
# counted as "smaller tracebacks" without being read.
READ_TRACEBACKS = 2000


def _module_of(filename, roots):
    for root in roots:
        if filename.startswith(root):
            rel = filename[len(root):]
            if rel.endswith(".py"):
                rel = rel[:-3]
            parts = [p for p in rel.split(os.sep) if p]
            if parts and parts[-1] == "__init__":
                parts.pop()
            return ".".join(parts) or filename
    return os.path.basename(filename)


_DEF = re.compile(r"^([ \t]*)(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)")


class FunctionIndex(object):
    """(file, line) -> the qualified name of the innermost def or class holding the line.

    Read from the source's def/class lines and their indentation, not by parsing it: ast
    allocates a tree per file, and every allocation is traced while this runs. Good enough
    for names shown to a person (a line inside a multi-line string may be misnamed).
    """

    def __init__(self):
        self.files = {}

    @staticmethod
    def _scan(filename):
        defs = []  # (line, indent, name) of every def/class line, in order
        lines = []
        try:
            with open(filename, "rb") as handle:
                for number, raw in enumerate(handle, 1):
                    text = raw.decode("utf-8", "replace").expandtabs()
                    lines.append(len(text) - len(text.lstrip()) if text.strip() else None)
                    match = _DEF.match(text)
                    if match:
                        defs.append((number, len(match.group(1)), match.group(2)))
        except (IOError, OSError):
            pass
        return defs, lines

    def name(self, filename, line):
        found = self.files.get(filename)
        if found is None:
            found = self.files[filename] = self._scan(filename)
        defs, indents = found
        indent = indents[line - 1] if 0 < line <= len(indents) and indents[line - 1] is not None else 10 ** 6
        names = []
        i = bisect.bisect_right(defs, (line, 10 ** 6, "")) - 1
        while i >= 0 and indent > 0:
            number, depth, name = defs[i]
            if depth < indent or number == line:
                names.append(name)
                indent = depth
            i -= 1
        return ".".join(reversed(names)) or "<module>"


class Allocations(object):
    def __init__(self, profile, directory):
        import tracemalloc  # Python >= 3.4
        self.tracemalloc = tracemalloc
        self.profile, self.directory = profile, directory
        self.next_at = 0
        self.snapshots = 0
        self.kept = None  # the summary of the largest snapshot
        self.index = FunctionIndex()
        self.resolved = {}  # (file, line) -> (file, line, module, function)
        self.own = (os.path.dirname(os.path.abspath(__file__)) + os.sep, tracemalloc.__file__.rsplit(".", 1)[0])
        self.roots = sorted(set(os.path.join(os.path.abspath(p), "") for p in sys.path if p),
                            key=len, reverse=True)
        self.landmarks = set()
        self.at = "start"

    def start(self):
        self.tracemalloc.start(FRAMES)
        self.next_at = max(FIRST, self.tracemalloc.get_traced_memory()[0] * GROWTH)

    def tick(self):
        current = self.tracemalloc.get_traced_memory()[0]
        if current < self.next_at:
            return
        token = self.profile.timer.pause()
        try:
            self.snapshot(current)
        finally:
            self.profile.timer.resume(token)

    def snapshot(self, current):
        timer = self.profile.timer
        self.at = " > ".join(frame[0] for frame in timer.frames) or "(between landmarks)"
        self.landmarks = set(self.profile.wrapped)
        snap = self.tracemalloc.take_snapshot()  # not filter_traces(): Python code per trace, slow
        stats = snap.statistics("traceback")
        del snap
        self.snapshots += 1
        summary = self.summarise(stats, current)
        del stats
        if self.kept is None or summary["snapshot_traced_bytes"] >= self.kept["snapshot_traced_bytes"]:
            self.kept = summary
            self._write()
        self.next_at = max(self.next_at, current) * GROWTH

    def _frame(self, frame):
        key = (frame.filename, frame.lineno)
        found = self.resolved.get(key)
        if found is None:
            found = self.resolved[key] = (frame.filename, frame.lineno, _module_of(frame.filename, self.roots),
                                          self.index.name(frame.filename, frame.lineno))
        return found

    def summarise(self, stats, current):
        sites, functions, modules, landmarks, stacks = {}, {}, {}, {}, {}
        total = 0
        newest_first = sys.version_info < (3, 7)
        unread = sum(stat.size for stat in stats[READ_TRACEBACKS:])
        unread_blocks = sum(stat.count for stat in stats[READ_TRACEBACKS:])
        for stat in stats[:READ_TRACEBACKS]:
            frames = list(stat.traceback)
            if not newest_first:
                frames.reverse()  # 3.7+: oldest first; walk from the allocation outwards
            size, count = stat.size, stat.count
            total += size
            resolved = [self._frame(f) for f in frames]
            if not resolved or resolved[0][0].startswith(self.own):
                total -= size  # the profiler's own (its caches), not the project's
                continue
            filename, line, module, function = resolved[0]
            key = "%s:%d" % (_short(filename), line)
            _add(sites, key, size, count, function=function, module=module)
            django = next((r for r in resolved if r[2].startswith("django.")), None)
            _add(modules, django[2] if django else "(outside Django: %s)" % module, size, count)
            _add(functions, "%s.%s" % (django[2], django[3]) if django else "(outside Django)", size, count)
            mark = next((r[3] for r in resolved if r[3] in self.landmarks), None)
            if mark is None:
                mark = next((r[3].rsplit(".", 1)[-1] for r in resolved
                             if r[3].rsplit(".", 1)[-1] in ("state_forwards", "database_forwards",
                                                            "database_backwards")), "(none)")
            _add(landmarks, mark, size, count)
            stack = tuple("%s.%s" % (r[2], r[3]) for r in reversed(resolved))
            stacks[stack] = stacks.get(stack, 0) + size
        if unread:
            for table in (sites, modules, functions, landmarks):
                _add(table, "(smaller tracebacks, not read)", unread, unread_blocks)
            stacks[("(smaller tracebacks, not read)",)] = unread
        return {
            "snapshot_traced_bytes": total + unread,
            "tracebacks": len(stats), "tracebacks_read": min(len(stats), READ_TRACEBACKS),
            "current_traced_bytes": current,
            "at": self.at,
            "sites": _top(sites, "site"),
            "functions": _top(functions, "function"),
            "modules": _top(modules, "module"),
            "landmarks": _top(landmarks, "function"),
            "_stacks": sorted(stacks.items(), key=lambda item: -item[1])[:SPEEDSCOPE_STACKS],
        }

    def _write(self):
        data = dict(self.kept)
        data.pop("_stacks", None)
        data.update(self._totals())
        self.profile_module().write_json(os.path.join(self.directory, "memory.json"), data)

    def _totals(self):
        current, peak = self.tracemalloc.get_traced_memory()
        return {"peak_traced_bytes": peak, "snapshots": self.snapshots, "frames": FRAMES,
                "growth": GROWTH, "tracemalloc_own_bytes": self.tracemalloc.get_tracemalloc_memory()}

    def profile_module(self):
        return sys.modules[type(self.profile).__module__]

    def finish(self):
        totals = self._totals()
        self.tracemalloc.stop()
        if self.kept is None:
            return dict(totals, note="no snapshot: traced memory never grew by %.1fx" % GROWTH)
        out = dict(self.kept)
        stacks = out.pop("_stacks")
        out.update(totals)
        other = out["snapshot_traced_bytes"] - sum(size for _, size in stacks)
        if other > 0:
            stacks.append((("(other allocation stacks)",), other))
        name = "memory.speedscope.json"
        module = self.profile_module()
        module.write_json(os.path.join(self.directory, name),
                          module.speedscope(stacks, "memory at the peak snapshot (bytes)", "bytes"))
        out["speedscope"] = name
        return out


def _short(filename):
    marker = "site-packages" + os.sep
    return filename.split(marker, 1)[1] if marker in filename else filename


def _add(table, key, size, count, **extra):
    row = table.get(key)
    if row is None:
        row = table[key] = dict(extra, bytes=0, blocks=0)
    row["bytes"] += size
    row["blocks"] += count


def _top(table, field):
    rows = sorted(table.items(), key=lambda item: -item[1]["bytes"])[:TOP]
    return [dict(row, **{field: key}) for key, row in rows]
