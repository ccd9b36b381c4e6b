"""`migbench vm`: the QEMU guest `--limiter vm` runs children in (the 2015 setup: CAP of RAM, no swap).

`vm build` builds (or finds) the guest image under the cache: a debootstrapped
Debian root with its kernel (first time: a few minutes), then the kernel, a
small initramfs and an ext4 disk made from it (a few seconds). It also says
whether guests run on KVM or TCG here. `vm info` shows what is built, without
building. `vm boot-test` boots one guest with --memory of RAM and reports what
it saw and what it cost. The limiter builds what it needs on first use; these
commands do it ahead of time and show it.

Side effects: build debootstraps the root (first time, as root) and writes the
image under <cache>/guests; build and boot-test may boot a short KVM probe
guest; boot-test boots one guest with a scratch directory it removes.
"""

from __future__ import annotations

# A CPU-bound loop timed on the host and in the guest: the guest's slowdown.
_LOOP = ("import platform, time\nt = time.perf_counter()\ns = 0\nfor i in range(2000000):\n    s += i\n"
         "print('%.3f %s' % (time.perf_counter() - t, platform.python_version()))\n")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("vm", help="build, show or boot-test the QEMU guest of --limiter vm")
    verbs = parser.add_subparsers(metavar="VERB")
    build = verbs.add_parser("build", help="build (or reuse) the guest image and say KVM or TCG")
    build.set_defaults(verb=handle_build)
    info = verbs.add_parser("info", help="show the guest image, QEMU and the KVM/TCG verdict, building nothing")
    info.set_defaults(verb=handle_info)
    test = verbs.add_parser("boot-test", help="boot one guest: its RAM, swap, kernel, boot time and slowdown")
    test.add_argument("--memory", default="512M", help="the guest's RAM (default: 512M, the 2015 VM's)")
    test.add_argument("--timeout", default="5m", help="stop a guest still running after this (default: 5m)")
    test.set_defaults(verb=handle_boot_test)
    parser.set_defaults(handler=handle, verb=None, usage=parser.format_help)


def handle(args) -> int:
    """Run the VERB given; without one, print the usage (exit status 2)."""
    if args.verb is None:
        print(args.usage(), end="")
        return 2
    return args.verb(args)


def _require_qemu() -> None:
    from migbench.bench.guests import vm
    from migbench.errors import MigbenchError

    reason = vm.unavailable()
    if reason:
        raise MigbenchError(reason)


def handle_build(args) -> int:
    import time

    from migbench.bench.guests import rootfs, vm

    _require_qemu()
    started = time.monotonic()
    had_root = rootfs.find("vm") is not None
    root = rootfs.ensure("vm")
    if not had_root:
        print("root    %s (debootstrapped in %.0f s)" % (root, time.monotonic() - started))
    image = vm.ensure_guest_image(root)
    _show_image(image)
    how = "built in %.1f s" % image.details.get("build_seconds", 0) if image.built_now else "cached"
    print("ready   %s (%s)" % (image.disk.parent, how))
    name, why = vm.accel(image)
    print("accel   %s: %s" % (name, why))
    return 0


def handle_info(args) -> int:
    import subprocess

    from migbench.bench.env import environments
    from migbench.bench.guests import rootfs, vm

    binary = vm.qemu_binary()
    if binary:
        version = subprocess.run([binary, "--version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True, errors="replace").stdout.splitlines()
        print("qemu    %s (%s)" % (binary, version[0] if version else "version unknown"))
    else:
        print("qemu    %s" % vm.unavailable())
    root = rootfs.find("vm")
    print("root    %s" % (root or "not built yet (`migbench vm build` debootstraps it, as root)"))
    image = vm.find_guest_image(root) if root else None
    if image is None:
        print("image   not built yet under %s: `migbench vm build`" % (environments.cache_root() / "guests"))
    else:
        _show_image(image)
    found = vm.cached_accel()
    print("accel   %s" % ("%s: %s" % found if found else "not probed since this host booted (probed on first use)"))
    return 0


def handle_boot_test(args) -> int:
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from migbench.bench.guests import vm
    from migbench.units import format_size, mib, parse_cap, parse_duration

    memory = parse_cap(args.memory)
    if memory is None:
        from migbench.errors import MigbenchError

        raise MigbenchError("--memory: a guest needs RAM; give e.g. 512M")
    timeout = parse_duration(args.timeout, "--timeout") or 3600.0
    _require_qemu()
    image = vm.ensure_guest_image()
    name, why = vm.accel(image)
    print("accel   %s: %s" % (name, why))
    host = subprocess.run([sys.executable, "-c", _LOOP], stdout=subprocess.PIPE, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="migbench-vm-boot-test-") as scratch:
        run, wall = vm.boot(Path(scratch), argv=["/usr/bin/python3", "-c", _LOOP], memory_bytes=memory,
                            image=image, accel_name=name, timeout=timeout)
    guest = run.guest
    print("guest   %s of RAM: MemTotal %s, swap %s, kernel %s, overcommit_memory %s" % (
        format_size(memory), mib(guest.get("mem_total_bytes")), mib(guest.get("swap_total_bytes")),
        guest.get("kernel", "?"), guest.get("overcommit_memory", "?")))
    if run.exit_status != 0:
        print("failed  %s" % (run.why or "the loop exited with status %s: %s" % (run.exit_status, run.stderr[-300:])))
        return 1
    loop, guest_python = run.stdout.split()[-2:]
    host_loop, host_python = host.split()[-2:]
    print("boot    %.1f s from kernel start to the command; %.1f s on the host from QEMU start to power-off"
          % (run.boot_seconds or 0, wall))
    print("speed   a Python loop took %.2f s in the guest (Python %s), %.2f s on the host (Python %s): %.0fx"
          % (float(loop), guest_python, float(host_loop), host_python, float(loop) / max(float(host_loop), 1e-6)))
    return 0


def _show_image(image) -> None:
    from migbench.units import mib

    details = image.details
    print("image   %s: kernel %s (%s), initrd %s, disk %s (%s of files), built %s" % (
        image.digest, details.get("kernel", "?"), details.get("kernel_boot", "?"), mib(details.get("initrd_bytes")),
        mib(details.get("disk_bytes")), mib(details.get("root_bytes")), _when(details.get("built_at"))))


def _when(stamp) -> str:
    import time

    if not isinstance(stamp, (int, float)):
        return "at an unknown time"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))
