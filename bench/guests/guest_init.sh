#!/bin/sh
# migbench's guest init (PID 1 of the VM limiter's QEMU guest, installed as /sbin/migbench-init).
#
# The guest runs one job and powers off. The host wrote the job into a directory
# shared as the 9p tag "job" (bench/guests/vm.py: write_job): `mounts` (tag, ro|rw,
# host path per line), `run.sh` (the command with its environment and directory).
# Every file this script writes goes back into that directory, where read_job
# finds it: guest.json (what the guest is: RAM, swap, kernel, overcommit), stdout.txt
# and stderr.txt (the command's), result.json (its exit status, when it started and
# ended, seconds since the guest kernel started), kmsg.txt (the guest kernel's log:
# its OOM kills), init-error.txt (why the command could not run).
#
# Nothing is tuned: no swap, the kernel's overcommit defaults, as the 2015 VM had.
# /tmp stays on the disk (as on Debian of that time), not on a tmpfs that would eat
# the guest's RAM; the disk is a QEMU -snapshot overlay, so writes vanish at power-off.

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
JOB=/run/migbench-job
MSIZE=262144

say() {
    echo "migbench-init: $*"
}

power_off() {
    sync
    echo o > /proc/sysrq-trigger
    sleep 30
    exit 1  # not powered off: PID 1 exiting panics the kernel, and QEMU (-no-reboot) stops
}

fail() {
    say "$*"
    [ -d "$JOB" ] && echo "$*" > "$JOB/init-error.txt"
    power_off
}

# The initramfs (bench/guests/initramfs.py) mounted these already; another initrd may not have.
[ -e /proc/mounts ] || mount -t proc proc /proc
[ -b /dev/vda ] || mount -t devtmpfs devtmpfs /dev
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
grep -q " /run " /proc/mounts || mount -t tmpfs -o mode=0755,size=8m tmpfs /run
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777,size=16m tmpfs /dev/shm
chmod 1777 /tmp
[ -d /sys/module/9pnet_virtio ] || modprobe -q 9pnet_virtio
[ -d /sys/module/9p ] || modprobe -q 9p

mkdir -p "$JOB"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=$MSIZE job "$JOB" || fail "cannot mount the job share (9p tag job)"
[ -f "$JOB/mounts" ] && [ -f "$JOB/run.sh" ] || fail "the job share has no mounts or run.sh"

# Each share at its host path, parents first (write_job sorted them); the job directory
# itself is bound from where it was mounted above.
while IFS='	' read -r tag mode path; do
    [ -n "$tag" ] || continue
    [ -d "$path" ] || mkdir -p "$path" || fail "cannot make the mount point $path"
    if [ "$tag" = job ]; then
        mount --bind "$JOB" "$path" || fail "cannot bind the job directory at $path"
    else
        options=trans=virtio,version=9p2000.L,msize=$MSIZE,$mode
        [ "$mode" = ro ] && options=$options,cache=loose
        mount -t 9p -o "$options" "$tag" "$path" || fail "cannot mount share $tag ($mode) at $path"
    fi
done < "$JOB/mounts"

meminfo() {
    while read -r key value unit; do
        [ "$key" = "$1:" ] && echo $((value * 1024)) && return
    done < /proc/meminfo
    echo null
}
read -r started idle < /proc/uptime
printf '{"mem_total_bytes": %s, "mem_available_bytes": %s, "swap_total_bytes": %s, "kernel": "%s", "overcommit_memory": %s, "overcommit_ratio": %s, "nproc": %s, "uptime_at_command": %s}\n' \
    "$(meminfo MemTotal)" "$(meminfo MemAvailable)" "$(meminfo SwapTotal)" "$(uname -r)" \
    "$(cat /proc/sys/vm/overcommit_memory)" "$(cat /proc/sys/vm/overcommit_ratio)" "$(nproc)" \
    "$started" > "$JOB/guest.json"

say "command started"
cd /
sh "$JOB/run.sh" < /dev/null > "$JOB/stdout.txt" 2> "$JOB/stderr.txt"
status=$?
read -r ended idle < /proc/uptime
say "command exited with status $status"
dmesg > "$JOB/kmsg.txt" 2>&1
printf '{"exit_status": %s, "started": %s, "ended": %s}\n' "$status" "$started" "$ended" > "$JOB/result.json.part"
mv "$JOB/result.json.part" "$JOB/result.json"
power_off
