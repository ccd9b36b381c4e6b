"""The container and VM limiters, for real: an allocator child OOM-killed, or raising MemoryError,
classified from inside each wall (Docker, Podman, a QEMU guest), and an ok child's readings.

One environment (Django 4.2 on its interpreter) is the child's world in all three; its image is
built once per runtime and cached by the runtime, the guest image once under the cache.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from guests_support import RUNTIMES, need_vm, runtime_ready
from migbench.bench.env import environments
from migbench.bench.guests import images
from migbench.bench.guests import runtime as guests_runtime
from migbench.bench.measure import limiters
from migbench.bench.measure.outcome import classify
from migbench.bench.measure.step import run_child
from migbench.bench.measure.worker import HERE as WORKER_DIR

MiB = 2**20
# Many small pieces: nothing refuses them, the kernel's OOM killer ends the process.
SMALL_PIECES = "x = []\nwhile True:\n    x.append(bytearray(1 << 20))\n"
# One piece no machine here can give: the allocation itself fails and Python raises.
ONE_HUGE = "bytearray(1 << 46)"
# The smallest guest worth booting (the kernel keeps ~50 MB): the less RAM, the sooner the OOM kill.
GUEST = 128 * MiB
FITS = "x = bytearray(40 << 20)\nimport time\ntime.sleep(0.3)\nprint('done')\n"


@pytest.fixture(scope="module")
def environment():
    return environments.ensure("4.2")


def run(name, cap, code, environment, tmp_path):
    """(outcome, child, reading, described) of `python -c code` under limiter `name`."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    job = limiters.ChildJob(argv=(str(environment.python), "-c", code), env=dict(os.environ), cwd=scratch,
                            scratch=scratch, paths=(scratch,), read_only=(WORKER_DIR,),
                            environment=environment.path, stdout=tmp_path / "out", stderr=tmp_path / "err")
    limiter = limiters.choose(name, cap)
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        child, reading, described = run_child(job, limiter, out, err, timeout_s=600, interval_s=0.02)
    stderr = (tmp_path / "err").read_text(errors="replace")
    outcome = classify(exit_code=child.exit_code, signal_number=child.signal, timed_out=child.timed_out,
                       oom_kills=reading.oom_kills, stderr_tail=stderr[-4000:], limit_bytes=cap,
                       peak_bytes=reading.peak_bytes or child.peak_rss_bytes)
    return outcome, child, reading, described, (tmp_path / "out").read_text(errors="replace"), stderr


@pytest.fixture(scope="module", params=RUNTIMES)
def runtime(request):
    with runtime_ready(request.param):
        yield request.param


@pytest.mark.e2e
class TestContainer:
    def test_oom_kill_is_counted_in_the_containers_cgroup(self, runtime, environment, tmp_path):
        outcome, child, reading, described, _, _ = run(runtime, 128 * MiB, SMALL_PIECES, environment, tmp_path)
        assert outcome.name == "oom-killed", (outcome, child, reading)
        assert child.signal == 9  # seen inside: the sampler reaped the child itself
        assert reading.oom_kills and reading.oom_kills >= 1  # the cgroup's counter, also for podman
        assert reading.details["cgroup"]["limit_bytes"] == 128 * MiB
        assert described["name"] == runtime and described["caps"] == "rss+swap"
        assert described["image"].startswith("migbench-env")

    def test_one_huge_allocation_raises_memory_error(self, runtime, environment, tmp_path):
        outcome, child, reading, _, _, stderr = run(runtime, 128 * MiB, ONE_HUGE, environment, tmp_path)
        assert outcome.name == "memory-error", (outcome, stderr)
        assert "MemoryError" in stderr and child.exit_code == 1
        assert reading.oom_kills == 0

    def test_a_run_that_fits_reads_its_peak_inside(self, runtime, environment, tmp_path):
        outcome, child, reading, _, out, _ = run(runtime, 256 * MiB, FITS, environment, tmp_path)
        assert outcome.name == "ok" and out.strip() == "done"
        assert 40 * MiB < child.peak_rss_bytes < 256 * MiB  # the child's tree, sampled inside
        assert child.samples and child.pid != 0
        assert reading.peak_bytes >= child.peak_rss_bytes  # the cgroup also charges the sampler
        facts = reading.details
        assert facts["inside_wall_s"] < facts["outside_wall_s"]  # starting the container costs time
        assert facts["memory_seen_inside"]["total_bytes"] > 0


    def test_a_killed_migbenchs_container_is_removed_by_the_next_run(self, runtime, environment):
        engine = guests_runtime.get(runtime)
        image = images.ensure_image(engine, environment.path)
        gone = subprocess.Popen(["true"])
        gone.wait()  # its pid: a migbench that no longer runs
        stale, live = "migbench-%d-0" % gone.pid, "migbench-%d-99" % os.getpid()
        for name in (stale, live):
            engine.remove(name)
            started = engine.call("run", "-d", "--name", name, "--network", "none", *engine.run_flags(),
                                  image.tag, "sleep", "300")
            assert started.returncode == 0, started.stderr
        try:
            with limiters.choose(runtime, 64 * MiB):
                pass
            names = engine.containers("migbench-")
            assert stale not in names and live in names  # ours (a live pid) is left alone
        finally:
            engine.remove(stale)
            engine.remove(live)


