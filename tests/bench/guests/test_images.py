"""Container images per environment: built offline, cached in the engine's store, preferred when
a user built one from docker/Dockerfile, and refused in one line when they cannot be built.

The e2e tests use the real engines and the real cache: the base image and the image of the
Django 4.2 environment stay in each engine's store between runs (a first build here: ~5 s for
the base, ~20 s for the environment; afterwards this module takes a few seconds per engine).
The digest tests need no engine: they read a copy of an environment's markers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest
from guests_support import RUNTIMES, runtime_ready
from support import environment_or_skip

from migbench.bench.env import environments
from migbench.bench.guests import images, rootfs, runtime
from migbench.commands import image as image_command
from migbench.errors import MigbenchError

REPO = Path(__file__).resolve().parents[3]


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


@pytest.fixture
def fake_env(tmp_path):
    """A copy of the 4.2 environment's markers and pyvenv.cfg under its own name: enough to plan."""
    real = environment_or_skip("4.2").path
    env = tmp_path / real.name
    env.mkdir()
    for name in [environments.MARKER, "pyvenv.cfg"] + [p.name for p in real.glob("migbench-driver-*.json")]:
        if (real / name).exists():
            shutil.copy(real / name, env / name)
    return env


def test_the_plan_copies_prefix_and_env_at_their_host_paths(fake_env):
    plan = images.plan_image(fake_env)
    marker = json.loads((fake_env / environments.MARKER).read_text())
    prefix = Path(marker["interpreter"]).resolve().parent.parent
    assert plan.python == str(fake_env / "bin" / "python")
    assert plan.tag == "migbench-env:%s-%s" % (fake_env.name, plan.digest)
    assert "FROM %s\n" % images.base_tag() in plan.dockerfile
    assert 'COPY ["prefix-0/", "%s/"]' % prefix in plan.dockerfile
    assert 'COPY ["env/", "%s/"]' % fake_env in plan.dockerfile
    minor = ".".join(marker["python_version"].split(".")[:2])
    assert plan.sources[0][2] == {"lib/python%s/test" % minor, "lib/python%s/site-packages" % minor}


def test_the_digest_follows_the_driver_markers(fake_env):
    first = images.plan_image(fake_env)
    assert images.plan_image(fake_env).digest == first.digest  # stable
    (fake_env / "migbench-driver-extra.json").write_text(json.dumps({"module": "json", "requirement": "x==1"}))
    added = images.plan_image(fake_env)
    assert added.digest != first.digest and "json" in added.modules
    (fake_env / "migbench-driver-extra.json").write_text(json.dumps({"module": "json", "requirement": "x==2"}))
    assert images.plan_image(fake_env).digest not in (first.digest, added.digest)
    (fake_env / "migbench-driver-extra.json").unlink()
    assert images.plan_image(fake_env).digest == first.digest


def test_a_site_packages_the_venv_sees_is_copied(fake_env):
    cfg = fake_env / "pyvenv.cfg"
    cfg.write_text(cfg.read_text().replace("include-system-site-packages = false",
                                           "include-system-site-packages = true"))
    assert all("site-packages" not in skip for _h, _n, skipped in images.plan_image(fake_env).sources
               for skip in skipped)


def test_not_an_environment_is_one_line(tmp_path):
    with pytest.raises(MigbenchError) as error:
        images.plan_image(tmp_path / "py3.11.7-django4.2.30")
    assert "migbench envs --create" in one_line(error)


def test_a_gone_interpreter_is_one_line(fake_env):
    marker = json.loads((fake_env / environments.MARKER).read_text())
    marker["interpreter"] = str(fake_env / "no-such-python")
    (fake_env / environments.MARKER).write_text(json.dumps(marker))
    with pytest.raises(MigbenchError) as error:
        images.plan_image(fake_env)
    assert "is gone; rebuild the environment" in one_line(error)


def test_the_system_python_is_refused_with_the_dockerfile_as_fix(fake_env):
    if not os.path.exists("/usr/bin/python3"):
        pytest.skip("no system python3")
    marker = json.loads((fake_env / environments.MARKER).read_text())
    marker["interpreter"] = "/usr/bin/python3"
    (fake_env / environments.MARKER).write_text(json.dumps(marker))
    with pytest.raises(MigbenchError) as error:
        images.plan_image(fake_env)
    assert "system Python under /usr" in one_line(error) and "docker/Dockerfile" in str(error.value)


def test_the_build_context_is_hard_links_minus_what_is_left_out(tmp_path):
    source = tmp_path / "prefix"
    (source / "lib" / "python3.11" / "test").mkdir(parents=True)
    (source / "lib" / "python3.11" / "test" / "big.py").write_text("x")
    (source / "lib" / "python3.11" / "os.py").write_text("os")
    (source / "bin").mkdir()
    (source / "bin" / "python3.11").write_text("elf")
    (source / "bin" / "python").symlink_to("python3.11")
    images._place(source, tmp_path / "context", frozenset({"lib/python3.11/test"}))
    copied = tmp_path / "context"
    assert not (copied / "lib" / "python3.11" / "test").exists()
    assert (copied / "lib" / "python3.11" / "os.py").stat().st_ino == (source / "lib/python3.11/os.py").stat().st_ino
    assert os.readlink(copied / "bin" / "python") == "python3.11"


# -- real engines --------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=RUNTIMES)
def engine(request):
    with runtime_ready(request.param) as ready:
        yield ready


@pytest.fixture(scope="module")
def built(engine):
    """(environment, image) of Django 4.2, built on first use, then from the engine's store."""
    env = environment_or_skip("4.2")
    return env, images.ensure_image(engine, env.path)


