"""The Vagrantfile and its provisioning, checked as far as a machine without a VM can.

No VM boots here (no VirtualBox; /dev/kvm does not boot guests), so docs/vagrant.md's claims are
checked piece by piece. Vagrant itself validates the Vagrantfile for both providers. A stand-in for
Vagrant's config object records what the file sets for given MIGBENCH_VM_* values. The
provisioning script is valid shell, and its no-swap step is run against a copy of fstab. And the
commands the docs give are ones migbench accepts.

Every `vagrant` run works on a copy of the Vagrantfile in a temporary directory with its own
VAGRANT_HOME: `vagrant validate` writes .vagrant/ beside the Vagrantfile and its state into
VAGRANT_HOME, and neither may land in the checkout or in ~/.vagrant.d.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VAGRANTFILE = ROOT / "Vagrantfile"
PROVISION = ROOT / "vagrant" / "provision.sh"
DOC = ROOT / "docs" / "vagrant.md"
MiB = 2**20

# `vagrant validate` asks VirtualBox only its version, and the host only whether it has nfsd;
# these stand-ins answer that, so the providers' real config validation runs without either.
STUBS = {
    "VBoxManage": "#!/bin/sh\necho 7.0.14r161095\n",
    "modinfo": "#!/bin/sh\nexit 0\n",
}
MISSPELT = "no_such_setting"
# name: (provider, sync, extra environment, text to insert after the provider's cpus line)
VALIDATIONS = {
    "virtualbox-rsync": ("virtualbox", "rsync", {}, None),
    "virtualbox-nfs": ("virtualbox", "nfs", {"MIGBENCH_VM_MEMORY": "768"}, None),
    "libvirt-rsync": ("libvirt", "rsync", {}, None),
    "libvirt-nfs": ("libvirt", "nfs", {"MIGBENCH_VM_MEMORY": "2G", "MIGBENCH_VM_CPUS": "2",
                                        "MIGBENCH_VM_PYENV": "2.7.18 3.11.7"}, None),
    "virtualbox-misspelt": ("virtualbox", "rsync", {}, "vb.%s = 1" % MISSPELT),
    "libvirt-misspelt": ("libvirt", "rsync", {}, "lv.%s = 1" % MISSPELT),
}


def tool_or_skip(name: str) -> str:
    """The path of `name`, else skip; under CI=true fail (.ci/run installs vagrant)."""
    path = shutil.which(name)
    if not path:
        why = "%s is not installed (Debian: apt-get install vagrant vagrant-libvirt)" % name
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide %s" % why)
        pytest.skip(why)
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """The environment minus the caller's Vagrant and VM settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAGRANT_", "MIGBENCH_VM_"))}
    env.update(extra)
    return env


