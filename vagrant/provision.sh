#!/usr/bin/env bash
# Provisioning of the migbench VM (the Vagrantfile next door; docs/vagrant.md says why each step).
#
# One script, one step per Vagrant provisioner, so each runs as the user it needs:
#
#   provision.sh no-swap            root, on every `vagrant up`: swap off now and after reboots, and
#                                   fail if any is left (the 2015 VM had none: over its memory a
#                                   process meets the OOM killer, never the disk)
#   provision.sh system VERSION...  root, once: build tools, pyenv + Python VERSION... (2.7.18: Debian
#                                   no longer packages Python 2), migbench in a venv of the system's
#                                   python3 (migbench needs 3.10+)
#   provision.sh envs               the login user, once: builds migbench's cached environments for
#                                   Django 1.8 and 1.9 on Python 2.7 and on python3, which proves
#                                   `migbench envs` finds both interpreters (it fails loudly if not)
#
# Re-run them with `vagrant provision` (all) or `vagrant provision --provision-with system` (one).
set -euo pipefail

CHECKOUT=/migbench          # the synced folder (Vagrantfile)
PYENV_ROOT=/opt/pyenv       # pyenv, shared by every user of the VM
VENV=/opt/migbench          # migbench itself
PYENV_GIT=https://github.com/pyenv/pyenv.git
# The files no-swap edits and reads; the tests point them at copies (tests/test_vagrantfile.py).
FSTAB=${MIGBENCH_VM_FSTAB:-/etc/fstab}
SWAPS=${MIGBENCH_VM_SWAPS:-/proc/swaps}

say() { printf 'migbench-vm: %s\n' "$*"; }

memory_report() {
    # The numbers the records' host block repeats (ram_bytes, swap_bytes): what the guest kernel sees.
    awk '/^(MemTotal|SwapTotal):/ { printf "%s %d MiB, ", $1, $2 / 1024 }' /proc/meminfo
    printf 'vm.overcommit_memory %s, %s CPU(s), kernel %s\n' \
        "$(cat /proc/sys/vm/overcommit_memory)" "$(nproc)" "$(uname -r)"
}

no_swap() {
    swapoff -a
    # Comment out swap lines in fstab, so a reboot does not bring swap back.
    sed -i -E 's/^([^#[:space:]][^[:space:]]*[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]].*)$/#migbench-no-swap# \1/' \
        "$FSTAB"
    # systemd can activate swap without fstab (a swap partition found by the GPT generator, zram
    # units): mask every swap unit it knows, so none starts again.
    local unit
    { systemctl list-units --type=swap --all --plain --no-legend 2>/dev/null || true; } | awk '{ print $1 }' |
        while read -r unit; do
            [ -z "$unit" ] || systemctl mask --now "$unit" >/dev/null 2>&1 || true
        done
    swapoff -a
    if [ "$(wc -l < "$SWAPS")" -gt 1 ]; then
        echo "migbench-vm: swap is still on ($SWAPS below); the 2015 VM had none" >&2
        cat "$SWAPS" >&2
        exit 1
    fi
    say "no swap. $(memory_report)"
}

system() {
    [ "$#" -gt 0 ] || set -- 2.7.18
    export DEBIAN_FRONTEND=noninteractive
    say "installing Debian packages (python3, venv, git, Python's build dependencies)"
    apt-get update -q
    # What pyenv's wiki lists for building CPython on Debian (no Tk: nothing here draws windows);
    # libsqlite3-dev matters most: Django's SQLite backend needs the _sqlite3 module.
    apt-get install -y -q --no-install-recommends \
        python3 python3-venv git ca-certificates curl rsync xz-utils \
        build-essential libssl-dev zlib1g-dev libbz2-dev libreadline-dev libsqlite3-dev \
        libffi-dev liblzma-dev libncurses-dev libgdbm-dev

    if [ ! -x "$PYENV_ROOT/bin/pyenv" ]; then
        say "cloning pyenv into $PYENV_ROOT"
        git clone --quiet --depth 1 "$PYENV_GIT" "$PYENV_ROOT"
    fi
    local version minor
    for version in "$@"; do
        say "pyenv install $version (a few minutes: compiled here, one job at a time)"
        # -j1: two compilers at once can need more than 512 MB, and there is no swap to fall back on.
        # TMPDIR on disk: /tmp may be a tmpfs, which is memory (Debian 13 makes it one).
        PYENV_ROOT="$PYENV_ROOT" MAKE_OPTS=-j1 TMPDIR=/var/tmp \
            "$PYENV_ROOT/bin/pyenv" install --skip-existing "$version"
        minor=$(printf '%s' "$version" | cut -d. -f1,2)
        # pythonX.Y on PATH as well: migbench finds it for any user, sudo included.
        ln -sfn "$PYENV_ROOT/versions/$version/bin/python$minor" "/usr/local/bin/python$minor"
    done
    # migbench's interpreter discovery reads $PYENV_ROOT: login shells (vagrant ssh, vagrant ssh -c)
    # get it from profile.d, other ssh sessions and sudo from /etc/environment (pam_env).
    printf 'export PYENV_ROOT=%s\n' "$PYENV_ROOT" > /etc/profile.d/migbench-pyenv.sh
    grep -q '^PYENV_ROOT=' /etc/environment || printf 'PYENV_ROOT=%s\n' "$PYENV_ROOT" >> /etc/environment

    if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
        echo "migbench-vm: migbench needs Python 3.10+, the box has $(python3 -V 2>&1); use a newer box" >&2
        exit 1
    fi
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    say "pip install -e $CHECKOUT into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/pip" install -q --disable-pip-version-check -e "$CHECKOUT"
    ln -sfn "$VENV/bin/migbench" /usr/local/bin/migbench
    # The records name migbench's commit (git rev-parse in the checkout); an NFS share belongs to the
    # host's uid, which git refuses as "dubious ownership" unless told the directory is safe.
    git config --system --get-all safe.directory | grep -qx "$CHECKOUT" ||
        git config --system --add safe.directory "$CHECKOUT"
    say "$("$VENV/bin/migbench" --version) in $VENV"
}

envs() {
    local python3_minor
    python3_minor=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    say "building migbench's environments: Django 1.8 and 1.9 on Python 2.7 and $python3_minor"
    migbench envs --create 1.8,1.9 --python 2.7
    migbench envs --create 1.8,1.9 --python "$python3_minor"
    migbench envs
}

step=${1:-}
[ "$#" -gt 0 ] && shift
case "$step" in
    no-swap) no_swap ;;
    system) system "$@" ;;
    envs) envs ;;
    *) echo "usage: $0 no-swap | system [PYENV_VERSION...] | envs" >&2; exit 2 ;;
esac
