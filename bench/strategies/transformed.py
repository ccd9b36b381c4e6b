"""The strategies that transform a copy of the project, then `migrate` it from empty.

- `squash`: `squashmigrations` per app with the target Django; apps that cannot
  be squashed stay as they were and are named in the record.
- `squash-final`: `squash` plus Django's follow-up step (replaced files
  deleted, dependencies repointed, `replaces` dropped).
- `optimize`: `optimizemigration` on every migration (Django >= 4.1).

Only the project's own apps are transformed: on a real project, the apps its
manifest lists (third-party apps migrate as they are). What each transformation
does is bench/strategies/transforms/; migrations zero, which also has a deploy
flow, is bench/strategies/zero.py.
"""

from .base import Strategy

SQUASH = Strategy("squash", "squashmigrations per app, then migrate", transform="squash", dev_loop=True)
SQUASH_FINAL = Strategy("squash-final", "squash + delete the replaced files, drop replaces",
                        transform="squash-final", dev_loop=True)
OPTIMIZE = Strategy("optimize", "optimizemigration on every migration, then migrate", transform="optimize",
                    dev_loop=True, min_django="4.1", requires="optimizemigration")
