"""The Vagrant path cannot run here (no VirtualBox), so check what can be checked:
the documented command is one migbench accepts, and the VM memory is the parameter."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from migbench.bench.run.options import resolve_options
from migbench.cli import build_parser
from migbench.generator import resolve_scenario

VAGRANTFILE = Path(__file__).resolve().parent.parent / "Vagrantfile"


def test_documented_command_is_valid():
    text = VAGRANTFILE.read_text()
    command = re.search(r"vagrant ssh -c '(.+?)'", text).group(1)
    argv = shlex.split(command.split("&&", 1)[1])
    assert argv[0] == "migbench"
    args = build_parser().parse_args(argv[1:])
    scenario = resolve_scenario(args.scenario)
    cli = {k: getattr(args, k) for k in ("django", "python", "memory", "strategy", "repeat", "database",
                                          "limiter", "timeout", "interval")}
    options = resolve_options(cli, scenario.run, scenario.source)
    assert options.limiter == "none" and options.memories == (None,)
    assert options.djangos == ("1.8", "1.9") and options.pythons == ("2.7",)


def test_vm_memory_is_the_parameter():
    text = VAGRANTFILE.read_text()
    assert 'ENV.fetch("MIGBENCH_VM_MEMORY", "512")' in text
    assert "vb.memory = memory" in text
    assert "pyenv\" install --skip-existing 2.7.18" in text
