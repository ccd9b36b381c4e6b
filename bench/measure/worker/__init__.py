"""Scripts run *inside* target environments (Python 2.7 to 3.13, stdlib + Django only).

They are shipped as files and executed by path, never imported by the parent:
importing one would run Django set-up (or, for the shim, install import hooks)
in migbench's own process. This file is the only part the parent imports: the
scripts' paths, so every caller names them the same way.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
MEASURE = HERE / "measure.py"  # runs one manage.py command, one JSON event per step
CAPTURE_DDL = HERE / "capture_ddl.py"  # measure.py + every statement the schema editor executes
EXECUTE_SQL = HERE / "execute_sql.py"  # the floor: replays captured DDL with a DB-API driver only
GRAPH = HERE / "graph.py"  # the migration graph as JSON (the transformations read it)
WRITE_ROWS = HERE / "write_rows.py"  # one row into every model: the validity write probe
TESTDB_DIR = HERE / "testdb"  # holds migbench_testdb, the one-test module `manage.py test` runs