# -- vagrant validate --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validations(tmp_path_factory):
    """Every case of VALIDATIONS validated by Vagrant at once (each run takes ~2 s, mostly start-up)."""
    vagrant = tool_or_skip("vagrant")
    base = tmp_path_factory.mktemp("vagrant")
    stubs = base / "stubs"
    stubs.mkdir()
    for name, text in STUBS.items():
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    running = {}
    for case, (provider, sync, extra, insert) in VALIDATIONS.items():
        work = base / case
        (work / "vagrant").mkdir(parents=True)
        text = VAGRANTFILE.read_text()
        if insert:
            line = "%s.cpus = cpus" % insert.split(".")[0]
            assert line in text
            text = text.replace(line, "%s\n    %s" % (line, insert))
        (work / "Vagrantfile").write_text(text)
        shutil.copy2(PROVISION, work / "vagrant" / "provision.sh")
        env = clean_env(VAGRANT_HOME=str(work / "home"), VAGRANT_CHECKPOINT_DISABLE="1",
                        VAGRANT_DEFAULT_PROVIDER=provider, MIGBENCH_VM_SYNC=sync,
                        PATH="%s%s%s" % (stubs, os.pathsep, os.environ.get("PATH", "")), **extra)
        running[case] = (work, subprocess.Popen([vagrant, "validate"], cwd=work, env=env, text=True,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    results = {}
    for case, (work, proc) in running.items():
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        results[case] = (proc.returncode, out + err, work)
    return results


def validated(validations, case: str) -> tuple[int, str, Path]:
    status, output, work = validations[case]
    if "The provider 'libvirt' could not be found" in output:
        why = "the vagrant-libvirt plugin is not installed (Debian: apt-get install vagrant-libvirt)"
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide the libvirt provider: %s" % why)
        pytest.skip(why)
    if "doesn't support NFS" in output:
        pytest.skip("this host has no NFS server Vagrant recognises (systemd without nfs-server): %s"
                    % output.strip().splitlines()[0])
    return status, output, work


@pytest.mark.e2e
@pytest.mark.xdist_group("vagrant")
@pytest.mark.parametrize("case", [c for c, spec in VALIDATIONS.items() if spec[3] is None])
def test_vagrant_validate_passes(validations, case):
    status, output, work = validated(validations, case)
    assert status == 0, output
    assert "Vagrantfile validated successfully." in output
    # Vagrant's state went where it was told: beside the copy and into the temporary VAGRANT_HOME.
    assert (work / ".vagrant").is_dir() and any((work / "home").iterdir())


@pytest.mark.e2e
@pytest.mark.xdist_group("vagrant")
@pytest.mark.parametrize("case", [c for c, spec in VALIDATIONS.items() if spec[3] is not None])
def test_vagrant_validate_checks_the_provider_settings(validations, case):
    """A misspelt setting in the provider's block fails: the provider's config class is really loaded
    (without its plugin, Vagrant accepts any setting in a provider block)."""
    status, output, _ = validated(validations, case)
    assert status != 0
    assert MISSPELT in output and "shouldn't exist" in output, output


# -- what the Vagrantfile sets, recorded -------------------------------------------------------

# Stands in for Vagrant: records each setting and call of the config object, and runs provider
# blocks with a recorder for the provider and one for `override`.
RECORDER = r"""
require "json"

class Recorder
  def initialize(path, log)
    @path = path
    @log = log
  end

  def method_missing(name, *args, **options, &block)
    path = @path + [name.to_s]
    if name.to_s.end_with?("=")
      @log << { "call" => path.join("."), "args" => args }
      return args.first
    end
    return Recorder.new(path, @log) if args.empty? && options.empty? && block.nil?
    @log << { "call" => path.join("."), "args" => args, "options" => options }
    block&.call(Recorder.new(path + [args.first.to_s], @log), Recorder.new(["override"], @log))
    nil
  end

  def respond_to_missing?(*)
    true
  end
end

module Vagrant
  def self.configure(version)
    log = []
    yield Recorder.new(["config"], log)
    puts JSON.generate(log)
  end
end

load ARGV.fetch(0)
"""


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    ruby = tool_or_skip("ruby")
    script = tmp_path_factory.mktemp("recorder") / "record.rb"
    script.write_text(RECORDER)

    def run(**settings: str) -> subprocess.CompletedProcess:
        return subprocess.run([ruby, str(script), str(VAGRANTFILE)], env=clean_env(**settings), text=True,
                              capture_output=True, timeout=30)

    return run


def settings_of(record, **settings: str) -> dict[str, list]:
    proc = record(**settings)
    assert proc.returncode == 0, proc.stderr
    calls: dict[str, list] = {}
    for call in json.loads(proc.stdout):
        calls.setdefault(call["call"], []).append((call["args"], call.get("options")))
    return calls


def test_defaults_are_the_2015_vm(record):
    calls = settings_of(record)
    assert calls["config.vm.box="] == [(["debian/bookworm64"], None)]
    for provider in ("virtualbox", "libvirt"):
        assert calls["config.vm.provider.%s.memory=" % provider] == [([512], None)]
        assert calls["config.vm.provider.%s.cpus=" % provider] == [([1], None)]
    assert calls["config.vm.provider.libvirt.memballoon_enabled="] == [([False], None)]
    folders = {args[1]: options for args, options in calls["config.vm.synced_folder"]}
    assert folders["/vagrant"] == {"disabled": True}
    assert folders["/migbench"]["type"] == "rsync"
    assert "/.git/" not in folders["/migbench"]["rsync__exclude"]  # records name the commit
    assert "override.vm.network" not in calls  # no host-only network without nfs


def test_provisioners_run_in_order_as_the_right_users(record):
    provisioners = [(args[0], options) for args, options in settings_of(record)["config.vm.provision"]]
    assert [name for name, _ in provisioners] == ["no-swap", "system", "envs"]
    for _, options in provisioners:
        assert options["type"] == "shell" and options["path"] == "vagrant/provision.sh"
        assert (ROOT / options["path"]).is_file()
    by_name = dict(provisioners)
    assert by_name["no-swap"]["run"] == "always" and by_name["no-swap"]["args"] == ["no-swap"]
    assert by_name["system"]["args"] == ["system", "2.7.18"]
    assert by_name["envs"]["privileged"] is False  # the environments go in the login user's cache


@pytest.mark.parametrize("value, megabytes", [("512", 512), ("768M", 768), ("2G", 2048), ("2g", 2048),
                                              (" 1024 ", 1024), ("", 512)])
def test_vm_memory_is_the_parameter(record, value, megabytes):
    calls = settings_of(record, MIGBENCH_VM_MEMORY=value)
    assert calls["config.vm.provider.virtualbox.memory="] == [([megabytes], None)]
    assert calls["config.vm.provider.libvirt.memory="] == [([megabytes], None)]


def test_other_settings(record):
    calls = settings_of(record, MIGBENCH_VM_CPUS="2", MIGBENCH_VM_BOX="bento/debian-12", MIGBENCH_VM_SYNC="nfs",
                        MIGBENCH_VM_PYENV="2.7.18, 3.11.7")
    assert calls["config.vm.provider.libvirt.cpus="] == [([2], None)]
    assert calls["config.vm.box="] == [(["bento/debian-12"], None)]
    folders = {args[1]: options for args, options in calls["config.vm.synced_folder"]}
    assert folders["/migbench"] == {"type": "nfs", "nfs_version": 4, "nfs_udp": False}
    assert calls["override.vm.network"] == [(["private_network"], {"type": "dhcp"})]
    system = [options for args, options in calls["config.vm.provision"] if args[0] == "system"]
    assert system[0]["args"] == ["system", "2.7.18", "3.11.7"]


@pytest.mark.parametrize("name, value", [
    ("MIGBENCH_VM_MEMORY", "lots"), ("MIGBENCH_VM_MEMORY", "64"), ("MIGBENCH_VM_MEMORY", "1.5G"),
    ("MIGBENCH_VM_MEMORY", "512K"), ("MIGBENCH_VM_CPUS", "0"), ("MIGBENCH_VM_CPUS", "17"),
    ("MIGBENCH_VM_SYNC", "smb"), ("MIGBENCH_VM_PYENV", "2.7"),
])
def test_bad_settings_are_one_line(record, name, value):
    proc = record(**{name: value})
    assert proc.returncode != 0 and not proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("%s=%s: " % (name, value)), proc.stderr


def test_settings_are_documented_with_their_defaults():
    read = dict(re.findall(r'migbench_setting\("(MIGBENCH_VM_\w+)", "([^"]*)"\)', VAGRANTFILE.read_text()))
    documented = dict(re.findall(r"^\| `(MIGBENCH_VM_\w+)` \| `([^`]*)` \|", DOC.read_text(), re.M))
    assert read and documented == read
    header = VAGRANTFILE.read_text().split("\ndef ")[0]
    assert all(name in header for name in read)


# -- the provisioning script ---------------------------------------------------------------------


def test_provision_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(PROVISION)], check=True, timeout=30)
    assert os.access(PROVISION, os.X_OK)


