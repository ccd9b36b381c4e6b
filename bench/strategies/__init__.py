"""The ways to bring a database to a project's schema, and the proof that they agree.

One module per strategy (what it runs, what it needs, what it proves;
bench/strategies/base.py says what a strategy owns):
- plain (`all`), per_app (`per-app`), backward, rollback (one migration
  unapplied and re-applied: #34841), transformed (`squash`,
  `squash-final`, `optimize`), zero (migrations zero and its deploy flow),
  floor (the captured DDL replayed without Django);
- daily: the daily commands timed after a run (`--dev-loop`);
- transforms/: squashmigrations, migrations zero, optimizemigration applied
  to a copy of the project; variants caches those copies;
- baseline: the reference (`all`'s schema, the DDL and app order) every
  strategy is checked against; validation: the check itself.

Adding a strategy: its module, and one entry in the tuple below (the order is
the order `--strategy` lists them in).

Side effects: transforms and baselines write cached copies and files under the
cache root and run Django in child processes; the registry itself is pure.
"""

from . import backward, floor, per_app, plain, rollback, transformed, zero
from .registry import get, names, register

for _strategy in (plain.ALL, per_app.PER_APP, backward.BACKWARD, rollback.ROLLBACK, transformed.SQUASH,
                  transformed.SQUASH_FINAL, zero.ZERO, transformed.OPTIMIZE, floor.FLOOR):
    register(_strategy)

__all__ = ["get", "names", "register"]
