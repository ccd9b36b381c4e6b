"""The VM limiter's guest image: a kernel, a tiny initramfs and an ext4 disk, built once and cached.

    <cache>/guests/vm-<digest>/kernel      the guest root's kernel, uncompressed (vmlinux)
    <cache>/guests/vm-<digest>/initrd      bench/guests/initramfs.py: its modules, mount, switch_root
    <cache>/guests/vm-<digest>/disk.img    ext4 made from the root (mkfs.ext4 -d), raw, sparse,
                                           with bench/guests/guest_init.sh as /sbin/migbench-init
    <cache>/guests/vm-<digest>/image.json  what was built from what, written before the rename

The root is the debootstrapped Debian of bench/guests/rootfs.py (kind "vm": python3,
linux-image-amd64, kmod, util-linux). The kernel is given to QEMU uncompressed
(QEMU boots an ELF kernel with a PVH note directly): the Debian bzImage's own XZ
decompression costs ~3 s of every TCG boot. The digest covers the root (its path
names its own digest, its marker its build), the kernel release, the init script
and the initramfs recipe: changing any of them is a new image, never a stale one.

Built in a hidden sibling directory and renamed into place under a lock, so two
processes build once and a killed build leaves nothing that looks finished. A new
image of the default root removes the images it supersedes (a guest already booted
from one keeps its open files).

Side effects: writes under <cache>/guests; runs mkfs.ext4 and debugfs (e2fsprogs).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from migbench.bench.env import environments
from migbench.errors import MigbenchError

from . import initramfs

INIT_SCRIPT = Path(__file__).with_name("guest_init.sh")
GUEST_INIT = "/usr/sbin/migbench-init"  # /sbin is a link to usr/sbin in the root
MARKER = "image.json"
_LAYOUT = 1  # bump when what is built changes without the inputs changing
_DISK_MARGIN = 512 << 20  # free space in the disk: sparse on the host, used by -snapshot writes
_TOOL_TIMEOUT = 600


@dataclass(frozen=True)
class GuestImage:
    """A finished guest image (its marker exists)."""

    kernel: Path
    initrd: Path
    disk: Path
    digest: str
    details: dict = field(default_factory=dict)  # image.json: kernel release, sizes, build time
    built_now: bool = False  # this call built it (else it was cached)


def location(digest: str) -> Path:
    return environments.cache_root() / "guests" / ("vm-" + digest)


def digest_of(root: Path) -> str:
    """What an image of `root` is cached under (see the module docstring)."""
    try:
        marker = (root.parent / "rootfs.json").read_text()
    except OSError:
        marker = ""
    text = json.dumps([_LAYOUT, str(root), marker, kernel_release(root), INIT_SCRIPT.read_text(),
                       initramfs.recipe()])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def find_guest_image(root: Path | None = None) -> GuestImage | None:
    """The finished image of the guest root (rootfs "vm"), or None: never builds anything."""
    if root is None:
        from . import rootfs

        root = rootfs.find("vm")
        if root is None:
            return None
    return _load(location(digest_of(root)))


def ensure_guest_image(root: Path | None = None) -> GuestImage:
    """The guest image, built on first use (the root too: debootstrap, a few minutes).

    `root` is a finished root directory (default: rootfs.ensure("vm"), and then a new
    image removes the ones it supersedes).
    """
    default = root is None
    if root is None:
        from . import rootfs

        root = rootfs.ensure("vm")
    place = location(digest_of(root))
    found = _load(place)
    if found is not None:
        return found
    with environments.locked(place.name):
        found = _load(place)
        if found is None:
            _build(root, place, prune=default)
            found = _load(place)
            assert found is not None, place
            return GuestImage(found.kernel, found.initrd, found.disk, found.digest, found.details, built_now=True)
        return found


def kernel_release(root: Path) -> str:
    """The newest kernel in the root's /boot that has its modules."""
    releases = [path.name[len("vmlinuz-"):] for path in (root / "boot").glob("vmlinuz-*")
                if (root / "lib/modules" / path.name[len("vmlinuz-"):] / "modules.dep").is_file()]
    if not releases:
        raise MigbenchError("the guest root %s has no kernel with modules (linux-image-amd64): "
                            "remove it and run `migbench vm build`" % root)
    return max(releases, key=lambda r: [int(n) if n.isdigit() else -1 for n in re.split(r"[.-]", r)])


def missing_tools() -> list[str]:
    """The e2fsprogs commands a build needs that are not installed."""
    return [tool for tool in ("mkfs.ext4", "debugfs") if _which(tool) is None]


