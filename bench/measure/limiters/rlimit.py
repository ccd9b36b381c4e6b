"""The rlimit limiter: RLIMIT_AS set in the child, the fallback that works anywhere.

It needs no cgroup, no root and no systemd, so `auto` ends here when nothing better
is usable. It caps virtual address space, not RSS, and reads no peak (the runner
keeps wait4's ru_maxrss), which is why it comes last among the capping limiters.
"""

from __future__ import annotations

import resource

from .base import Host, Limiter, LimitReading, Probe


class RlimitLimiter(Limiter):
    """RLIMIT_AS in the child: works anywhere, but caps virtual address space, not RSS.

    Python maps far more than it touches (arenas, thread stacks, shared libraries), so
    a run that fits in 512 MB of RSS can fail under a 512 MB RLIMIT_AS: its numbers are
    not comparable to a cgroup's. Allocation failures surface as MemoryError, not a kill.
    """

    name = "rlimit"
    label = "rlimit"

    @classmethod
    def probe(cls, host: Host) -> Probe:
        return Probe(True, "RLIMIT_AS (caps virtual address space, not RSS)")

    @property
    def caps(self) -> str:
        return "virtual" if self.limit_bytes else "none"

    def __init__(self, limit_bytes: int | None, why: str, probe: Probe | None = None,
                 host: Host | None = None):
        super().__init__(limit_bytes, why, probe, host)
        self._rlimit: tuple[int, int] | None = None

    def __enter__(self) -> RlimitLimiter:
        """Compute the limit here, not in the child: soft and hard, never above our hard."""
        self._rlimit = None
        if self.limit_bytes:
            hard = resource.getrlimit(resource.RLIMIT_AS)[1]
            value = self.limit_bytes if hard == resource.RLIM_INFINITY else min(
                self.limit_bytes, hard)
            self._rlimit = (value, value)
        return self

    def preexec(self) -> None:
        if self._rlimit is not None:
            resource.setrlimit(resource.RLIMIT_AS, self._rlimit)
        elif self.limit_bytes:
            raise RuntimeError("preexec called outside the limiter's with block")

    def read(self) -> LimitReading:
        return LimitReading(None, None, {
            "peak": "not measured: use ru_maxrss from wait4",
            "cap": "RLIMIT_AS caps virtual address space, not RSS; exceeding it raises "
                   "MemoryError in the child instead of an OOM kill",
        })

    def describe(self) -> dict:
        return dict(super().describe(), rlimit="RLIMIT_AS",
                    rlimit_as=self._rlimit[0] if self._rlimit else None)
