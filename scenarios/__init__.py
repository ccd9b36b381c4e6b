"""The shipped scenarios, as package data: `migbench.scenarios` is this folder (pyproject.toml).

Each `*.toml` is one scenario (docs/scenarios.md); `migbench scenarios` lists
them and `generator/scenario.py: resolve_scenario` finds one by name. No code.
"""