def _build(root: Path, place: Path, prune: bool) -> None:
    missing = missing_tools()
    if missing:
        raise MigbenchError("%s %s not installed; building the guest disk needs e2fsprogs: apt-get install "
                            "e2fsprogs" % (" and ".join(missing), "is" if len(missing) == 1 else "are"))
    started = time.monotonic()
    place.parent.mkdir(parents=True, exist_ok=True)
    for stale in place.parent.glob(".%s.building-*" % place.name):  # killed builds (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    shutil.rmtree(place, ignore_errors=True)  # no marker: not an image
    scratch = place.parent / (".%s.building-%d" % (place.name, os.getpid()))
    scratch.mkdir()
    try:
        release = kernel_release(root)
        boot = _kernel(root, release, scratch / "kernel")
        initrd, modules = initramfs.build(root, release)
        (scratch / "initrd").write_bytes(initrd)
        used = _disk(root, scratch / "disk.img")
        details = {
            "kernel": release, "kernel_boot": boot, "initrd_modules": modules,
            "rootfs": str(root), "init": GUEST_INIT,
            "init_sha256": hashlib.sha256(INIT_SCRIPT.read_bytes()).hexdigest(),
            "root_bytes": used, "disk_bytes": (scratch / "disk.img").stat().st_size,
            "initrd_bytes": len(initrd), "built_at": time.time(),
            "build_seconds": round(time.monotonic() - started, 1),
        }
        (scratch / MARKER).write_text(json.dumps(details, indent=2))
        os.rename(scratch, place)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if prune:
        for older in place.parent.glob("vm-*"):  # superseded images: ~1 GB each, never used again
            if older != place:
                shutil.rmtree(older, ignore_errors=True)


def _kernel(root: Path, release: str, target: Path) -> str:
    """The kernel QEMU boots, written to `target`: "pvh" (uncompressed ELF) or "bzimage" (as is)."""
    image = (root / "boot" / ("vmlinuz-" + release)).read_bytes()
    try:
        config = (root / "boot" / ("config-" + release)).read_text()
    except OSError:
        config = ""
    if "CONFIG_PVH=y" in config:
        for magic, unpack in ((b"\xfd7zXZ\x00", _unxz), (b"\x1f\x8b\x08", gzip.decompress)):
            at = image.find(magic)
            if at < 0:
                continue
            try:
                elf = unpack(image[at:])
            except (lzma.LZMAError, OSError, EOFError):
                continue
            if elf[:4] == b"\x7fELF":
                target.write_bytes(elf)
                return "pvh"
    target.write_bytes(image)  # a payload Python cannot unpack (zstd, lz4): the bzImage decompresses itself
    return "bzimage"


def _unxz(data: bytes) -> bytes:
    return lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(data)  # stops at the stream's end


def _disk(root: Path, image: Path) -> int:
    """ext4 of `root` (no journal: the disk is only ever a -snapshot base) with the init installed."""
    used = _size(root)
    size_mib = (used * 5 // 4 + _DISK_MARGIN) >> 20
    _tool(["mkfs.ext4", "-q", "-F", "-L", "migbench", "-O", "^has_journal", "-m", "0",
           "-d", str(root), str(image), "%dM" % size_mib], "mkfs.ext4 -d %s" % root)
    commands = image.with_name("debugfs.commands")
    commands.write_text("rm %(init)s\nwrite \"%(source)s\" %(init)s\nsif %(init)s mode 0100755\n"
                        "sif %(init)s uid 0\nsif %(init)s gid 0\n" % {"init": GUEST_INIT, "source": INIT_SCRIPT})
    _tool(["debugfs", "-w", "-f", str(commands), str(image)], "debugfs (installing %s)" % GUEST_INIT)
    commands.unlink()
    check = subprocess.run([_which("debugfs") or "debugfs", "-R", "stat %s" % GUEST_INIT, str(image)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                           timeout=_TOOL_TIMEOUT)
    if "Mode:  0755" not in check.stdout:
        raise MigbenchError("could not install %s into the guest disk: %s" % (GUEST_INIT, check.stdout[-300:]))
    return used


def _size(root: Path) -> int:
    """Bytes the root's files take (blocks, not lengths), links not followed."""
    total = 0
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
            except OSError:
                pass
    return total


def _tool(argv: list[str], what: str) -> None:
    argv = [_which(argv[0]) or argv[0]] + argv[1:]
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", timeout=_TOOL_TIMEOUT)
    if done.returncode != 0:
        last = [line for line in done.stdout.splitlines() if line.strip()][-1:] or ["no output"]
        raise MigbenchError("%s failed (exit %d: %s)" % (what, done.returncode, last[0][:200]))


def _which(tool: str) -> str | None:
    """e2fsprogs lives in /sbin, which a non-root PATH often lacks."""
    return shutil.which(tool) or next((p for p in ("/usr/sbin/" + tool, "/sbin/" + tool) if os.path.exists(p)), None)


def _load(place: Path) -> GuestImage | None:
    try:
        details = json.loads((place / MARKER).read_text())
    except (OSError, ValueError):
        return None
    files = [place / name for name in ("kernel", "initrd", "disk.img")]
    if not all(path.is_file() for path in files):
        return None
    return GuestImage(files[0], files[1], files[2], place.name[len("vm-"):], details)