@pytest.mark.e2e
@pytest.mark.xdist_group("vm")
class TestVm:
    @pytest.fixture(autouse=True)
    def _vm(self):
        need_vm()

    def test_a_huge_allocation_raises_then_small_pieces_are_oom_killed_by_the_guest_kernel(
            self, environment, tmp_path):
        """One boot for both walls of the guest (each boot is ~10 s of TCG): the child asks for one
        piece the guest cannot give (MemoryError, printed to its stderr), then allocates in small
        pieces until the guest kernel kills it. The huge allocation's outcome when it ends the child
        (memory-error, exit status 1) is TestContainer's, through the same run_child and classify;
        the guest's exit statuses reach the host as in test_vm.py (a real exit 0, a 139 read as
        SIGSEGV); here classify reads the guest's own MemoryError from the stderr that came back."""
        code = "try:\n    %s\nexcept MemoryError:\n    import traceback, sys\n    traceback.print_exc()\n" \
               "    sys.stderr.flush()\n%s" % (ONE_HUGE, SMALL_PIECES)
        outcome, child, reading, described, _, stderr = run("vm", GUEST, code, environment, tmp_path)
        assert outcome.name == "oom-killed", (outcome, child, reading.details, stderr)
        assert child.signal == 9
        assert reading.oom_kills >= 1 and reading.details["guest_kernel_oom"]
        guest = reading.details["memory_seen_inside"]
        assert guest["swap_total_bytes"] == 0 and guest["total_bytes"] < GUEST
        assert described["accel"] in ("kvm", "tcg") and described["caps"] == "guest-ram"
        # the huge allocation raised in the guest (the overcommit heuristic refused it) and its
        # traceback crossed back; had it ended the child, it would be a memory-error
        assert "MemoryError" in stderr, stderr
        alone = classify(exit_code=1, signal_number=None, timed_out=False, oom_kills=0, stderr_tail=stderr[-4000:],
                         limit_bytes=GUEST, peak_bytes=None)
        assert alone.name == "memory-error", alone


def test_vm_needs_a_cap():
    with pytest.raises(limiters.LimiterError, match="--memory 512M"):
        limiters.choose("vm", None)


def test_walled_limiters_are_never_auto_or_suggested():
    chosen = limiters.choose("auto", 64 * MiB)
    assert chosen.name not in limiters.WALLED
    assert not any(name in chosen.why for name in limiters.WALLED)


def test_a_database_names_the_host_paths_a_walled_child_needs(tmp_path):
    from migbench.bench.engines.base import Database

    sqlite = Database(None, "x", "sqlite:///%s/db.sqlite3" % tmp_path, tmp_path / "db.sqlite3")
    assert sqlite.host_paths() == (tmp_path,) and not sqlite.over_network
    socket = Database(None, "x", "postgresql://postgres@/migbench_1_x?host=/tmp/mb-sock&port=5432")
    assert socket.host_paths() == (Path("/tmp/mb-sock"),) and not socket.over_network
    tcp = Database(None, "x", "mysql://root@db.example:3306/migbench_1_x")
    assert tcp.host_paths() == () and tcp.over_network