def test_provision_script_refuses_an_unknown_step():
    proc = subprocess.run(["bash", str(PROVISION), "reboot"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "usage:" in proc.stderr


def no_swap(tmp_path: Path, swaps: str) -> tuple[subprocess.CompletedProcess, Path, str]:
    """provision.sh no-swap against a copy of fstab and /proc/swaps, with swapoff and systemctl
    stand-ins that log their calls (systemd knows one swap unit)."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    log = tmp_path / "calls"
    (stubs / "swapoff").write_text('#!/bin/sh\necho "swapoff $*" >> %s\n' % log)
    (stubs / "systemctl").write_text(
        '#!/bin/sh\necho "systemctl $*" >> %s\n'
        'if [ "$1" = list-units ]; then echo "dev-sda5.swap loaded active active /dev/sda5"; fi\n' % log)
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    fstab = tmp_path / "fstab"
    fstab.write_text("UUID=abc / ext4 errors=remount-ro 0 1\n"
                     "# swap was on /dev/sda5 during installation\n"
                     "UUID=def none            swap    sw              0       0\n"
                     "/swapfile\tnone\tswap\tdefaults\t0\t0\n")
    (tmp_path / "swaps").write_text(swaps)
    proc = subprocess.run(
        ["bash", str(PROVISION), "no-swap"], capture_output=True, text=True, timeout=30,
        env=clean_env(PATH="%s%s%s" % (stubs, os.pathsep, os.environ.get("PATH", "")),
                      MIGBENCH_VM_FSTAB=str(fstab), MIGBENCH_VM_SWAPS=str(tmp_path / "swaps")))
    return proc, fstab, log.read_text() if log.exists() else ""


SWAPS_HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"


def test_no_swap_turns_swap_off_for_good(tmp_path):
    proc, fstab, calls = no_swap(tmp_path, SWAPS_HEADER)
    assert proc.returncode == 0, proc.stderr
    lines = fstab.read_text().splitlines()
    assert lines[0] == "UUID=abc / ext4 errors=remount-ro 0 1"
    assert lines[1] == "# swap was on /dev/sda5 during installation"
    assert lines[2].startswith("#migbench-no-swap# UUID=def") and lines[3].startswith("#migbench-no-swap# /swapfile")
    assert "swapoff -a" in calls and "systemctl mask --now dev-sda5.swap" in calls
    assert "no swap." in proc.stdout and "SwapTotal:" in proc.stdout and "overcommit_memory" in proc.stdout


def test_no_swap_fails_when_swap_stays_on(tmp_path):
    proc, _, _ = no_swap(tmp_path, SWAPS_HEADER + "/dev/sda5\tpartition\t1046524\t0\t-2\n")
    assert proc.returncode == 1
    assert "swap is still on" in proc.stderr and "/dev/sda5" in proc.stderr


def apt_packages() -> list[str]:
    command = re.search(r"apt-get install -y -q --no-install-recommends \\\n(.*?)\n\n", PROVISION.read_text(),
                        re.S).group(1)
    return command.replace("\\", " ").split()


def test_provisioning_installs_what_the_docs_say():
    text = PROVISION.read_text()
    packages = apt_packages()
    assert {"python3", "python3-venv", "git", "build-essential", "libsqlite3-dev", "libssl-dev"} <= set(packages)
    doc = DOC.read_text()
    assert all("`%s`" % package in doc for package in packages)
    assert 'pyenv" install --skip-existing "$version"' in text and "pyenv install 2.7.18" in doc
    assert 'pip" install -q --disable-pip-version-check -e "$CHECKOUT"' in text
    assert "migbench envs --create 1.8,1.9 --python 2.7" in text and "migbench envs --create 1.8,1.9 --python 2.7" in doc


def test_every_package_exists_in_debian_12():
    """The box is Debian 12: every package the provisioning installs must exist there (checked
    against this host's apt lists when it is Debian 12 too)."""
    release = Path("/etc/os-release")
    if not shutil.which("apt-cache") or not release.exists() or "VERSION_CODENAME=bookworm" not in release.read_text():
        pytest.skip("needs apt-cache on Debian 12 (bookworm), the box's release")
    if not list(Path("/var/lib/apt/lists").glob("*bookworm*_Packages*")):
        pytest.skip("no apt lists for bookworm here (apt-get update)")
    packages = apt_packages()
    shown = subprocess.run(["apt-cache", "show", "--no-all-versions", *packages], capture_output=True, text=True,
                           timeout=60).stdout
    found = set(re.findall(r"^Package: (\S+)$", shown, re.M))
    assert set(packages) - found == set()


# -- the documented commands ---------------------------------------------------------------------


def documented_runs() -> list[str]:
    commands = []
    for path in (DOC, VAGRANTFILE):
        commands += re.findall(r"vagrant ssh -c '(migbench run [^']+)'", path.read_text())
    return commands


def test_documented_commands_are_valid():
    from migbench.bench.run.options import resolve_options
    from migbench.cli import build_parser
    from migbench.generator import resolve_scenario

    commands = documented_runs()
    assert len(commands) >= 3  # the Vagrantfile's, and segfault-2015 and tester-2015 in the docs
    scenarios = set()
    for command in commands:
        argv = shlex.split(command)
        args = build_parser().parse_args(argv[1:])
        scenario = resolve_scenario(args.scenario)
        scenarios.add(scenario.name)
        cli = {k: getattr(args, k) for k in ("django", "python", "memory", "strategy", "repeat", "database",
                                              "limiter", "timeout", "interval")}
        options = resolve_options(cli, scenario.run, scenario.source)
        assert options.limiter == "none" and options.memories == (None,), command  # the VM is the cap
        assert options.djangos == ("1.8", "1.9") and options.pythons == ("2.7",), command
        assert args.out.startswith("~/results/"), command  # the guest's disk: rsync deletes the rest
    assert scenarios == {"segfault-2015", "tester-2015"}
