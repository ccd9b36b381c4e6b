"""Record format history, and one loader per format version.

Every record file names its format in its `schema` key. `LOADERS` maps each
version this migbench reads to a function that turns a dict of that version
into a current `RunRecord`, filling what the version lacks with the defaults
documented here; `record_from_dict` dispatches on `schema` through that table
and is the only code that compares version strings (report/load.py only checks
the "migbench.run/" prefix, to tell run records from other JSON files).

The rule (docs/records.md, since the first record): fields are only ever added
within a version; a change of meaning, or a field removed or renamed, gets a
new version. So a reader must accept a record of its version that lacks the
fields added after it was written, and may ignore fields it does not know
(a newer migbench may have added them within the same version).

Format history (pyperf's pyperf/_bench.py keeps its JSON history the same way)
------------------------------------------------------------------------------

migbench.run/1 -- the only version so far (migbench 0.1.0, 2026-11-21 on).
  Every record ever written says migbench.run/1. Its stages, oldest first; a
  record's stage shows in which fields it has (its `migbench_commit`, from
  d7b4829 on, names the exact code):

  f196292 2026-11-21  First records: run_id ... migbench_version, and notes
                      (always written, never required by a reader: default []).
                      peak_rss_bytes = max(wait4 ru_maxrss, sampled tree RSS);
                      peak_rss_detail = {wait4_maxrss_bytes, sampled_tree_bytes,
                      samples}.
  e57b228 2026-11-21  Compact JSON (no indentation). Nothing for a reader.
  0a6da4b 2026-11-21  peak_rss_detail gains wait4_maxrss_trusted,
                      parent_rss_at_fork_bytes and vmhwm_bytes; peak_rss_bytes
                      also takes the child's VmHWM and ignores a ru_maxrss not
                      above the parent's RSS at fork (the kernel carries the
                      parent's high-water mark across exec). Strictly a change
                      of meaning made within v1: a record whose peak_rss_detail
                      lacks wait4_maxrss_trusted may show, for a child smaller
                      than the measuring migbench, the migbench's size. Nothing
                      is filled in: the old figure cannot be recomputed.
  d7b4829 2026-11-21  migbench_commit (default "": unknown, as outside git).
  0de816c 2026-11-21  steps (default []: the run was one child and the
                      top-level figures are its own), validation, transform,
                      dev_loop, deploy (default null: not done).
  ae441e8 2026-11-22  scenario.vary, in records of `migbench sweep` only. Inside
                      an object, so nothing is filled in: readers use
                      scenario.get("vary").

  Keys inside the object fields (peak_rss_detail, limiter, scenario, project,
  phases, steps, validation, ...) are passed through as written; readers
  .get() the ones added later, as above.

Why not a migbench.run/2 for records that carry every field: none of these
changes altered what a field means (the peak_rss_bytes fix above excepted,
and a new version now could not mark the records already written), so by the
rule they belong to v1; a v1 loader that fills the documented defaults reads
every stage; and a bump would make scripts that check
`schema == "migbench.run/1"` refuse new records that any v1 reader can read.

Adding a version (say migbench.run/2, when a meaning changes or a field goes):
  1. write `_load_v2(data, source)` below and add `"migbench.run/2": _load_v2`
     to LOADERS (and the version to the history above and in docs/records.md);
     it checks its own field types (a V2_TYPES table like V1_TYPES, through
     contract.problems), so a damaged v2 file is one line too;
  2. make it the writer default: SCHEMA in record.py;
  3. if RunRecord changed shape, bring the older loaders up to date: each must
     still return a current RunRecord (convert or fill what changed).
Nothing else compares versions: ResultStore.done() reads through LOADERS, so
`migbench run` resumes over older records, and report/load.py recognises any
"migbench.run/" version. An older migbench that meets a newer record refuses
it with `UnreadableVersion`, and its store never sets such a file aside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from migbench.errors import MigbenchError

from . import contract
from .contract import ANY, BOOL, COUNT, INT, NUMBER, SECONDS, STR, ListOf, MapOf, Obj, nullable
from .record import SCHEMA, RunRecord

FAMILY = SCHEMA.split("/")[0] + "/"  # "migbench.run/": every run record version starts so


class UnreadableVersion(MigbenchError):
    """A run record ("migbench.run/...") of a version this migbench has no loader for."""


# -- migbench.run/1 -------------------------------------------------------------------------------

# In every v1 record, from the first (f196292); a record without one of them is damaged.
V1_FIELDS = (
    "run_id", "repeat", "outcome", "outcome_reason", "exit_code", "signal", "wall_s", "cpu_user_s",
    "cpu_sys_s", "peak_rss_bytes", "peak_rss_detail", "limit_peak_bytes", "memory_limit_bytes", "limiter",
    "strategy", "django_version", "python_version", "shim", "database", "scenario", "project", "phases",
    "failed_during", "last_migration", "events", "samples", "error", "command", "host", "started_at",
    "migbench_version",
)


@dataclass(frozen=True)
class Added:
    """A top-level field added within v1, and what a record from before it gets."""

    field: str
    commit: str  # the migbench commit that added it
    date: str
    default: Callable[[], object]  # a fresh value for each record
    means: str  # what the default says about that older run


def _null() -> None:
    return None


V1_ADDED = (
    Added("notes", "f196292", "2026-11-21", list, "no caveats recorded (never required by a reader)"),
    Added("migbench_commit", "d7b4829", "2026-11-21", str, "commit unknown, as for a run outside git"),
    Added("steps", "0de816c", "2026-11-21", list, "one child: the top-level figures are its own"),
    Added("validation", "0de816c", "2026-11-21", _null, "not validated"),
    Added("transform", "0de816c", "2026-11-21", _null, "the project was not transformed"),
    Added("dev_loop", "0de816c", "2026-11-21", _null, "no dev-loop commands timed"),
    Added("deploy", "0de816c", "2026-11-21", _null, "no deploy check"),
    Added("profile", "b5042d4", "2026-11-26", _null, "not a profiled run"),
    Added("concurrency", "b95dc63", "2026-11-26", _null, "not recorded: counted as solo (sharing.py)"),
    Added("cluster", "b95dc63", "2026-11-26", _null, "not run on a cluster"),
    Added("django_source", "9015d18", "2026-11-26", _null, "Django came from PyPI (a release or pre-release)"),
)


# The type of every v1 field (docs/records.md, "Fields"), checked when a record is loaded
# (contract.py says how). Inside objects: the keys readers use (report, compare, the
# summary of `migbench run`), by type when present; required only where readers have
# always relied on them. Other keys pass through unchecked, as written.
# Event times and phases come from the worker's wall clock (time.time(), minus the spawn
# time): a clock step may make them negative, so they are any finite number.
_PHASES = MapOf(nullable(NUMBER))
_STEP_KEYS = {
    "name": STR, "role": STR, "command": ListOf(STR), "outcome": STR, "outcome_reason": STR,
    "exit_code": nullable(INT), "signal": nullable(STR), "wall_s": SECONDS, "cpu_user_s": SECONDS,
    "cpu_sys_s": SECONDS, "peak_rss_bytes": COUNT, "limit_peak_bytes": nullable(COUNT),
    "oom_kills": nullable(COUNT), "phases": _PHASES, "failed_during": nullable(STR),
    "last_migration": nullable(STR), "verdict": nullable(STR), "stdout_tail": STR, "stderr_tail": STR,
}
_STEP = Obj(_STEP_KEYS)
_DEV_STEP = Obj(_STEP_KEYS, required=("wall_s", "peak_rss_bytes"))  # tables.py reads both by key
V1_TYPES = {
    "schema": STR,
    "run_id": STR,
    "repeat": COUNT,
    "outcome": STR,
    "outcome_reason": STR,
    "exit_code": nullable(INT),
    "signal": nullable(STR),
    "wall_s": SECONDS,
    "cpu_user_s": SECONDS,
    "cpu_sys_s": SECONDS,
    "peak_rss_bytes": COUNT,
    "peak_rss_detail": Obj(),
    "limit_peak_bytes": nullable(COUNT),
    "memory_limit_bytes": nullable(COUNT),
    "limiter": Obj({"name": STR, "caps": STR}),
    "strategy": STR,
    "django_version": STR,
    "python_version": STR,
    "shim": BOOL,
    # server engines (issue 15) add server, server_version, driver and server_memory within v1
    "database": Obj({"engine": STR, "fresh": BOOL, "server": STR, "server_version": nullable(STR), "url": STR,
                     "settings": MapOf(STR),
                     "driver": Obj({"module": STR, "package": STR, "version": STR}),
                     "server_memory": Obj({"peak_bytes": nullable(COUNT), "samples": COUNT, "measure": STR})},
                    required=("engine",)),
    "scenario": Obj({"name": STR, "sha256": STR, "vary": MapOf(COUNT)}, required=("name", "sha256")),
    "project": Obj({"apps": COUNT, "models": COUNT, "fields": COUNT, "migrations": COUNT}),
    "phases": _PHASES,
    "failed_during": nullable(STR),
    "last_migration": nullable(STR),
    "events": ListOf(Obj({"event": STR, "t": NUMBER, "rss": nullable(COUNT), "step": STR,
                          "migration": STR}, required=("event", "t"))),
    "samples": Obj({"interval_s": SECONDS, "t": ListOf(SECONDS), "rss": ListOf(COUNT)}),
    "error": nullable(Obj({"stderr_tail": STR, "stdout_tail": STR, "step": STR})),
    "command": Obj({"migbench": ListOf(STR), "child": ListOf(STR)}),
    "host": Obj({"hostname": STR, "cpu_count": nullable(COUNT), "ram_bytes": nullable(COUNT),
                 "load_1m": nullable(NUMBER), "machine_id": nullable(STR)}),
    "started_at": STR,
    "migbench_version": STR,
    # added within v1 (V1_ADDED): checked when present
    "notes": ListOf(STR),
    "migbench_commit": STR,
    "steps": ListOf(_STEP),
    "validation": nullable(Obj({
        "ok": BOOL, "schema": STR, "difference_count": COUNT, "rows": nullable(STR),
        "differences": ListOf(Obj({"object": STR, "kind": STR, "detail": ANY}, required=("object", "kind")))})),
    "transform": nullable(Obj({"kind": STR, "wall_s": SECONDS,
                               "apps": ListOf(Obj({"app": STR, "status": STR, "outside_dependents": ListOf(STR)},
                                                  required=("app",))),
                               "losses": ListOf(Obj({"app": STR, "migration": STR, "operation": STR,
                                                     "name": nullable(STR), "reversible": BOOL, "elidable": BOOL},
                                                    required=("app", "migration", "operation")))})),
    "dev_loop": nullable(MapOf(_DEV_STEP)),
    "deploy": nullable(Obj({"ok": BOOL, "verdict": nullable(STR), "steps": ListOf(_STEP)})),
    "profile": nullable(Obj({
        "mode": STR, "wall_s": SECONDS, "span_s": SECONDS, "stages": MapOf(SECONDS), "inclusive": MapOf(SECONDS),
        "unattributed_s": NUMBER, "profiler_s": SECONDS, "migrations": ListOf(ANY), "files": MapOf(ListOf(STR)),
        "functions": ANY, "landmarks": ANY, "memory": ANY, "overhead": ANY, "notes": ListOf(STR)},
        required=("mode", "stages"))),
    "concurrency": nullable(Obj({"solo": BOOL, "overlapping_runs": COUNT, "overlap_s": SECONDS, "span_s": SECONDS,
                                 "machine_slots": nullable(COUNT), "others": ListOf(STR)}, required=("solo",))),
    "cluster": nullable(Obj({"scheduler": STR, "worker": STR, "workers": COUNT, "machine_slots": COUNT})),
    "django_source": nullable(Obj({"kind": STR, "path": STR, "ref": nullable(STR), "commit": nullable(STR),
                                   "dirty": BOOL, "dirty_sha256": nullable(STR), "tree_sha256": nullable(STR),
                                   "version": STR}, required=("kind", "dirty"))),
}


def _load_v1(data: dict, source: str) -> RunRecord:
    """A migbench.run/1 dict of any stage (history above) as a current RunRecord."""
    missing = [name for name in V1_FIELDS if name not in data]
    if missing:
        raise MigbenchError("%s: result record lacks %s; it was truncated or edited by hand"
                            % (source, ", ".join(missing)))
    found = contract.problems(data, V1_TYPES)
    if found:
        raise MigbenchError("%s: result record %s; it was damaged or edited by hand (restore it, or move it "
                            "aside and run its cell again)" % (source, contract.summary(found)))
    values = {name: data[name] for name in V1_FIELDS}
    for added in V1_ADDED:
        values[added.field] = data[added.field] if added.field in data else added.default()
    # A loaded record is a current record (to_json writes the current format), so it says so.
    values["schema"] = SCHEMA
    return RunRecord(**values)  # top-level keys a newer v1 writer added are left out


# -- dispatch -------------------------------------------------------------------------------------

# Every version this migbench reads, oldest first -> its loader.
LOADERS: dict[str, Callable[[dict, str], RunRecord]] = {
    "migbench.run/1": _load_v1,
}
if SCHEMA not in LOADERS:  # the writer default must be readable back
    raise RuntimeError("records: no loader for the written version %s" % SCHEMA)


def readable() -> str:
    """The versions this migbench reads, for messages: "'migbench.run/1'"."""
    return ", ".join(repr(version) for version in LOADERS)


def record_from_dict(data: object, source: str) -> RunRecord:
    """A RunRecord from parsed JSON, or one clear error naming the file (`source`) and the problem."""
    if not isinstance(data, dict):
        raise MigbenchError("%s: not a migbench result record (expected a JSON object, found %s)"
                            % (source, contract.describe(data)))
    schema = data.get("schema")
    loader = LOADERS.get(schema) if isinstance(schema, str) else None
    if loader is None:
        raise _unknown(schema, data, source)
    return loader(data, source)


def _unknown(schema: object, data: dict, source: str) -> MigbenchError:
    if "schema" not in data:
        return MigbenchError("%s: not a migbench result record (no schema field; this migbench reads "
                             "schema %s)" % (source, readable()))
    if isinstance(schema, str) and schema.startswith(FAMILY):
        writer = data.get("migbench_version")
        by = " (written by migbench %s)" % writer if isinstance(writer, str) else ""
        return UnreadableVersion("%s: result record of schema %r%s, which this migbench cannot read: it "
                                 "reads schema %s; read it with a migbench that knows %r"
                                 % (source, schema, by, readable(), schema))
    return MigbenchError("%s: not a migbench result record (schema %r; this migbench reads schema %s)"
                         % (source, schema, readable()))
