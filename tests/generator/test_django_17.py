"""Projects generated for Django 1.7, the first line with migrations, use only what 1.7 has.

Pure: the generator's output is read, nothing runs (tests/bench/run/test_matrix.py runs every
shipped scenario on 1.7; docs/transforms.md lists what 1.7 lacks). Each feature below is written
on 1.8 from the same scenario, so the test fails if the scenario stops drawing it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from migbench.generator.project import build_project
from migbench.generator.scenario import parse_scenario, resolve_scenario, shipped_scenarios
from migbench.targets import resolve_line

# Every field kind 1.7 lacks, and every operation whose spelling differs there.
EVERYTHING = parse_scenario("""
[generator]
seed = 7
apps = 3
models_per_app = [3, 4]
[generator.fields]
per_model = [4, 8]
types = { uuid = 2, duration = 2, email = 2, char = 2, integer = 1 }
[generator.history]
migrations_per_app = [4, 6]
operations = { add_field = 2, run_python = 3, run_sql = 3, rename_model = 2, create_model = 1 }
""", "django-17.toml")


def text(line: str) -> str:
    files = build_project(EVERYTHING, resolve_line(line)).files
    return "\n".join(body for path, body in files.items() if path.endswith(".py"))


# What 1.8 writes that 1.7 cannot load or run (sqlparse for RunSQL, contenttypes' 0002 for a rename).
ONLY_FROM_18 = ("models.UUIDField(", "models.DurationField(", "migrations.RunSQL(",
                "django.db.models.functions.Upper(", "'0002_remove_content_type_name'")


@pytest.mark.parametrize("marker", ONLY_FROM_18)
def test_what_17_lacks_is_written_only_from_18(marker):
    assert marker in text("1.8"), marker
    assert marker not in text("1.7"), marker


def test_17_spells_out_the_email_length_and_upper_cases_through_a_cursor():
    old, new = text("1.7"), text("1.8")
    assert "models.EmailField(max_length=254" in old and "models.EmailField(max_length" not in new
    assert 'cursor.execute("UPDATE %s SET %s = UPPER(%s)"' in old
    summary = build_project(EVERYTHING, resolve_line("1.7")).summary
    assert summary.fields["uuid"] == summary.fields["duration"] == 0 and summary.fields["char"] > 0
    assert summary.operations["run_sql"] == 0 and summary.operations["run_python"] > 0


@pytest.mark.parametrize("name", shipped_scenarios())
def test_every_shipped_scenario_generates_for_17(name):
    """Shrunk like the validity matrix; the full runs are test_matrix's (MIGBENCH_TEST_DJANGO=1.7)."""
    scenario = resolve_scenario(name)
    params = scenario.generator
    small = replace(scenario, generator=replace(params, apps=min(params.apps, 4)))
    body = "\n".join(build_project(small, resolve_line("1.7")).files.values())
    for marker in ONLY_FROM_18:
        assert marker not in body, (name, marker)
