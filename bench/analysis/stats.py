"""The little statistics migbench needs: medians with spread, ratio intervals, power-law fits.

Standard library only (no numpy/scipy dependency for three formulas). Why
these choices:
- Timings are right-skewed and repeats are few (3 is typical), so tables show
  the median and the min-max spread, not mean and standard deviation.
- A ratio between two sets of repeats is estimated on logarithms: the ratio
  of geometric means, with a Welch t interval on the difference of the mean
  logs. Log space makes 0.5x and 2x symmetric and the interval a ratio too.
- Growth is a power law (`time ~ models^k`): a least-squares line on log-log
  axes, whose slope is the exponent and whose R^2 says how well it holds.
  With two sizes varied at once (`migbench sweep` over apps and migrations),
  a plane on log axes: one exponent per variable, the other held fixed.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

# Two-sided 95% quantiles of Student's t (0.975) by degrees of freedom.
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
         9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131,
         16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 22: 2.074, 24: 2.064,
         26: 2.056, 28: 2.048, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}
_Z975 = 1.960


@dataclass(frozen=True)
class Summary:
    """Repeats of one measurement: how many, the median and the range."""

    n: int
    median: float
    low: float
    high: float

    @property
    def spread(self) -> float:
        """Half the range: what `±` means in migbench's tables."""
        return (self.high - self.low) / 2


def summarize(values: Sequence[float]) -> Summary | None:
    """None for no values (a cell with no ok run has no time to show)."""
    values = [float(v) for v in values]
    if not values:
        return None
    return Summary(len(values), statistics.median(values), min(values), max(values))


def t_quantile_975(df: float) -> float:
    """Student's t 0.975 quantile, interpolated between table entries (Welch df is fractional)."""
    if df < 1:
        df = 1.0
    keys = sorted(_T975)
    if df >= keys[-1]:
        return _Z975 + (_T975[keys[-1]] - _Z975) * keys[-1] / df
    for low, high in zip(keys, keys[1:]):
        if low <= df <= high:
            share = (df - low) / (high - low)
            return _T975[low] + share * (_T975[high] - _T975[low])
    return _T975[1]


@dataclass(frozen=True)
class Ratio:
    """candidate / baseline, with a 95% interval when both sides have repeats."""

    ratio: float
    low: float | None
    high: float | None
    n_baseline: int
    n_candidate: int

    @property
    def has_interval(self) -> bool:
        return self.low is not None

    @property
    def significant(self) -> bool | None:
        """True when the interval excludes 1 (a change beyond noise); None without an interval."""
        if not self.has_interval:
            return None
        return self.low > 1.0 or self.high < 1.0


def ratio_of(baseline: Sequence[float], candidate: Sequence[float]) -> Ratio | None:
    """Ratio of geometric means with a Welch 95% interval on the logs.

    None when either side is empty or holds a value <= 0 (no ratio exists).
    With a single value on both sides there is no estimate of noise: the
    interval is None and `significant` says so rather than guessing. With a
    single value on one side only, that side's variance is taken as the
    other side's (the same measurement on the same kind of machine).
    """
    if not baseline or not candidate or min(baseline) <= 0 or min(candidate) <= 0:
        return None
    logs_b = [math.log(v) for v in baseline]
    logs_c = [math.log(v) for v in candidate]
    mean_b, mean_c = statistics.fmean(logs_b), statistics.fmean(logs_c)
    ratio = math.exp(mean_c - mean_b)
    n_b, n_c = len(logs_b), len(logs_c)
    if n_b < 2 and n_c < 2:
        return Ratio(ratio, None, None, n_b, n_c)
    var_b = statistics.variance(logs_b) if n_b > 1 else statistics.variance(logs_c)
    var_c = statistics.variance(logs_c) if n_c > 1 else var_b
    se2_b, se2_c = var_b / n_b, var_c / n_c
    se = math.sqrt(se2_b + se2_c)
    if se == 0:
        return Ratio(ratio, ratio, ratio, n_b, n_c)
    if n_b > 1 and n_c > 1:
        df = (se2_b + se2_c) ** 2 / (se2_b ** 2 / (n_b - 1) + se2_c ** 2 / (n_c - 1))
    else:
        # One side's variance serves both: its n - 1 degrees of freedom are all there are
        # (Welch's formula would count the borrowed copy as exact and narrow the interval).
        df = max(n_b, n_c) - 1
    margin = t_quantile_975(df) * se
    return Ratio(ratio, math.exp(mean_c - mean_b - margin), math.exp(mean_c - mean_b + margin), n_b, n_c)


