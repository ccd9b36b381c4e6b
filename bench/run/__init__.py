"""Orchestration: what the `run`, `bisect`, `sweep` and `check` commands do.

- options: the matrix's options from the command line, the scenario's [run]
  table and the defaults, validated before anything runs.
- executor: the matrix (environments, the shared project, cells) and one run
  of a cell, stored as a record.
- bisect (a pure search) and probes (its real capped runs); sweep (a scenario
  at several sizes); check (is a generated project valid); progress (the
  terminal line).

Side effects: generates projects into the cache, builds environments, runs
measured children, writes records into --out.
"""
