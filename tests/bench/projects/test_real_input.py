"""`migbench run --project`: what is refused in one line before anything runs, and a project that
cannot migrate on an engine, reported with the migration it failed in (issue 17)."""

from __future__ import annotations

import shutil

import pytest
from real_support import DATA, OSCAR, project_env
from support import engine_or_skip

from migbench.bench.projects import resolve
from migbench.bench.projects.copy import copy_tree, digest, fingerprint
from migbench.bench.records import load_record
from migbench.cli import main
from migbench.errors import MigbenchError


@pytest.mark.parametrize("argv, says", [
    (["--project", "/nonexistent"], "--python"),
    (["--project", str(DATA / "shop"), "--python", "/nonexistent"], "no interpreter there"),
    (["--project", str(DATA), "--python", "/usr/bin/python3"], "no manage.py there"),
    (["quick", "--project", str(DATA / "shop"), "--python", "/usr/bin/python3"], "not both"),
    (["--project", str(DATA / "shop"), "--python", "/usr/bin/python3", "--django", "4.2"], "--django"),
    (["--project", str(DATA / "shop"), "--python", "/usr/bin/python3", "--env", "NOEQUALS"], "KEY=VALUE"),
    (["--project", str(DATA / "shop"), "--python", "/usr/bin/python3", "--env", "A={redis}"], "--redis"),
    (["--project", str(DATA / "shop"), "--python", "/usr/bin/python3", "--redis", "http://x"], "--redis"),
    (["--settings", "x.settings"], "real project"),
])
def test_bad_project_input_is_one_line_and_exit_2(argv, says, tmp_path, capsys):
    assert main(["run"] + argv + ["--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not (tmp_path / "out").exists()


def test_a_launcher_package_is_found_in_the_users_environment():
    python = project_env("oscar", OSCAR)
    source = resolve(None, "python -m oscar", str(python), "shop.settings")
    assert source.packages == ("oscar",) and (source.tree / "oscar").is_dir()
    with pytest.raises(MigbenchError, match="not importable"):
        resolve(None, "python -m no_such_package_here", str(python), "x.settings")


def test_copy_leaves_out_byte_code_databases_and_virtualenvs(tmp_path):
    tree = tmp_path / "tree"
    (tree / "app" / "__pycache__").mkdir(parents=True)
    (tree / "app" / "models.py").write_text("x = 1\n")
    (tree / "app" / "__pycache__" / "models.cpython-311.pyc").write_bytes(b"\0")
    (tree / "db.sqlite3").write_bytes(b"SQLite")
    (tree / "env").mkdir()
    (tree / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    before = fingerprint(tree)
    copy_tree(tree, tmp_path / "copy")
    assert sorted(p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*")
                  if p.is_file()) == ["app/models.py"]
    assert fingerprint(tree) == before
    first = digest(tree)
    (tree / "db.sqlite3").write_bytes(b"changed")  # not part of the project's identity
    assert digest(tree) == first
    (tree / "app" / "models.py").write_text("x = 2\n")
    assert digest(tree) != first


@pytest.mark.e2e
def test_a_project_that_cannot_migrate_on_sqlite_names_the_migration(tmp_path, capsys):
    python = project_env("oscar", OSCAR)
    tree = tmp_path / "pgonly"
    shutil.copytree(DATA / "pgonly", tree)
    out = tmp_path / "out"
    status = main(["run", "--project", str(tree), "--python", str(python), "--strategy", "all,per-app",
                   "--out", str(out), "--no-report"])
    err = capsys.readouterr().err
    assert status == 1
    (record,) = [load_record(p) for p in out.glob("*.json")]
    assert record.outcome == "error" and record.last_migration == "ledger.0002_amount_check"
    assert "in migration ledger.0002_amount_check" in err  # per-app: no baseline, said with the migration


@pytest.mark.e2e
def test_the_same_project_migrates_on_postgresql_with_every_other_strategy(tmp_path):
    engine_or_skip("postgresql")
    python = project_env("oscar", OSCAR)
    tree = tmp_path / "pgonly"
    shutil.copytree(DATA / "pgonly", tree)
    out = tmp_path / "out"
    assert main(["run", "--project", str(tree), "--python", str(python), "--strategy",
                 "all,per-app,squash,squash-final,optimize", "--database", "postgresql", "--dev-loop", "on", "--out",
                 str(out), "--no-report"]) == 0
    records = {r.strategy: r for r in (load_record(p) for p in out.glob("*.json"))}
    assert sorted(records) == ["all", "optimize", "per-app", "squash", "squash-final"]
    assert all(r.outcome == "ok" and not r.problems() for r in records.values())
    assert [a["app"] for a in records["squash-final"].transform["apps"]] == ["ledger"]
    loop = records["all"].dev_loop  # the daily commands and the test databases, on a real project
    assert loop["makemigrations --check"]["verdict"] == "no changes"
    assert {name for name, step in loop.items() if step["outcome"] == "ok"} >= {
        "test database (migrations)", "test database (no migrations)", "test database (keepdb)",
        "test database (from dump)"}


def test_an_embedded_redis_answers_on_its_socket_and_is_gone_afterwards():
    import os

    from real_support import redis_or_skip

    from migbench.bench.projects import services

    redis_or_skip()
    before = os.environ.get(services.ENV_VAR)
    with services.redis("embedded") as url:
        assert url.startswith("unix://") and services.ping(url)
        assert os.environ[services.ENV_VAR] == url  # every child inherits it
        socket_dir = os.path.dirname(url[len("unix://"):])
    assert os.environ.get(services.ENV_VAR) == before
    assert not services.ping(url) and not os.path.exists(socket_dir)


def test_a_redis_url_that_does_not_answer_is_one_line():
    from migbench.bench.projects import services

    with pytest.raises(MigbenchError, match="no Redis answers there"):
        with services.redis("redis://127.0.0.1:1/0"):
            pass