@dataclass(frozen=True)
class PowerFit:
    """y = coefficient * x^exponent, fitted on log-log axes."""

    exponent: float
    coefficient: float
    r2: float
    n: int

    def predict(self, x: float) -> float:
        return self.coefficient * x ** self.exponent

    def describe(self, variable: str, quantity: str = "time") -> str:
        """The sentence the README and the charts use: 'time grows as models^1.93 (R² 0.99, 4 points)'."""
        return "%s grows as %s^%.2f (R² %.2f, %d points)" % (quantity, variable, self.exponent, self.r2, self.n)


def power_law_fit(xs: Sequence[float], ys: Sequence[float]) -> PowerFit | None:
    """Least squares of log y on log x; None without two distinct positive x values."""
    pairs = [(float(x), float(y)) for x, y in zip(xs, ys) if x > 0 and y > 0]
    if len({x for x, _ in pairs}) < 2:
        return None
    lx = [math.log(x) for x, _ in pairs]
    ly = [math.log(y) for _, y in pairs]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    sxx = sum((x - mx) ** 2 for x in lx)
    sxy = sum((x - mx) * (y - my) for x, y in zip(lx, ly))
    slope = sxy / sxx
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ly)
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(lx, ly))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return PowerFit(slope, math.exp(intercept), r2, len(pairs))


@dataclass(frozen=True)
class PowerFit2:
    """y = coefficient * x1^exponents[0] * x2^exponents[1], fitted on logs.

    Used when a sweep varies two things at once (apps and migrations per
    app): each exponent is the growth with one variable while the other is
    held fixed, which a one-variable fit on such a grid would mix up.
    """

    exponents: tuple[float, float]
    coefficient: float
    r2: float
    n: int

    def predict(self, x1: float, x2: float) -> float:
        return self.coefficient * x1 ** self.exponents[0] * x2 ** self.exponents[1]


def power_law_fit2(xs1: Sequence[float], xs2: Sequence[float], ys: Sequence[float]) -> PowerFit2 | None:
    """Least squares of log y = a + b log x1 + c log x2.

    None with fewer than three usable (all positive) points, or when the
    points do not separate the two variables (log x1 and log x2 on one line,
    e.g. one of them constant or both doubling together): then no pair of
    exponents is better than another.
    """
    rows = [(math.log(a), math.log(b), math.log(y)) for a, b, y in zip(xs1, xs2, ys)
            if a > 0 and b > 0 and y > 0]
    if len(rows) < 3:
        return None
    m1, m2, my = (statistics.fmean(column) for column in zip(*rows))
    s11 = sum((a - m1) ** 2 for a, _, _ in rows)
    s22 = sum((b - m2) ** 2 for _, b, _ in rows)
    s12 = sum((a - m1) * (b - m2) for a, b, _ in rows)
    s1y = sum((a - m1) * (y - my) for a, _, y in rows)
    s2y = sum((b - m2) * (y - my) for _, b, y in rows)
    det = s11 * s22 - s12 ** 2
    if s11 <= 0 or s22 <= 0 or det <= 1e-9 * s11 * s22:
        return None
    b1 = (s22 * s1y - s12 * s2y) / det
    b2 = (s11 * s2y - s12 * s1y) / det
    intercept = my - b1 * m1 - b2 * m2
    ss_tot = sum((y - my) ** 2 for _, _, y in rows)
    ss_res = sum((y - (intercept + b1 * a + b2 * b)) ** 2 for a, b, y in rows)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return PowerFit2((b1, b2), math.exp(intercept), r2, len(rows))
