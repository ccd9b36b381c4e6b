"""The result record: one JSON file per run, a stable contract (docs/records.md).

Its job: the record is the only thing report/ shares with the measuring side.
Reports and comparisons are built from these files only, never from a run's
memory, so records from any machine and any version of migbench can be read
later. Every file names its format version (`schema`); formats.py holds the
history of those versions and one loader per version, and readers refuse a
file that is not a record, or of a version they do not know, with one line
naming the file and the problem.

- record.py: RunRecord, Cell, SCHEMA (the version written), NEEDS_MORE;
- formats.py: format history, LOADERS {version: loader}, record_from_dict;
- contract.py: the field types a loader checks (a damaged record is one error naming the field);
- store.py: read_json, load_record, ResultStore;
- events.py: the worker's events read back, as phases and the crash point.

Side effects: only ResultStore writes files (one per run, in its directory),
and it never overwrites one: a file already under a record's name stays,
except a torn one, which is moved aside as *.json.broken. Importing this
package touches no file.
"""

from .formats import LOADERS, UnreadableVersion, record_from_dict
from .record import NEEDS_MORE, SCHEMA, Cell, RunRecord, test_database_step
from .store import ResultStore, load_record, read_json

__all__ = ["Cell", "LOADERS", "NEEDS_MORE", "ResultStore", "RunRecord", "SCHEMA", "UnreadableVersion",
           "load_record", "read_json", "record_from_dict", "test_database_step"]
