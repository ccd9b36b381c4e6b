"""bench/measure/worker/measure.py: the worker that runs a manage.py command inside a
target environment and writes its events.

Real child processes on real interpreters: for every Django line of the
matrix (Python 2.7 for the 1.x lines), a small generated project is migrated
forward and one app back to zero through the worker, a failing command is run
next to `manage.py`, and a custom command exhausts an RLIMIT_AS cap to reach
the MemoryError path. On a few lines the worker's output is compared with
`python manage.py migrate` on a fresh database.

Select lines with MIGBENCH_TEST_DJANGO=1.8,5.2 (as tests/test_matrix.py); a
line whose interpreter is missing is skipped, except under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from migbench.bench.engines.sqlite import SqliteEngine
from migbench.bench.env.child import ProjectRunner
from migbench.bench.measure.worker import MEASURE
from migbench.generator import build_project, resolve_scenario, write_project
from migbench.targets import MATRIX_LINES, resolve_line, version_key

pytestmark = pytest.mark.xdist_group("test_worker")

# Lines (Python 2.7, 3.9, 3.12) for the slower comparisons with manage.py.
SAMPLE_LINES = ("1.8", "2.2", "6.0")
TIMEOUT = 300


def _lines() -> list[str]:
    selected = os.environ.get("MIGBENCH_TEST_DJANGO")
    if not selected:
        return list(MATRIX_LINES)
    return [resolve_line(line.strip()).line for line in selected.split(",") if line.strip()]


def tiny():
    """The default scenario at its smallest: two apps, a few migrations each."""
    scenario = resolve_scenario("quick")
    params = scenario.generator
    params = replace(
        params, apps=2, models_per_app=(2, 3),
        history=replace(params.history, migrations_per_app=(2, 3), data_rows=(1, 2)),
    )
    return replace(scenario, generator=params)


class Run:
    def __init__(self, proc: subprocess.CompletedProcess, events_path: Path | None):
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.events = []
        if events_path is not None and events_path.exists():
            raw = events_path.read_text()
            assert raw.endswith("\n"), raw[-200:]
            self.events = [json.loads(line) for line in raw.splitlines()]

    def names(self) -> list[str]:
        return [event["event"] for event in self.events]

    def index(self, name: str) -> int:
        return self.names().index(name)

    def one(self, name: str) -> dict:
        found = [event for event in self.events if event["event"] == name]
        assert len(found) == 1, (name, self.names())
        return found[0]

    def context(self) -> str:
        return "exit %s\nstdout:\n%s\nstderr:\n%s\nevents: %s" % (
            self.code, self.stdout[-2000:], self.stderr[-3000:], self.names())


def run(python, project: Path, database: Path, args: list[str], events: Path | None,
        settings: str = "benchproject.settings", worker: bool = True) -> Run:
    """The worker (or, with worker=False, `python manage.py`) as the parent starts it."""
    runner = ProjectRunner(project, python, SqliteEngine().at(database), settings=settings)
    if worker:
        cmd = [str(python), str(MEASURE), "--project", str(project), "--settings", settings]
        if events is not None:
            cmd += ["--events", str(events)]
        cmd += ["--"] + args
    else:
        cmd = [str(python), "manage.py"] + args
    proc = subprocess.run(cmd, cwd=str(project), env=runner.env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, errors="replace", timeout=TIMEOUT)
    return Run(proc, events)


# -- one generated project per line, migrated forward once ------------------------------


@pytest.fixture(scope="session")
def forward(environment_for, tmp_path_factory):
    """line -> (env, project dir, apps, database, Run of `migrate` through the worker)."""
    cache: dict[str, tuple] = {}

    def get(line: str):
        env = environment_for(line)
        if line not in cache:
            root = tmp_path_factory.mktemp("worker-dj%s" % line.replace(".", ""))
            project = write_project(build_project(tiny(), resolve_line(line)), root / "project")
            apps = json.loads((project / "migbench.json").read_text())["apps"]
            database = root / "forward.sqlite3"
            result = run(env.python, project, database, ["migrate", "--noinput"],
                         root / "forward.jsonl")
            cache[line] = (env, project, apps, database, result)
        return cache[line]

    return get


def _recorded(database: Path, apps: list[str]) -> set[str]:
    with sqlite3.connect(str(database)) as connection:
        rows = connection.execute("SELECT app, name FROM django_migrations").fetchall()
    return {"%s.%s" % row for row in rows if row[0] in apps}


def _on_disk(project: Path, apps: list[str]) -> set[str]:
    return {"%s.%s" % (app, path.stem) for app in apps
            for path in (project / "apps" / app / "migrations").glob("[0-9][0-9][0-9][0-9]_*.py")}


def _check_common(result: Run, python_version: str, django_version: str | None = None):
    """start first, end last, every event stamped, times never going back."""
    names = result.names()
    assert names[0] == "start" and names[-1] == "end", names
    start = result.events[0]
    assert start["python"] == python_version
    assert start["argv"][0] == "manage.py"
    assert start["rss_kind"] == "statm"
    assert isinstance(start["pid"], int)
    times = [event["t"] for event in result.events]
    assert times == sorted(times), times
    assert all(isinstance(event["rss"], int) and event["rss"] > 0 for event in result.events)
    assert not any("pid" in event for event in result.events[1:])  # no forked writer
    if django_version is not None:
        assert result.one("setup_end")["django"] == django_version
        assert names.index("start") < names.index("setup_end")
    assert result.events[-1]["exit"] == result.code


def _pairs(result: Run, kind: str) -> list[str]:
    """Migrations of `kind` (apply/unapply) events, checking each start is followed by its success."""
    steps = [e for e in result.events if e["event"] in (kind + "_start", kind + "_success")]
    assert len(steps) % 2 == 0, [e["event"] for e in steps]
    done = []
    for begin, end in zip(steps[::2], steps[1::2]):
        assert (begin["event"], end["event"]) == (kind + "_start", kind + "_success")
        assert begin["migration"] == end["migration"]
        assert begin["fake"] is False and end["fake"] is False
        done.append(begin["migration"])
    return done


@pytest.mark.e2e
@pytest.mark.parametrize("line", _lines())
def test_migrate_forward_events(line, forward):
    env, project, apps, database, result = forward(line)
    assert result.code == 0, result.context()
    _check_common(result, env.python_version, env.django_version)
    names = result.names()
    assert result.events[0]["argv"] == ["manage.py", "migrate", "--noinput"]

    applied = _pairs(result, "apply")
    assert len(applied) == len(set(applied))
    recorded = _recorded(database, apps)
    assert recorded == _on_disk(project, apps) and recorded, (recorded, _on_disk(project, apps))
    assert recorded == {m for m in applied if m.split(".")[0] in apps}
    assert any(m.startswith("contenttypes.") for m in applied)

    first_apply = names.index("apply_start")
    last_success = len(names) - 1 - names[::-1].index("apply_success")
    assert names.index("setup_end") < names.index("pre_migrate_start") \
        < names.index("pre_migrate_end") < first_apply
    if version_key(line) < (1, 8):
        # 1.7 renders nothing up front: each apply rebuilds its project state, inside its span
        assert "render_start" not in names and "render_success" not in names
    elif version_key(line) < (1, 10):
        # 1.8/1.9 render the pre-migration state through the executor's callback;
        # from 1.10 on the command renders it itself, before the pre_migrate signal.
        assert names.index("pre_migrate_end") < names.index("render_start") \
            < names.index("render_success") < first_apply
    else:
        assert "render_start" not in names and "render_success" not in names
    assert last_success < names.index("post_migrate_start") \
        < names.index("post_migrate_end") < names.index("end")
    assert "error" not in names and "progress" not in names
    assert result.events[-1]["exit"] == 0


@pytest.mark.e2e
@pytest.mark.parametrize("line", _lines())
def test_migrate_backward_events(line, forward, tmp_path):
    env, project, apps, database, before = forward(line)
    assert before.code == 0, before.context()
    db = tmp_path / "backward.sqlite3"
    shutil.copyfile(str(database), str(db))  # the forward test keeps its own
    app = apps[0]  # later apps may depend on it: they go back too
    everything = apps + ["auth", "contenttypes"]
    was = _recorded(db, everything)
    result = run(env.python, project, db, ["migrate", app, "zero", "--noinput"],
                 tmp_path / "backward.jsonl")
    assert result.code == 0, result.context()
    _check_common(result, env.python_version, env.django_version)
    names = result.names()
    unapplied = _pairs(result, "unapply")
    now = _recorded(db, everything)
    assert set(unapplied) == was - now and len(unapplied) == len(set(unapplied))
    assert any(m.startswith(app + ".") for m in unapplied)
    assert not any(m.startswith(app + ".") for m in now)
    for label in apps:  # within an app, newest first
        mine = [m for m in unapplied if m.startswith(label + ".")]
        assert mine == sorted(mine, reverse=True)
    assert "apply_start" not in names
    first = names.index("unapply_start")
    if version_key(line) < (1, 8):  # 1.7 renders nothing up front, going back either
        assert "render_start" not in names and names.index("pre_migrate_end") < first
    else:
        assert names.index("pre_migrate_end") < names.index("render_start") \
            < names.index("render_success") < first  # every line from 1.8 renders before going back
    assert names.index("unapply_success") < names.index("post_migrate_start") \
        < names.index("post_migrate_end") < names.index("end")


def _normalise(text: str) -> str:
    return re.sub(r" \(\d+\.\d+s\)", "", text)  # verbosity >= 2 timings


def _sample() -> list[str]:
    return [line for line in _lines() if line in SAMPLE_LINES]


@pytest.mark.e2e
@pytest.mark.parametrize("line", _sample())
def test_output_matches_manage_py(line, forward, tmp_path):
    env, project, apps, database, result = forward(line)
    plain = run(env.python, project, tmp_path / "manage.sqlite3", ["migrate", "--noinput"],
                None, worker=False)
    assert plain.code == 0, plain.context()
    assert result.code == plain.code
    assert "Applying" in plain.stdout
    assert _normalise(result.stdout) == _normalise(plain.stdout)
    assert result.stderr == plain.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("line", _lines())
def test_failing_command_like_manage_py(line, forward, tmp_path):
    env, project, apps, database, _ = forward(line)
    db = tmp_path / "db.sqlite3"
    args = ["migrate", "nosuchapp", "--noinput"]
    plain = run(env.python, project, db, args, None, worker=False)
    result = run(env.python, project, db, args, tmp_path / "events.jsonl")
    quiet = run(env.python, project, db, args, None)  # without --events
    assert plain.code != 0 and "nosuchapp" in plain.stderr, plain.context()
    for other in (result, quiet):
        assert (other.code, other.stdout, other.stderr) == (plain.code, plain.stdout, plain.stderr)
    _check_common(result, env.python_version, env.django_version)
    assert result.names() == ["start", "setup_end", "error", "end"]
    error = result.one("error")
    assert error["type"] == "CommandError"  # Python 2 too: taken from the exiting frame
    assert "nosuchapp" in error["message"]
    assert result.events[-1]["exit"] == plain.code


@pytest.mark.e2e
@pytest.mark.parametrize("line", _sample())
def test_uncaught_exception_traceback(line, environment_for, tiny_project, tmp_path):
    env = environment_for(line)
    args = ["explode"]
    plain = run(env.python, tiny_project, tmp_path / "db", args, None, "tinysettings", False)
    result = run(env.python, tiny_project, tmp_path / "db", args, tmp_path / "ev.jsonl",
                 "tinysettings")
    assert plain.code == 1 and result.code == 1, result.context()
    tail = plain.stderr.strip().splitlines()[-1]
    assert tail.endswith("ValueError: kaboom"), plain.stderr
    assert result.stderr.strip().splitlines()[-1] == tail
    assert "Traceback (most recent call last):" in result.stderr
    _check_common(result, env.python_version, env.django_version)
    assert result.names() == ["start", "setup_end", "error", "end"]
    assert result.one("error")["type"] == "ValueError"
    assert result.one("error")["message"] == "kaboom"


# -- a hand-written project for the MemoryError and kill paths --------------------------

TINY_FILES = {
    "tinysettings.py": '''
SECRET_KEY = "migbench-worker-test"
INSTALLED_APPS = ["hogapp"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
MIDDLEWARE_CLASSES = []
MIDDLEWARE = []
USE_TZ = False
''',
    "manage.py": '''
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tinysettings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
''',
    "hogapp/__init__.py": "",
    "hogapp/management/__init__.py": "",
    "hogapp/management/commands/__init__.py": "",
    "hogapp/management/commands/hog.py": '''
import resource

from django.core.management.base import BaseCommand


def vm_size():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024


class Command(BaseCommand):
    help = "Allocate until MemoryError, under an address-space cap 64 MB above now."

    def handle(self, *args, **options):
        cap = vm_size() + 64 * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
        self.stdout.write("capped")
        chunks = []
        while True:
            chunks.append(bytearray(1024 * 1024))
''',
    "hogapp/management/commands/explode.py": '''
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    def handle(self, *args, **options):
        raise ValueError("kaboom")
''',
    "hogapp/management/commands/wait.py": '''
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    def handle(self, *args, **options):
        time.sleep(60)
''',
}


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("worker-tiny")
    for relative, text in TINY_FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    return root


@pytest.mark.e2e
@pytest.mark.parametrize("line", _lines())
def test_memory_error_exits_3(line, environment_for, tiny_project, tmp_path):
    env = environment_for(line)
    result = run(env.python, tiny_project, tmp_path / "db", ["hog"], tmp_path / "events.jsonl",
                 settings="tinysettings")
    assert result.code == 3, result.context()
    assert "capped" in result.stdout  # what the command printed is flushed first
    last = result.stderr.strip().splitlines()[-1]
    assert "MemoryError" in last, result.stderr
    assert "Traceback (most recent call last):" in result.stderr
    assert "hog.py" in result.stderr
    _check_common(result, env.python_version, env.django_version)
    assert result.names() == ["start", "setup_end", "memory_error", "end"]
    oom = result.one("memory_error")
    assert "hog.py" in oom["where"] and oom["where"].endswith(" in handle"), oom
    assert result.events[-1]["exit"] == 3


@pytest.mark.e2e
def test_killed_worker_leaves_whole_lines(environment_for, tiny_project, tmp_path):
    """SIGKILL at any moment: every line written so far is complete."""
    line = _lines()[-1]
    env = environment_for(line)
    events = tmp_path / "events.jsonl"
    runner = ProjectRunner(tiny_project, env.python, SqliteEngine().at(tmp_path / "db"), settings="tinysettings")
    proc = subprocess.Popen(
        [str(env.python), str(MEASURE), "--settings", "tinysettings", "--events", str(events),
         "--", "wait"], cwd=str(tiny_project), env=runner.env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if events.exists() and '"setup_end"' in events.read_text():
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    raw = events.read_text()
    assert raw.endswith("\n")
    assert [json.loads(line)["event"] for line in raw.splitlines()] == ["start", "setup_end"]


# -- the worker's own options (no Django needed) ----------------------------------------


def _bare(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MEASURE)] + list(args), cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)


@pytest.mark.parametrize("args", [["--bogus", "--", "migrate"], ["--events"],
                                  ["-v", "migrate"]])
def test_bad_options_exit_2(args):
    proc = _bare(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("measure.py: ")
    assert "usage: measure.py" in proc.stderr


def test_help():
    proc = _bare("--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: measure.py")


def test_unwritable_events_file_exits_2(tmp_path):
    proc = _bare("--events", str(tmp_path), "--", "migrate")  # a directory
    assert proc.returncode == 2
    assert "cannot open the events file" in proc.stderr


def test_worker_source_stays_portable():
    """No f-strings and only the allowed imports at module level (runs on 2.7)."""
    source = MEASURE.read_text()
    assert not re.search(r"""\bf["']""", source)
    imports = set(re.findall(r"^import (\w+)", source, re.M))
    assert imports == {"json", "os", "sys", "time", "traceback"}
    assert not re.findall(r"^from (?!__future__)", source, re.M)
