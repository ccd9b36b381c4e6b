"""The QEMU guest of --limiter vm: its image, its command line, its job protocol, and a real boot.

One real guest boots here (TCG where KVM does not work: ~12 s on this machine kind): 256 MB of
RAM, running a host script from a read-write share with the guest's own python3. The script
writes what it sees into the share (its argv, environment, directory, the guest's meminfo, a
read-only share it cannot write), asks for one bytearray far beyond the guest's RAM
(MemoryError: the kernel's overcommit heuristic refuses it), then allocates in small pieces
until the guest kernel's OOM killer ends it (exit status 137, SIGKILL). One boot for all of
it: each boot costs ~5 s before the command and ~1.7 s of interpreter start.
The image lives in the real cache (its first build: the debootstrap of the root, ~3 min,
then ~6 s for kernel, initramfs and disk; afterwards nothing). The tests of the command
line, the job files and the image cache need no boot.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import skip_or_fail

from migbench.bench.guests import initramfs, qemu, rootfs, vm, vm_image
from migbench.commands import vm as vm_command
from migbench.errors import MigbenchError

MiB = 1 << 20

# Run by the guest's /usr/bin/python3 from a read-write share; argv[1] is a read-only share.
GUEST_SCRIPT = """\
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
facts = {"python": sys.executable, "cwd": os.getcwd(), "env": os.environ.get("MIGBENCH_TEST_VALUE"),
         "path": os.environ.get("PATH"), "argv": sys.argv[1:]}
with open("/proc/meminfo") as meminfo:
    facts["meminfo"] = dict(line.split(":")[0:2] for line in meminfo)
try:
    open(os.path.join(sys.argv[1], "new.txt"), "w").write("x")
    facts["read_only"] = "written"
except OSError as error:
    facts["read_only"] = error.errno
facts["read"] = open(os.path.join(sys.argv[1], "given.txt")).read()
try:
    huge = bytearray(4 << 30)  # one allocation far beyond RAM: refused
except MemoryError as error:
    facts["huge"] = type(error).__name__
with open(os.path.join(here, "facts.json"), "w") as out:
    json.dump(facts, out)
