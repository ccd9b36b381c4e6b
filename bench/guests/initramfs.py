"""The guest's initramfs: the few kernel modules and binaries that mount its disk, nothing else.

Debian's own initrd (initramfs-tools, MODULES=most) is 35 MB and runs udev: under
TCG it costs ~5 s of every boot (unpacking, then udev settling) before the real
init starts, and the VM limiter boots once per step. The guest only ever has a
virtio disk and virtio 9p shares, so this one loads exactly their modules with
insmod, mounts /dev/vda and switch_roots into it: ~13 MB (5 MB gzipped) and ~1.5 s.

Everything in it comes from the guest's own root (its kmod, mount, switch_root,
dash and their shared libraries, found by reading each ELF's DT_NEEDED entries),
so it matches the root's kernel and libc whatever the host has. switch_root
empties the initramfs, so the guest's RAM holds none of it once the command runs.

Side effects: none; build() reads the root and returns bytes.
"""

from __future__ import annotations

import gzip
import stat
import struct
from pathlib import Path

from migbench.errors import MigbenchError

# Modules loaded in this order's dependency closure: the disk (virtio_pci, virtio_blk,
# ext4 with the crc32c its metadata checksums need) and the 9p shares.
MODULES = ("crc32c_generic", "virtio_pci", "virtio_blk", "ext4", "9pnet_virtio", "9p")
# Guest-root binaries the init below runs (insmod and the others are links to them).
BINARIES = ("usr/bin/dash", "usr/bin/kmod", "usr/bin/mount", "usr/sbin/switch_root", "usr/bin/sleep")
_LOADER = "lib64/ld-linux-x86-64.so.2"
_LIBRARY_DIRS = ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib", "lib")

# /init: load the modules, wait for the disk, mount it, and hand over to the guest's init
# (bench/guests/guest_init.sh, installed in the disk as /sbin/migbench-init); switch_root moves
# /dev, /proc, /sys and /run along and frees every file of the initramfs. Exiting here
# panics the kernel, which (panic=-1, -no-reboot) stops QEMU with the message on the console.
INIT = """#!/bin/sh
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755,size=8m tmpfs /run
for module in %(modules)s; do
    insmod /modules/$module || echo "migbench-initramfs: insmod $module failed"
done
tries=0
while [ ! -b /dev/vda ] && [ $tries -lt 200 ]; do sleep 0.05; tries=$((tries + 1)); done
if ! mount -t ext4 -o rw /dev/vda /root; then
    echo "migbench-initramfs: cannot mount the guest disk /dev/vda"
    exit 1
fi
exec switch_root /root /sbin/migbench-init
"""


def recipe() -> str:
    """What the initramfs is made of, for the guest image's digest."""
    return "\n".join(MODULES + BINARIES) + INIT


def build(root: Path, release: str) -> tuple[bytes, list[str]]:
    """The gzipped cpio for kernel `release` of `root`, and the modules it loads in order."""
    modules = module_order(root / "lib/modules" / release)
    files = _closure(root)
    entries: list[tuple[str, int, bytes]] = []
    folders = {"bin", "dev", "proc", "root", "modules", "sys", "run"}
    for name in files:
        parts = name.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    entries += [(name, stat.S_IFDIR | 0o755, b"") for name in sorted(folders)]
    files_of_modules = " ".join(Path(module).name for module in modules)
    entries.append(("init", stat.S_IFREG | 0o755, (INIT % {"modules": files_of_modules}).encode()))
    entries += [(name, stat.S_IFREG | 0o755, (root / name).read_bytes()) for name in sorted(files)]
    links = {Path(binary).name: "/" + binary for binary in BINARIES}
    links.update(sh="/usr/bin/dash", insmod="/usr/bin/kmod")
    entries += [("bin/" + name, stat.S_IFLNK | 0o777, target.encode()) for name, target in sorted(links.items())]
    entries += [("modules/" + Path(module).name, stat.S_IFREG | 0o644,
                 (root / "lib/modules" / release / module).read_bytes()) for module in modules]
    return gzip.compress(_cpio(entries), 6), [_stem(module) for module in modules]


def module_order(folder: Path) -> list[str]:
    """MODULES and their dependencies (paths relative to `folder`), each after what it needs."""
    try:
        text = (folder / "modules.dep").read_text()
    except OSError as error:
        raise MigbenchError("the guest root has no kernel modules list (%s): rebuild it with "
                            "`migbench vm build`" % error) from None
    depends = {}
    for line in text.splitlines():
        module, _, needs = line.partition(":")
        depends[_stem(module)] = (module, needs.split())
    order: list[str] = []

    def add(name: str) -> None:
        if name not in depends:
            raise MigbenchError("the guest kernel has no module %s (%s): its initramfs cannot mount the "
                                "disk" % (name, folder))
        module, needs = depends[name]
        for need in reversed(needs):  # modules.dep lists what loads last first
            add(_stem(need))
        if module not in order:
            order.append(module)

    for name in MODULES:
        add(name)
    return order


def needed(data: bytes) -> list[str]:
    """The DT_NEEDED sonames of a 64-bit little-endian ELF file's dynamic section."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    section_offset, = struct.unpack_from("<Q", data, 0x28)
    entry_size, count = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, section_offset + i * entry_size) for i in range(count)]
    names = []
    for _, kind, _, _, offset, size, link, _, _, _ in sections:
        if kind != 6:  # SHT_DYNAMIC; its sh_link is the string table
            continue
        strings = sections[link][4]
        for at in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", data, at)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                start = strings + value
                names.append(data[start:data.index(b"\0", start)].decode())
    return names


def _closure(root: Path) -> list[str]:
    """BINARIES, the loader and every shared library they need, as paths relative to `root`."""
    found, todo = {_LOADER}, list(BINARIES)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        try:
            sonames = needed((root / name).read_bytes())
        except (OSError, ValueError) as error:
            raise MigbenchError("the guest root's %s is unusable (%s): rebuild it" % (name, error)) from None
        for soname in sonames:
            place = next((d + "/" + soname for d in _LIBRARY_DIRS if (root / d / soname).exists()), None)
            if place is None:
                raise MigbenchError("the guest root lacks %s, which its %s needs" % (soname, name))
            todo.append(place)
    return sorted(found)


def _cpio(entries: list[tuple[str, int, bytes]]) -> bytes:
    """The "newc" cpio archive the kernel unpacks: a hex header, the name, the data, 4-aligned."""
    out = bytearray()
    for number, (name, mode, data) in enumerate(entries + [("TRAILER!!!", 0, b"")], 1):
        encoded = name.encode() + b"\0"
        fields = (number, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0)
        out += b"070701" + b"".join(b"%08X" % value for value in fields) + encoded
        out += bytes(-len(out) % 4) + data
        out += bytes(-len(out) % 4)
    return bytes(out)


def _stem(module: str) -> str:
    """kernel/fs/ext4/ext4.ko -> ext4 (module names use _ where files may use -)."""
    name = Path(module).name
    for suffix in (".xz", ".zst", ".gz"):
        name = name.removesuffix(suffix)
    return name.removesuffix(".ko").replace("-", "_")