def run_inside(engine, image: images.Image, *code: str) -> str:
    return engine.check("run", "--rm", "--network", "none", *engine.run_flags(), image.tag, image.python,
                        *code, what="running python in %s" % image.tag, fix="see the test")


@pytest.mark.e2e
def test_the_base_is_the_imported_rootfs(engine, built):
    labels = engine.inspect_image(images.base_tag())["labels"]
    assert labels["migbench.rootfs"] == rootfs.digest("container")


@pytest.mark.e2e
def test_the_env_python_runs_inside_at_its_host_path_offline(engine, built):
    env, image = built
    assert image.source == "offline" and image.runtime == engine.name
    assert image.python == str(env.python)
    labels = engine.inspect_image(image.tag)["labels"]
    assert labels == {**labels, "migbench.python": str(env.python), "migbench.key": env.key,
                      "migbench.source": "offline", "migbench.digest": image.digest}
    out = run_inside(engine, image, "-c", "import django, sqlite3, ssl, ctypes, sys; "
                                          "print(django.get_version(), sys.executable)")
    assert out.split() == [env.django_version, str(env.python)]


@pytest.mark.e2e
def test_a_second_ensure_builds_nothing(engine, built):
    env, image = built
    started = time.monotonic()
    again = images.ensure_image(engine, env.path)
    assert again == dataclasses.replace(image, built_now=False, build_seconds=None)
    assert time.monotonic() - started < 5


@pytest.mark.e2e
def test_an_older_tag_of_the_env_is_dropped_and_no_other(engine, built):
    env, image = built
    plan = images.plan_image(env.path)
    old = "%s:%s-000000000000" % (images.REPOSITORY, env.key)
    other = "%s:py0.0.0-django0.0.0-000000000000" % images.REPOSITORY
    try:
        for tag in (old, other):
            engine.check("tag", image.tag, tag, what="tagging", fix="see the engine")
        images._drop_stale(engine, plan)
        assert engine.inspect_image(old) is None
        assert engine.inspect_image(image.tag) is not None and engine.inspect_image(other) is not None
    finally:
        for tag in (old, other):
            engine.remove_image(tag)


@pytest.mark.e2e
def test_an_image_from_the_dockerfile_is_preferred(engine, built, tmp_path):
    """docker/Dockerfile built offline: FROM the offline image (a python with pip), Django and the
    driver already satisfied, so pip needs no index; `--network none` proves it."""
    env, image = built
    key = "py%s-django%s-dockerfile-test-%s" % (env.python_version, env.django_version, uuid.uuid4().hex[:6])
    tag, wrong = images.user_tag(key), images.user_tag("py0.0.0-django0.0.0-mislabelled-test")
    psycopg = json.loads((env.path / "migbench-driver-postgresql.json").read_text())["requirement"] \
        if (env.path / "migbench-driver-postgresql.json").exists() else ""
    args = {"BASE": image.tag, "PYTHON": env.python_version, "DJANGO": env.django_version,
            "PYTHON_BIN": str(env.python), "KEY": key, "DRIVERS": psycopg}
    build = ["build", "-q", "--network", "none", "-t", tag, *engine.run_flags()]
    build += [arg for name, value in args.items() for arg in ("--build-arg", "%s=%s" % (name, value))]
    try:
        engine.check(*build, str(REPO / "docker"), what="building docker/Dockerfile", fix="see the output",
                     env={**os.environ, "DOCKER_BUILDKIT": "0"}, timeout=300)
        found = images.ensure_image(engine, tmp_path / key)  # only its name is read
        assert (found.source, found.tag, found.python, found.built_now) == ("dockerfile", tag, str(env.python), False)
        assert run_inside(engine, found, "-c", "import django; print(django.get_version())").strip() \
            == env.django_version
        engine.check("tag", tag, wrong, what="tagging", fix="see the engine")
        with pytest.raises(MigbenchError) as error:
            images.ensure_image(engine, tmp_path / "py0.0.0-django0.0.0-mislabelled-test")
        assert "is labelled for environment %s" % key in one_line(error)
    finally:
        for reference in (tag, wrong):
            engine.remove_image(reference)


@pytest.mark.e2e
def test_runtime_errors_are_one_line(engine, tmp_path, monkeypatch):
    with pytest.raises(MigbenchError) as error:
        images.ensure_image(engine, tmp_path / "py3.11.7-django4.2.30")
    assert "not a built migbench environment" in one_line(error)
    if engine.name == "docker":
        monkeypatch.setenv("DOCKER_HOST", "unix://%s" % (tmp_path / "nobody.sock"))
        with pytest.raises(runtime.RuntimeUnavailable) as error:
            images.ensure_image(engine, tmp_path)
        assert "start one with `dockerd" in one_line(error)


@pytest.mark.e2e
def test_the_image_command_builds_lists_and_refuses(engine, built, capsys):
    env, image = built
    parser = argparse.ArgumentParser()
    image_command.add_parser(parser.add_subparsers())

    def run(*argv: str) -> int:
        args = parser.parse_args(["image", *argv])
        return args.handler(args)

    minor = ".".join(env.python_version.split(".")[:2])
    assert run("build", "--runtime", engine.name, "--django", env.django_version, "--python", minor) == 0
    out = capsys.readouterr().out
    assert "base    %s" % images.base_tag() in out and "ready   %s (offline, cached)" % image.tag in out
    assert run("list", "--runtime", engine.name) == 0
    listed = capsys.readouterr().out
    assert image.tag in listed and images.base_tag() in listed
    with pytest.raises(MigbenchError, match="--all"):
        run("remove", "--runtime", engine.name)