"""
# The guest kernel's OOM kill (many small allocations) is booted once, through the limiter:
# tests/bench/measure/test_walled_limiters.py, which also reads the kill from the guest's log.


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


@pytest.fixture(scope="module")
def image():
    reason = vm.unavailable()
    if reason:
        skip_or_fail("the VM limiter", MigbenchError(reason))
    try:
        return vm.ensure_guest_image()
    except MigbenchError as error:
        skip_or_fail("the VM limiter", error)


@pytest.fixture(scope="module")
def booted(image, tmp_path_factory):
    """The one 256 MB guest running GUEST_SCRIPT: (GuestRun, host wall seconds, its facts, the ro share)."""
    base = tmp_path_factory.mktemp("guest")
    work, given = base / "work dir", base / "given"
    work.mkdir()
    given.mkdir()
    (work / "guest.py").write_text(GUEST_SCRIPT)
    (given / "given.txt").write_text("from the host")
    shares = [vm.Share(work, read_only=False), vm.Share(given, read_only=True)]
    run, wall = vm.boot(base / "job", argv=["/usr/bin/python3", str(work / "guest.py"), str(given)],
                        memory_bytes=256 * MiB, shares=shares, env={"MIGBENCH_TEST_VALUE": "it's $HOME"},
                        cwd=given, image=image, timeout=300)
    facts = json.loads((work / "facts.json").read_text()) if (work / "facts.json").exists() else {}
    return run, wall, facts, given


# -- real guests ---------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.xdist_group("vm")
def test_the_image_is_built_once_then_found(image):
    again = vm.ensure_guest_image()
    assert again.digest == image.digest and not again.built_now
    assert vm.find_guest_image() == again
    assert all(path.is_file() for path in (image.kernel, image.initrd, image.disk))
    details = image.details
    assert details["init_sha256"] and details["kernel_boot"] in ("pvh", "bzimage")
    assert "9p" in details["initrd_modules"] and "virtio_blk" in details["initrd_modules"]


@pytest.mark.e2e
@pytest.mark.xdist_group("vm")
def test_a_guest_runs_a_host_script_that_writes_into_a_share(booted):
    run, wall, facts, given = booted
    assert facts, (run.why, run.console_tail)
    assert facts["python"] == "/usr/bin/python3" and facts["argv"] == [str(given)]
    assert facts["cwd"] == str(given)
    assert facts["env"] == "it's $HOME"  # quoted through run.sh, not expanded
    assert facts["path"] == vm.GUEST_PATH
    assert facts["read"] == "from the host"
    assert run.exit_status == 0 and run.signal is None
    assert run.boot_seconds and 0 < run.boot_seconds < wall
    assert run.run_seconds is not None and run.run_seconds > 0


@pytest.mark.e2e
@pytest.mark.xdist_group("vm")
def test_a_read_only_share_is_read_only(booted):
    run, _, facts, given = booted
    assert facts["read_only"] == 30  # EROFS
    assert not (given / "new.txt").exists()


@pytest.mark.e2e
@pytest.mark.xdist_group("vm")
def test_the_guest_has_the_cap_as_ram_and_no_swap(booted, image):
    run, _, facts, _ = booted
    seen = run.guest
    assert 0.7 * 256 * MiB < seen["mem_total_bytes"] < 256 * MiB  # the kernel keeps some, as in 2015
    assert seen["swap_total_bytes"] == 0
    assert facts["meminfo"]["SwapTotal"].split() == ["0", "kB"]
    assert seen["overcommit_memory"] == 0 and seen["overcommit_ratio"] == 50  # the defaults
    assert seen["kernel"] == image.details["kernel"] and seen["nproc"] == 1


@pytest.mark.e2e
@pytest.mark.xdist_group("vm")
def test_one_huge_allocation_is_a_memory_error(booted):
    _, _, facts, _ = booted
    assert facts["huge"] == "MemoryError"


@pytest.mark.e2e
@pytest.mark.xdist_group("vm")
def test_a_guest_past_its_timeout_is_killed_and_says_so(image, tmp_path):
    run, wall = vm.boot(tmp_path / "job", argv=["/bin/true"], memory_bytes=128 * MiB, image=image, timeout=1)
    assert run.exit_status is None and run.why == "the guest was still running after 1 s: killed"
    assert wall < 10


@pytest.mark.e2e
@pytest.mark.xdist_group("vm")
def test_kvm_or_tcg_is_decided_once_per_host_boot(image, monkeypatch):
    name, why = vm.accel(image)
    assert name in ("kvm", "tcg") and why
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        assert vm.cached_accel() == (name, why)  # the probe's verdict, kept for this boot id
    monkeypatch.setenv("MIGBENCH_VM_ACCEL", "tcg")
    assert vm.accel(image) == ("tcg", "MIGBENCH_VM_ACCEL=tcg")


@pytest.mark.e2e
@pytest.mark.xdist_group("vm")
def test_the_vm_command_builds_and_shows_the_image(image, capsys):
    parser = argparse.ArgumentParser()
    vm_command.add_parser(parser.add_subparsers())
    for verb in ("build", "info"):
        args = parser.parse_args(["vm", verb])
        assert args.handler(args) == 0
        out = capsys.readouterr().out
        assert "image   %s: kernel %s" % (image.digest, image.details["kernel"]) in out
        assert "accel   " in out


# -- the image cache, from a tiny root (no boot) -------------------------------------------------


@pytest.fixture
def tiny_root(image, tmp_path):
    """What an image needs of the guest root, copied from the real one: kernel, modules, binaries."""
    real = rootfs.find("vm")
    release = vm_image.kernel_release(real)
    root = tmp_path / "rootfs-vm-tiny" / "root"
    wanted = ["boot/vmlinuz-" + release, "boot/config-" + release, "lib/modules/%s/modules.dep" % release]
    wanted += ["lib/modules/%s/%s" % (release, m) for m in initramfs.module_order(real / "lib/modules" / release)]
    wanted += initramfs._closure(real)
    for name in wanted:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real / name, root / name)
    (root / "usr/sbin").mkdir(parents=True, exist_ok=True)
    return root


@pytest.mark.xdist_group("vm")
def test_two_processes_build_one_image_and_a_killed_build_is_not_an_image(tiny_root, tmp_path, monkeypatch):
    monkeypatch.setenv("MIGBENCH_CACHE", str(tmp_path / "cache"))
    place = vm_image.location(vm_image.digest_of(tiny_root))
    killed = place.parent / (".%s.building-1" % place.name)
    killed.mkdir(parents=True)
    place.mkdir()  # a directory without its marker: not an image
    assert vm.find_guest_image(tiny_root) is None
    code = ("import sys; from pathlib import Path; from migbench.bench.guests import vm\n"
            "print(vm.ensure_guest_image(Path(sys.argv[1])).built_now)")
    children = [subprocess.Popen([sys.executable, "-c", code, str(tiny_root)], stdout=subprocess.PIPE, text=True,
                                 env=dict(os.environ)) for _ in range(2)]
    said = sorted(child.communicate(timeout=120)[0].strip() for child in children)
    assert said == ["False", "True"]
    found = vm.find_guest_image(tiny_root)
    assert found is not None and found.disk.parent == place and not killed.exists()
    listing = subprocess.run(["debugfs", "-R", "stat /usr/sbin/migbench-init", str(found.disk)],
                             capture_output=True, text=True).stdout
    assert "Mode:  0755" in listing and "User:     0" in listing


@pytest.mark.xdist_group("vm")
def test_the_initramfs_carries_its_binaries_libraries_and_modules(tiny_root):
    release = vm_image.kernel_release(tiny_root)
    archive, modules = initramfs.build(tiny_root, release)
    data = gzip.decompress(archive)
    for name in (b"usr/bin/kmod", b"usr/sbin/switch_root", b"lib64/ld-linux-x86-64.so.2", b"libc.so.6",
                 b"modules/ext4.ko", b"modules/9pnet_virtio.ko", b"TRAILER!!!"):
        assert name in data
    assert modules.index("virtio") < modules.index("virtio_blk") and modules.index("jbd2") < modules.index("ext4")
    assert modules.index("9pnet") < modules.index("9p") and modules[-1] == "9p"


# -- the command line and the job files (no QEMU needed) ----------------------------------------


FAKE = vm.GuestImage(Path("/cache/vm-x/kernel"), Path("/cache/vm-x/initrd"), Path("/cache/a,b/disk.img"), "x", {})


def test_qemu_argv_boots_exactly_the_cap_without_network_or_swap(tmp_path):
    data, env = tmp_path / "data", tmp_path / "env"
    data.mkdir()
    env.mkdir()
    argv = vm.qemu_argv(FAKE, memory_bytes=512 * MiB, job_dir=tmp_path / "job",
                        shares=[vm.Share(env, read_only=True), vm.Share(data, read_only=False)], accel="tcg")
    text = " ".join(argv)
    assert argv[argv.index("-m") + 1] == "%dB" % (512 * MiB) and argv[argv.index("-smp") + 1] == "1"
    for flag in ("-snapshot", "-no-reboot", "-nodefaults"):
        assert flag in argv
    assert argv[argv.index("-nic") + 1] == "none" and argv[argv.index("-accel") + 1] == "tcg"
    assert "file=/cache/a,,b/disk.img,format=raw,if=virtio" in text  # a comma in a path is doubled
    assert "init=/sbin/migbench-init" in argv[argv.index("-append") + 1]
    assert "path=%s,security_model=none,readonly=on" % env in text
    assert "path=%s,security_model=none " % data in text + " "
    assert "mount_tag=job" in text and "path=%s/console.log" % (tmp_path / "job") in text
    assert "-hda" not in argv and "swap" not in text


def test_the_job_lists_shares_parents_first_and_runs_argv_with_exactly_its_env(tmp_path):
    outer, inner, job, cwd = tmp_path / "a", tmp_path / "a" / "b", tmp_path / "job", tmp_path / "a b"
    for path in (inner, job, cwd):
        path.mkdir(parents=True)
    # Python adds LC_CTYPE itself under the C locale (PEP 538): not the job's doing.
    show = ("import json, os, sys; print(json.dumps([sys.argv[1:], os.getcwd(), "
            "{k: v for k, v in os.environ.items() if k != 'LC_CTYPE'}]))")
    argv = [sys.executable, "-c", show, "it's", "$HOME", "two words"]
    vm.write_job(job, argv=argv, env={"A": "x y", "B": "$PATH"}, cwd=cwd,
                 shares=[vm.Share(inner, True), vm.Share(outer, False), vm.Share(inner, False)])
    lines = (job / "mounts").read_text().splitlines()
    assert lines == ["m0\trw\t%s" % outer, "job\trw\t%s" % job, "m1\trw\t%s" % inner]
    out = subprocess.run(["sh", str(job / "run.sh")], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [["it's", "$HOME", "two words"], str(cwd),
                               {"A": "x y", "B": "$PATH", "HOME": "/root", "PATH": vm.GUEST_PATH}]


@pytest.mark.parametrize("path", ["/", "/proc/1", "/usr", "/run/x"])
def test_the_guest_own_directories_cannot_be_shares(tmp_path, path):
    with pytest.raises(MigbenchError) as error:
        vm.write_job(tmp_path, argv=["/bin/true"], env={}, cwd=Path("/"), shares=[vm.Share(Path(path), True)])
    assert "cannot share %s with the guest" % path in one_line(error)


def test_read_job_says_what_happened_from_what_the_guest_left(tmp_path):
    (tmp_path / "result.json").write_text(json.dumps({"exit_status": 139, "started": 5.0, "ended": 7.5}))
    (tmp_path / "guest.json").write_text(json.dumps({"uptime_at_command": 5.0, "mem_total_bytes": 1}))
    (tmp_path / "console.log").write_text("\x1bc\x1b[2JSeaBIOS\r\nmigbench-init: command started\n")
    run = vm.read_job(tmp_path)
    assert (run.exit_status, run.signal, run.why, run.boot_seconds, run.run_seconds) == (139, 11, None, 5.0, 2.5)
    assert run.console_tail == "SeaBIOS\nmigbench-init: command started"
    (tmp_path / "result.json").unlink()
    (tmp_path / "console.log").write_text("[    9.1] Kernel panic - not syncing: Out of memory and no killable "
                                          "processes...\n")
    assert vm.read_job(tmp_path).why == ("the guest stopped: Kernel panic - not syncing: Out of memory and no "
                                         "killable processes...")
    (tmp_path / "console.log").write_text("migbench-init: command started\n")
    assert "stopped while the command ran" in vm.read_job(tmp_path).why
    (tmp_path / "init-error.txt").write_text("cannot mount share m0 (ro) at /x\n")
    assert vm.read_job(tmp_path).why == "cannot mount share m0 (ro) at /x"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert vm.read_job(empty).exit_status is None and "printed nothing" in vm.read_job(empty).why


def test_elf_needed_reads_a_real_binary():
    needed = initramfs.needed(Path(shutil.which("sh") or "/bin/sh").resolve().read_bytes())
    assert "libc.so.6" in needed
    with pytest.raises(ValueError):
        initramfs.needed(b"#!/bin/sh\n")


def test_the_tag_order_is_the_same_for_the_job_and_the_command_line(tmp_path):
    shares = [vm.Share(tmp_path / "z", True), vm.Share(tmp_path, False)]
    tags = qemu.tagged(shares, tmp_path / "job")
    assert [tag for tag, _ in tags] == ["m0", "job", "m1"]
    assert tags[0][1] == vm.Share(tmp_path, False)
