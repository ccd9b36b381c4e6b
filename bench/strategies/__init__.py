"""The ways to bring a database to a project's schema, and the proof they agree.

- registry: every strategy by name (all, per-app, backward, squash,
  squash-final, zero, optimize, floor): its steps, what it needs captured,
  how its result is validated.
- transforms/: squashmigrations, migrations zero, optimizemigration applied
  to a copy of the project; variants caches those copies.
- baseline: the reference (`all`'s schema, the DDL and app order) a strategy
  is checked against; validation: the check itself (schema diff, rows).

Side effects: transforms and baselines write cached copies and files under the
cache root and run Django in child processes; the registry itself is pure.
"""
