"""`all`: `migrate` from empty, what a fresh checkout or CI does; the baseline every other
strategy is compared with."""

from .base import Strategy

ALL = Strategy("all", "migrate from empty", dev_loop=True, adopts_baseline=True)
