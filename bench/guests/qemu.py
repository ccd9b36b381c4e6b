"""How the guest is started: the qemu-system-x86_64 command line, its shares, KVM or TCG.

The guest is the 2015 VM's kind of machine: exactly CAP of RAM (-m), no swap
device, one CPU unless asked, no network (-nic none), no display; its serial
console goes to a file in the job directory. The disk is opened with -snapshot,
so the cached image stays pristine and many guests can boot it at once. Host
directories reach the guest as virtio 9p shares (tags m0, m1, ...; "job" for the
job directory) mounted at the same paths as on the host, read-only where asked.

KVM is used only where it really boots a kernel: on some hosts (nested VMs)
/dev/kvm opens but a guest hangs before its first console line. The verdict
comes from booting the guest kernel once under KVM (it must reach its
"no root" panic) and is cached per host boot (/proc/sys/kernel/random/boot_id);
MIGBENCH_VM_ACCEL=kvm|tcg overrides it.

Side effects: accel() may boot a probe guest once per host boot and writes
<cache>/guests/accel.json.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from migbench.bench.env import environments

from .vm_image import GuestImage, ensure_guest_image

QEMU = "qemu-system-x86_64"
CONSOLE = "console.log"
JOB_TAG = "job"
PROBE_TIMEOUT = 10.0  # s; KVM boots the kernel to its panic in well under 1 s, TCG in ~2 s
_PROBE_PANIC = "Kernel panic"
# Mounted over by the guest's own filesystems, or the guest's system itself.
_RESERVED = ("/", "/proc", "/sys", "/dev", "/run", "/boot", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64",
             "/var")
_RESERVED_TREES = ("/proc/", "/sys/", "/dev/", "/run/")


@dataclass(frozen=True)
class Share:
    """A host directory the guest sees at the same path (read-only: the guest cannot write it)."""

    path: Path
    read_only: bool = False


def qemu_binary() -> str | None:
    return shutil.which(QEMU)


def tagged(shares: list[Share], job_dir: Path | None = None) -> list[tuple[str, Share]]:
    """(mount tag, share) in mount order: parents before what is inside them, one entry per path.

    A path shared twice is read-only only if every mention says so. The job directory,
    when given, is the tag "job" (the guest mounts it first to read the job)."""
    merged: dict[Path, bool] = {}
    for share in shares:
        path = Path(os.path.abspath(share.path))
        merged[path] = merged.get(path, True) and share.read_only
    entries = [(path, read_only) for path, read_only in merged.items()]
    if job_dir is not None:
        job = Path(os.path.abspath(job_dir))
        entries = [(p, ro) for p, ro in entries if p != job] + [(job, False)]
    entries.sort(key=lambda item: (len(item[0].parts), str(item[0])))
    out, number = [], 0
    for path, read_only in entries:
        if job_dir is not None and path == Path(os.path.abspath(job_dir)):
            out.append((JOB_TAG, Share(path, False)))
        else:
            out.append(("m%d" % number, Share(path, read_only)))
            number += 1
    return out


def share_problem(path: Path) -> str | None:
    """Why `path` cannot be a share (the guest's own system lives there), or None."""
    text = os.path.abspath(path)
    if text in _RESERVED or text.startswith(_RESERVED_TREES):
        return "%s is the guest's own" % text
    if any(c in text for c in "\n\t\r") or text != text.strip():
        return "%r has a tab, newline or edge blank the guest's mount list cannot carry" % text
    if not os.path.isdir(text):
        return "%s is not a directory" % text
    return None


def qemu_argv(image: GuestImage, *, memory_bytes: int, job_dir: Path, shares: list[Share], accel: str,
              cpus: int = 1) -> list[str]:
    """The command that boots `image` with `memory_bytes` of RAM and runs the job in `job_dir`.

    RAM is rounded down to a 4 KiB page (QEMU's unit); the guest kernel takes its own
    share of it, as the 2015 VM's did (guest.json records the MemTotal it saw)."""
    binary = qemu_binary() or QEMU
    cmdline = "root=/dev/vda rw console=ttyS0 init=/sbin/migbench-init panic=-1 quiet"
    argv = [binary, "-nodefaults", "-no-user-config", "-name", "migbench-guest",
            "-accel", accel, "-cpu", "host" if accel == "kvm" else "max",
            "-m", "%dB" % (memory_bytes // 4096 * 4096), "-smp", str(cpus),
            "-display", "none", "-nic", "none", "-no-reboot",
            "-kernel", str(image.kernel), "-initrd", str(image.initrd), "-append", cmdline,
            "-drive", "file=%s,format=raw,if=virtio,cache=unsafe" % _escape(image.disk), "-snapshot",
            "-chardev", "file,id=console,path=%s" % _escape(Path(job_dir) / CONSOLE),
            "-serial", "chardev:console"]
    for number, (tag, share) in enumerate(tagged(shares, job_dir)):
        argv += ["-fsdev", "local,id=fs%d,path=%s,security_model=none%s"
                 % (number, _escape(share.path), ",readonly=on" if share.read_only else ""),
                 "-device", "virtio-9p-pci,fsdev=fs%d,mount_tag=%s" % (number, tag)]
    return argv


def unavailable() -> str | None:
    """Why no guest can boot here (one line with the fix), or None."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return "--limiter vm needs an x86_64 host (its guest is Debian amd64); this one is %s" % platform.machine()
    if qemu_binary() is None:
        return "%s is not installed: apt-get install qemu-system-x86" % QEMU
    return None


def accel(image: GuestImage | None = None) -> tuple[str, str]:
    """("kvm" or "tcg", why): KVM only if it boots the guest kernel here (probed once per host boot)."""
    forced = os.environ.get("MIGBENCH_VM_ACCEL", "").strip().lower()
    if forced in ("kvm", "tcg"):
        return forced, "MIGBENCH_VM_ACCEL=%s" % forced
    if not os.path.exists("/dev/kvm"):
        return "tcg", "no /dev/kvm on this host: TCG, QEMU's software emulation"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg", "/dev/kvm is not usable by this user (add it to the kvm group): TCG instead"
    boot_id = _boot_id()
    found = cached_accel(boot_id)
    if found:
        return found
    with environments.locked("guest-accel"):
        found = cached_accel(boot_id)
        if found:
            return found
        verdict = _probe_kvm(image or ensure_guest_image())
        path = environments.cache_root() / "guests" / "accel.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name("accel.json.%d" % os.getpid())
        part.write_text(json.dumps({"boot_id": boot_id, "accel": verdict[0], "why": verdict[1]}))
        os.replace(part, path)
        return verdict


def cached_accel(boot_id: str | None = None) -> tuple[str, str] | None:
    """The verdict probed earlier in this host boot, or None."""
    try:
        found = json.loads((environments.cache_root() / "guests" / "accel.json").read_text())
    except (OSError, ValueError):
        return None
    if found.get("boot_id") != (boot_id or _boot_id()) or found.get("accel") not in ("kvm", "tcg"):
        return None
    return found["accel"], found.get("why", "")


def _probe_kvm(image: GuestImage) -> tuple[str, str]:
    """Boot the kernel alone under KVM: it must print its way to the panic for a missing root."""
    with tempfile.TemporaryDirectory(prefix="migbench-kvm-probe-") as scratch:
        console = Path(scratch) / CONSOLE
        argv = [qemu_binary() or QEMU, "-nodefaults", "-no-user-config", "-accel", "kvm", "-cpu", "host",
                "-m", "128M", "-display", "none", "-nic", "none", "-no-reboot", "-kernel", str(image.kernel),
                "-append", "console=ttyS0 panic=-1 loglevel=4",
                "-chardev", "file,id=console,path=%s" % _escape(console), "-serial", "chardev:console"]
        started = time.monotonic()
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, errors="replace", timeout=PROBE_TIMEOUT)
            output = done.stdout
        except subprocess.TimeoutExpired:
            return "tcg", ("KVM did not boot the guest kernel within %.0f s (/dev/kvm opens, but guests hang "
                           "here, as in nested VMs): TCG instead" % PROBE_TIMEOUT)
        seconds = time.monotonic() - started
        text = console.read_text(errors="replace") if console.exists() else ""
    if _PROBE_PANIC in text:
        return "kvm", "KVM booted the guest kernel in %.1f s" % seconds
    lines = [line.split(": ", 1)[-1] for line in output.splitlines() if line.strip() and "warning:" not in line]
    return "tcg", "QEMU with KVM did not boot the guest kernel (%s): TCG instead" % (
        lines[-1][:160] if lines else "exit status %d, no kernel output" % done.returncode)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _escape(path: Path) -> str:
    """A path inside a QEMU option value: a comma is written twice."""
    return str(path).replace(",", ",,")
