"""Docker and Podman through their command lines: what is missing says how to fix it, and the
verbs the limiter uses (run flags, state, remove, image listing) behave alike on both engines.

The e2e tests run real containers from the base image (cached in each engine's store; a few
seconds on first use once the root filesystem exists). No mocks: an engine that is not there
is a binary that does not exist, or a socket nobody listens on.
"""

from __future__ import annotations

import uuid

import pytest
from guests_support import RUNTIMES, need_runtime, runtime_ready

from migbench.bench.guests import images, runtime
from migbench.errors import MigbenchError


def test_get_knows_docker_and_podman_only():
    assert runtime.get("docker").name == "docker"
    assert runtime.get("podman").name == "podman"
    with pytest.raises(MigbenchError) as error:
        runtime.get("rkt")
    assert "docker, podman" in str(error.value) and "\n" not in str(error.value)


def test_podman_runs_get_the_ulimits_docker_runs_need_nothing():
    assert runtime.Runtime("podman", "podman").run_flags() == [
        "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
    assert runtime.Runtime("docker", "docker").run_flags() == []


@pytest.mark.parametrize("name, fix", [("docker", "apt-get install docker.io"),
                                       ("podman", "apt-get install podman")])
def test_a_missing_binary_names_the_package(tmp_path, name, fix):
    missing = runtime.Runtime(name, str(tmp_path / name))
    assert missing.unavailable() == "%s is not installed: %s" % (name, fix)
    with pytest.raises(runtime.RuntimeUnavailable, match=fix):
        missing.require()


def test_a_silent_docker_engine_names_how_to_start_one(tmp_path, monkeypatch):
    if runtime.get("docker").binary == "docker":
        pytest.skip("the docker CLI is not installed")
    monkeypatch.setenv("DOCKER_HOST", "unix://%s" % (tmp_path / "nobody.sock"))
    why = runtime.get("docker").unavailable()
    assert why.startswith("no Docker engine answers (docker info failed: ")
    assert why.endswith("start one with `dockerd --iptables=false --bridge=none &` (or `systemctl start docker`)")
    assert "\n" not in why


def test_tail_keeps_the_last_lines_on_one_line():
    assert runtime.tail("a\n\nb\nc\n") == "b | c"
    assert runtime.tail("") == "no output"
    assert runtime.tail("x" * 500).endswith("x...") and len(runtime.tail("x" * 500)) == 203


@pytest.fixture(scope="module", params=RUNTIMES)
def engine(request):
    with runtime_ready(request.param) as ready:
        yield ready


@pytest.fixture(scope="module")
def base(engine):
    return images.ensure_base(engine)


@pytest.mark.e2e
def test_state_follows_a_container_until_remove(engine, base):
    name = "migbench-test-%s" % uuid.uuid4().hex[:12]
    try:
        engine.check("run", "-d", "--network", "none", "--name", name, *engine.run_flags(), base,
                     "sleep", "60", what="starting a container", fix="see the engine's log")
        state = engine.state(name)
        assert state["Running"] is True and state["Status"] == "running", state
    finally:
        engine.remove(name)
    assert engine.state(name) == {}
    engine.remove(name)  # gone already: still no exception


@pytest.mark.e2e
def test_exit_status_and_oom_flag_are_in_the_state(engine, base):
    name = "migbench-test-%s" % uuid.uuid4().hex[:12]
    try:
        done = engine.call("run", "--name", name, "--network", "none", *engine.run_flags(), base,
                           "sh", "-c", "exit 3")
        assert done.returncode == 3, done.stderr
        state = engine.state(name)
        assert state["ExitCode"] == 3 and state["OOMKilled"] is False and state["Running"] is False
    finally:
        engine.remove(name)


@pytest.mark.e2e
def test_inspect_and_list_images(engine, base):
    found = engine.inspect_image(base)
    assert found["labels"]["migbench.rootfs"] == base.split(":")[1]
    assert found["size"] > 100 * 2**20 and found["id"]
    assert engine.inspect_image("migbench-nothing:%s" % uuid.uuid4().hex[:8]) is None
    assert base in engine.images("migbench.rootfs")
    # Two labels: both must hold (podman 4.3 alone would OR them).
    assert engine.images("migbench.rootfs", "migbench.key=no-such-environment") == []
    assert base in engine.images("migbench.rootfs", "migbench.rootfs=%s" % base.split(":")[1])


@pytest.mark.e2e
def test_a_failed_command_is_one_line_with_the_fix(engine):
    with pytest.raises(MigbenchError) as error:
        engine.check("image", "inspect", "migbench-nothing:x", what="inspecting nothing", fix="do this")
    message = str(error.value)
    assert message.startswith("%s: inspecting nothing failed (exit " % engine.name)
    assert message.endswith("; do this") and "\n" not in message


@pytest.mark.e2e
@pytest.mark.xdist_group("podman")
def test_podman_needs_its_ulimits_here():
    """The reason run_flags() exists: without the two ulimits podman's runc cannot start a container
    where root lacks CAP_SYS_RESOURCE (this machine kind); with them it always can."""
    engine = need_runtime("podman")
    base = images.ensure_base(engine)
    done = engine.call("run", "--rm", "--network", "none", *engine.run_flags(), base, "true")
    assert done.returncode == 0, done.stderr
    bare = engine.call("run", "--rm", "--network", "none", base, "true")
    if bare.returncode == 0:
        pytest.skip("this host lets podman raise the rlimits itself (root has CAP_SYS_RESOURCE)")
    assert "rlimit" in bare.stderr

