"""Read result records from files and directories named on the command line.

A report or a comparison may mix records from several machines and several
`migbench run` invocations, so the reader accepts files and directories
(searched recursively) and merges them. It is strict where a mistake would
silently change a figure, and lenient only where a file plainly is not a run:
- a named path that does not exist, a directory with no record in it, an
  empty file, bytes that are not UTF-8, malformed or too deeply nested JSON, a
  truncated record, or a damaged one (a field of the wrong type, NaN or
  Infinity: bench/records/contract.py): one error naming the file, whether it
  was named or found in a directory, since leaving it out would silently
  change a figure;
- other JSON files under a directory (the generation and overhead benchmarks
  in results/ are JSON too) are skipped and counted, never parsed as runs;
- the same run reached twice (a directory and a file inside it) counts once;
- a profiled run (`migbench run --profile`: a record whose `profile` is set,
  stored under OUT/profiles/) goes into `ResultSet.profiled`, never into
  `records`: it is not a timing record (the profiler slows it), so no table,
  chart or comparison of times ever sees it; the profiles' own exported files
  (`*.speedscope.json` beside them) are not runs and are passed over silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from migbench.bench.records import SCHEMA, RunRecord, load_record, read_json, record_from_dict
from migbench.errors import MigbenchError

_RUN_SCHEMA_FAMILY = SCHEMA.split("/")[0] + "/"  # "migbench.run/"
EXPORTED_SUFFIX = ".speedscope.json"  # a profiled run's exported stacks (bench/records/profiles.py)


@dataclass
class ResultSet:
    """Records in a stable order, where each came from, and what was passed over."""

    records: list[RunRecord]
    sources: dict[str, Path] = field(default_factory=dict)  # run_id -> file
    skipped: list[Path] = field(default_factory=list)  # JSON under a directory that is not a run record
    profiled: list[RunRecord] = field(default_factory=list)  # `--profile` runs: never timing records

    def describe(self) -> str:
        text = "%d records" % len(self.records)
        if self.profiled:
            text += " and %d profiled run%s (kept out of every timing figure)" % (
                len(self.profiled), "" if len(self.profiled) == 1 else "s")
        text += " from %d files" % len(set(self.sources.values()))
        if self.skipped:
            text += " (%d other JSON files skipped: not run records)" % len(self.skipped)
        return text


def load_results(paths: Iterable[str | Path]) -> ResultSet:
    """Every run record under `paths`; a MigbenchError names the first unusable one."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise MigbenchError("no result files given; pass the files or directories `migbench run` wrote")
    result = ResultSet(records=[])
    for path in paths:
        if path.is_dir():
            found = _load_directory(path, result)
            if not found:
                raise MigbenchError("%s: no result records in this directory (expected *.json files "
                                    "written by `migbench run`)" % path)
        elif path.exists():
            _add(load_record(path), path, result)
        else:
            raise MigbenchError("%s: no such file or directory; pass result files or directories "
                                "written by `migbench run`" % path)
    result.records.sort(key=_order)
    result.profiled.sort(key=lambda r: (_order(r), str((profile_of(r) or {}).get("mode", ""))))
    return result


def _load_directory(root: Path, result: ResultSet) -> int:
    found = 0
    for path in sorted(root.rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue  # a store's temporary file, or a hidden tool directory
        if path.name.endswith(EXPORTED_SUFFIX):
            continue  # a profile's exported stacks (speedscope), beside its record: not a run
        data = read_json(path)  # unreadable, not UTF-8, too deep, malformed: one error naming the file
        if not _is_run(data):
            result.skipped.append(path)
            continue
        _add(record_from_dict(data, str(path)), path, result)  # a damaged record: one error naming it
        found += 1
    return found


def _is_run(data: object) -> bool:
    """False only for well-formed JSON that declares itself something else.

    Anything else goes on to record_from_dict, which names the problem: a
    torn or truncated record must be reported, not skipped.
    """
    if not isinstance(data, dict):
        return True
    schema = data.get("schema")
    if isinstance(schema, str):
        return schema.startswith(_RUN_SCHEMA_FAMILY)
    return "run_id" in data  # a record with its schema field cut away is still a record


def _add(record: RunRecord, path: Path, result: ResultSet) -> None:
    if record.run_id in result.sources:
        return
    result.sources[record.run_id] = path
    (result.records if profile_of(record) is None else result.profiled).append(record)


def profile_of(record: RunRecord) -> dict | None:
    """The record's `profile` (a profiled run's figures), None for an ordinary run or an older migbench."""
    profile = getattr(record, "profile", None)
    return profile if isinstance(profile, dict) else None


def _order(record: RunRecord) -> tuple:
    cell = record.cell()
    return (cell.scenario, record.project.get("models") or 0, cell.scenario_sha256, cell.strategy,
            version_key(cell.django_version), version_key(cell.python_version),
            cell.memory_limit_bytes or 2**63, record.repeat, record.started_at)


def version_key(version: str) -> tuple:
    """An order for versions as recorded, never an error: '1.9.13' < '1.10.8' < '6.1rc1' < '6.1.0' < '6.1.3' <
    '6.1.3+g1a2b...' (a checkout after its release). Each dotted piece is (its leading number, 0 for a
    pre-release suffix like "rc1" or 1 for none, the suffix), so every position compares like with like."""
    release, _, local = str(version).partition("+")
    parts = []
    for piece in release.split("."):
        digits = len(piece) - len(piece.lstrip("0123456789"))
        suffix = piece[digits:]
        parts.append((int(piece[:digits]) if digits else 0, 0 if suffix else 1, suffix))
    return (tuple(parts), local)
