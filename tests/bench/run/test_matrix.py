"""Every shipped scenario, at a test-friendly size, is a valid project on the
Django lines of the matrix, 1.7 to 6.1 (all of them with MIGBENCH_TEST_FULL_MATRIX=1 or a
tox djXY env; by default the oldest and the newest, and the lines in between in rotation):
`check` passes, `makemigrations --check` finds nothing, `migrate` works from empty, every
app goes back to zero, and rows can be written afterwards. Real commands, real child
processes, real interpreters (Python 2.7 for the 1.x lines).

Select lines with MIGBENCH_TEST_DJANGO=1.7,5.2 (tox's djXY envs do). A line
whose interpreter is not installed is skipped, except under CI=true, where
the machine is expected to have them all (pyenv on these machines ships them).
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from migbench.bench.run.check import validate_project
from migbench.generator import build_project, resolve_scenario, write_project
from migbench.generator.scenario import shipped_scenarios
from migbench.targets import MATRIX_LINES, resolve_line

pytestmark = pytest.mark.e2e


def _lines() -> list[str]:
    selected = os.environ.get("MIGBENCH_TEST_DJANGO")
    if not selected:
        return list(MATRIX_LINES)
    return [resolve_line(line.strip()).line for line in selected.split(",") if line.strip()]


# Lines in between, per scenario, in the default run (the suite's 6-minute budget): each line
# in between gets MIDDLE scenarios, so every line in between still validates a generated project.
# A scenario pinned to a line in between takes that line first (segfault-2015 on 1.8, history-6500 on
# 4.2: the lines they are made for); the others take turns on the rest, in rotation. It was 2 (12 runs
# of ~5 s); at 1 every scenario still meets the oldest line it is meant for (1.7, or its pin) and the
# newest (6.1); 1.8 and 6.0, the ends until 1.7 and 6.1 joined, are lines in between now
# (MIGBENCH_TEST_FULL_MATRIX=1 or tox's djXY envs run every pair).
MIDDLE = 1


def _pairs() -> list[tuple[str, str]]:
    """(scenario, line) pairs: every scenario on every selected line when lines are chosen
    (MIGBENCH_TEST_DJANGO, tox's djXY) or MIGBENCH_TEST_FULL_MATRIX=1; otherwise every scenario
    on the oldest and the newest line, and each line in between on MIDDLE scenarios: a scenario
    pinned to it first, then the others in rotation (one pinned to a later line is passed over for
    the next one, so no line is left bare)."""
    lines, names = _lines(), shipped_scenarios()
    if os.environ.get("MIGBENCH_TEST_DJANGO") or os.environ.get("MIGBENCH_TEST_FULL_MATRIX") == "1" \
            or len(lines) <= 2:
        return [(name, line) for name in names for line in lines if _meant_for(name, line)]
    pairs = [(name, line) for name in names for line in (lines[0], lines[-1])]
    middle = {line: 0 for line in lines[1:-1]}  # line in between -> scenarios it validates
    for name in names:
        pinned = resolve_scenario(name).generator.django
        line = resolve_line(pinned).line if pinned else None
        if middle.get(line, MIDDLE) < MIDDLE:
            pairs.append((name, line))
            middle[line] += 1
    turn = 0
    for line in lines[1:-1]:
        for _ in range(len(names)):
            if middle[line] >= MIDDLE:
                break
            name, turn = names[turn % len(names)], turn + 1
            if _meant_for(name, line) and (name, line) not in pairs:
                pairs.append((name, line))
                middle[line] += 1
    return [(name, line) for name, line in pairs if _meant_for(name, line)]


def _meant_for(name: str, line: str) -> bool:
    """A scenario pinned to a line (`generator.django`, e.g. history-6500's 4.2) is generated for
    it and run on it and later lines; an older line would validate a project nobody runs."""
    pinned = resolve_scenario(name).generator.django
    return not pinned or resolve_line(line).at_least(resolve_line(pinned).line)


def small(name: str):
    """The shipped scenario, shrunk: same mix of everything, fewer of each."""
    scenario = resolve_scenario(name)
    params = scenario.generator
    history = params.history
    low, high = history.migrations_per_app
    params = replace(
        params,
        apps=min(params.apps, 4),  # the default scenario (quick) stays full size
        models_per_app=(min(params.models_per_app[0], 3), min(params.models_per_app[1], 4)),
        history=replace(history, migrations_per_app=(min(low, 6), min(high, 8)), data_rows=(2, 4)),
    )
    return replace(scenario, generator=params)


@pytest.mark.matrix
@pytest.mark.parametrize("scenario_name, line", _pairs(), ids=["%s-%s" % pair for pair in _pairs()])
def test_generated_project_is_valid(scenario_name, line, environment_for, tmp_path):
    env = environment_for(line)
    target = resolve_line(line)
    project = build_project(small(scenario_name), target)
    out = write_project(project, tmp_path / "project")
    result = validate_project(out, env.python, target, project.app_labels, tmp_path / "work")
    assert result.ok, "%s on Django %s (Python %s):\n%s\n\n%s" % (
        scenario_name, env.django_version, env.python_version,
        "\n".join(step.line() for step in result.steps), result.failures(),
    )
