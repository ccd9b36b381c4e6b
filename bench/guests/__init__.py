"""Where a measured child runs when it is not on the host: containers and virtual machines.

The 2015 failure happened inside a 512 MB VM; today's teams hit theirs inside CI
containers. A host cgroup caps the same bytes but not the same world: a guest
kernel with its own overcommit rules, or a container runtime with its own
cgroup, decides what the child sees (an OOM kill, a MemoryError, a segfault).
This package builds and caches those worlds; the limiters that run a child in
them are bench/measure/limiters/container.py and vm.py.

    rootfs    Debian root filesystems made with debootstrap, cached (no registry needed)
    runtime   docker and podman: is there one, how to run, remove and inspect a container
    images    container images per (Python, Django) environment, cached in the runtime's store
    vm        the QEMU guest: its image (kernel, initrd, disk), its argv, the job it runs

Side effects: building writes under <cache>/guests and into the container
runtime's image store; nothing here starts a measured child.
"""
