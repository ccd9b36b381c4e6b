"""Scenario in, Django project out: pure and deterministic. Installed as `migbench.generator`.

    scenario (TOML) -> history (state + timeline of migrations) -> files -> disk

Only `write_project` has side effects; everything before it is a function of
(scenario, seed, target) and returns the same bytes every time. `twin.py` goes the
other way, as pure: a real project's shape (bench/measure/worker/shape.py) in, a
scenario that reproduces it out (`migbench twin`).
"""

from .project import Project, build_project, write_project
from .scenario import Scenario, load_scenario, parse_scenario, resolve_scenario

__all__ = [
    "Project", "Scenario", "build_project", "write_project",
    "load_scenario", "parse_scenario", "resolve_scenario",
]
