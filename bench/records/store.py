"""Record files: read one (`load_record`), and a directory of them (`ResultStore`).

The store never overwrites: a record is written to a temporary name and
hard-linked into place, which fails if the name is taken, so two runs racing
for one cell cannot clobber each other, and an interrupted write leaves no
half file under a record's name. Every read goes through formats.LOADERS, so
records of every version this migbench reads count as done when resuming.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from migbench.errors import MigbenchError

from .formats import UnreadableVersion, record_from_dict
from .profiles import DIRECTORY as PROFILES
from .record import Cell, RunRecord


def load_record(path: Path) -> RunRecord:
    """The record in `path`, or one MigbenchError naming the file and the problem."""
    path = Path(path)
    return record_from_dict(read_json(path), str(path))


def read_json(path: Path) -> object:
    """The parsed JSON of a record file, or one MigbenchError naming the file and the problem.

    Whatever the bytes: not UTF-8, nested past the parser's recursion limit,
    empty or malformed, each is one line naming the file, never a traceback.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise MigbenchError("%s: cannot read result record (%s)" % (path, error.strerror or error)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MigbenchError("%s: not UTF-8 text (byte 0x%02x at offset %d); not a result record, which is "
                            "UTF-8 JSON" % (path, raw[error.start], error.start)) from None
    if not text.strip():
        raise MigbenchError("%s: empty file, not a result record" % path)
    try:
        return json.loads(text)
    except RecursionError:
        raise MigbenchError("%s: JSON nested too deeply to parse; not a result record" % path) from None
    except ValueError as error:
        raise MigbenchError("%s: malformed JSON (%s); not a result record" % (path, error)) from None


class ResultStore:
    """A directory of records: one file per (cell, repeat), never overwritten."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path_for(self, cell: Cell, repeat: int) -> Path:
        return self.root / (cell.slug(repeat) + ".json")

    def done(self, cell: Cell, repeat: int) -> bool:
        """True when a readable record for this cell and repeat exists (resume skips it).

        Readable means in any version this migbench has a loader for. A record
        of a newer version raises UnreadableVersion (naming the file): the run
        is done, but this migbench could neither report it nor replace it.
        """
        return self._readable(self.path_for(cell, repeat))

    @staticmethod
    def _readable(path: Path) -> bool:
        if not path.exists():
            return False
        try:
            load_record(path)
        except UnreadableVersion:
            raise
        except MigbenchError:
            return False
        return True

    def profile_path(self, cell: Cell, mode: str) -> Path:
        """Where the cell's profiled run of `mode` is kept: under profiles/, out of every timing read."""
        return self.root / PROFILES / (cell.profile_slug(mode) + ".json")

    def profile_done(self, cell: Cell, mode: str) -> bool:
        """True when the cell's profiled run of `mode` has a readable record (resume skips it)."""
        return self._readable(self.profile_path(cell, mode))

    def write_profiled(self, record: RunRecord, files: list) -> Path:
        """Store a profiled run: its exported files (`(kind, path)`, moved) into a folder named
        like the record, then the record, whose `profile.files` names them relative to the root.

        The record is written last: a folder without its record is an interrupted run's, and is
        replaced; a folder whose record exists is never touched (results are never overwritten).
        """
        final = self.profile_path(record.cell(), record.profile["mode"])
        if final.exists() and not self._unreadable(final):
            raise MigbenchError("%s already exists; results are never overwritten (use another --out)" % final)
        folder = final.with_suffix("")
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        named: dict = {}
        steps = {path.parent.name for _, path in files}
        for kind, path in files:
            name = path.name if len(steps) < 2 else "%s-%s" % (path.parent.name, path.name)
            shutil.move(str(path), str(folder / name))
            named.setdefault(kind, []).append((folder / name).relative_to(self.root).as_posix())
        record.profile["files"] = named
        return self._write_at(final, record)

    def write(self, record: RunRecord) -> Path:
        return self._write_at(self.path_for(record.cell(), record.repeat), record)

    def _write_at(self, final: Path, record: RunRecord) -> Path:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(".%s.%d.tmp" % (final.name, os.getpid()))
        tmp.write_text(record.to_json(), encoding="utf-8")
        try:
            os.link(tmp, final)
        except FileExistsError:
            if self._unreadable(final):
                # A torn file from an older crash cannot be a result; keep it aside.
                os.replace(final, final.with_suffix(".json.broken"))
                os.link(tmp, final)
            else:
                raise MigbenchError("%s already exists; results are never overwritten "
                                    "(use another --out)" % final) from None
        finally:
            tmp.unlink(missing_ok=True)
        return final

    def records(self) -> list[RunRecord]:
        """Every record; the first file that does not load raises its MigbenchError."""
        return [load_record(p) for p in sorted(self.root.glob("*.json")) if not _summary(p)]

    def readable(self) -> tuple[list[RunRecord], list[MigbenchError]]:
        """Every record that loads, and the error (naming the file) of each one that does not.

        For readers that must go on past a damaged file, e.g. the summary at the
        end of `migbench run`, whose fresh records were just written whole.
        """
        records, errors = [], []
        for path in sorted(self.root.glob("*.json")):
            if _summary(path):
                continue
            try:
                records.append(load_record(path))
            except MigbenchError as error:
                errors.append(error)
        return records, errors

    @staticmethod
    def _unreadable(path: Path) -> bool:
        """True for a file that cannot be a result; a record of a newer version is one, kept."""
        try:
            load_record(path)
        except UnreadableVersion:
            return False
        except MigbenchError:
            return True
        return False


def _summary(path: Path) -> bool:
    """A search's summary beside its records (migbench.bisect/1, migbench.find/1): not a run."""
    if not path.name.startswith("find--") and "--bisect-" not in path.name:
        return False
    try:
        schema = json.loads(path.read_text(encoding="utf-8")).get("schema")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(schema, str) and schema.startswith("migbench.") and not schema.startswith("migbench.run/")
