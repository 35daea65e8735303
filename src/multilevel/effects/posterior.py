"""bayestestR's indices of a posterior sample: pd, ROPE share, HDI/ETI, Savage–Dickey.

Definitions follow bayestestR 0.13.0 exactly where it defines them:

* ``p_direction`` ("direct"): the larger of the shares of draws above and below the null
  (draws equal to the null count in neither);
* ``eti``: R's ``quantile`` type 7 (numpy's default "linear");
* ``hdi``: the narrowest window of ``ceiling(ci · n)`` + 1 sorted draws (bayestestR's ``.hdi``,
  ties resolved as it does);
* ``rope_share``: the share of the draws inside the ``rope_ci`` interval (ETI by default in
  0.13: ``rope(x, ci_method = "ETI")``) that also lie inside the ROPE, bounds included.
"""

from __future__ import annotations

import math

import numpy as np

from multilevel.errors import DataError

CI_METHODS = ("eti", "hdi")


def _vector(x) -> np.ndarray:
    x = np.asarray(x, dtype=float).reshape(-1)
    if x.size == 0 or not np.isfinite(x).all():
        raise DataError("posterior draws must be a non-empty vector of finite numbers.")
    return x


def p_direction(x, null: float = 0.0) -> float:
    """Probability of direction (bayestestR's ``p_direction(method = "direct")``).

    Examples
    --------
    >>> p_direction([-1.0, 0.0, 1.0, 2.0])
    0.5
    """
    x = _vector(x)
    return float(max(np.count_nonzero(x > null), np.count_nonzero(x < null)) / x.size)


def eti(x, ci: float = 0.95) -> tuple[float, float]:
    """Equal-tailed interval (R's ``quantile`` type 7)."""
    lo, hi = np.quantile(_vector(x), [(1 - ci) / 2, (1 + ci) / 2])
    return float(lo), float(hi)


def hdi(x, ci: float = 0.95) -> tuple[float, float]:
    """Highest-density interval of a sample, as bayestestR's ``hdi``."""
    xs = np.sort(_vector(x))
    window = math.ceil(ci * xs.size)
    n_ci = xs.size - window
    if window < 2 or n_ci < 1:
        raise DataError(f"hdi: ci={ci} leaves no interval for {xs.size} draws; use more draws or another ci.")
    widths = xs[window:window + n_ci] - xs[:n_ci]
    best = np.flatnonzero(widths == widths.min())
    if best.size > 1:
        best = best.max() if np.any(np.diff(best) != 1) else int(np.floor(best.mean()))
    else:
        best = int(best[0])
    return float(xs[best]), float(xs[best + window])


def interval(x, ci: float = 0.95, method: str = "eti") -> tuple[float, float]:
    if method not in CI_METHODS:
        raise DataError(f"ci_method={method!r} is not valid; use one of {CI_METHODS}.")
    return eti(x, ci) if method == "eti" else hdi(x, ci)


def rope_share(x, rope: tuple[float, float], ci: float = 0.95, ci_method: str = "eti") -> float:
    """Share of the draws within the ``ci`` interval that fall inside the ROPE
    (bayestestR's ``rope(x, range, ci)$ROPE_Percentage``, a proportion)."""
    x = _vector(x)
    lo, hi = (float(x.min()), float(x.max())) if ci >= 1 else interval(x, ci, ci_method)
    inside = x[(x >= lo) & (x <= hi)]
    a, b = min(rope), max(rope)
    return float(np.count_nonzero((inside >= a) & (inside <= b)) / inside.size)


def density_at(x, point: float) -> float:
    """Kernel density estimate of a sample at ``point``, bias-reduced.

    Two Gaussian kernel estimates with bandwidths h and √2·h are combined as
    2·f̂_h − f̂_(√2·h) (a fourth-order kernel): their O(h²) biases cancel, which matters in
    the tails where point nulls often lie (a plain Scott-bandwidth estimate overstates a
    normal density 2 SD out by about 1 % even with a million draws). h = σ̂·n^(-1/9), the
    rate that suits a fourth-order kernel, σ̂ = min(SD, IQR/1.349). Where the combination is
    not positive (far tails) the plain estimate is returned.
    """
    x = _vector(x)
    q75, q25 = np.percentile(x, [75, 25])
    spread = min(float(x.std(ddof=1)), float(q75 - q25) / 1.349) or float(x.std(ddof=1))
    if not spread > 0:
        raise DataError("cannot estimate the density of draws that are all equal.")
    h = spread * x.size ** (-1 / 9)  # the rate that suits a fourth-order kernel

    def plain(width):
        u = (point - x) / width
        return float(np.mean(np.exp(-0.5 * u * u)) / (width * np.sqrt(2 * np.pi)))

    low, wide = plain(h), plain(np.sqrt(2) * h)
    combined = 2 * low - wide
    return combined if combined > 0 else low


def savage_dickey(posterior, prior, point: float = 0.0) -> float:
    """Savage–Dickey density ratio at a point null: posterior density / prior density,
    the Bayes factor in favour of the null (brms's evidence ratio for ``"a = 0"``).

    ``prior`` is either draws from the prior or a callable returning the prior density.
    A point outside the range of the posterior draws has no density the draws can
    resolve: the posterior density is taken as 0 (ratio 0, infinite evidence against the
    point) rather than a kernel's tail.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> from scipy import stats
    >>> bf01 = savage_dickey(rng.normal(1, 0.5, 200_000), stats.norm(0, 2).pdf)
    >>> round(float(bf01 / (stats.norm(1, 0.5).pdf(0) / stats.norm(0, 2).pdf(0))), 1)
    1.0
    """
    posterior = _vector(posterior)
    inside = posterior.min() <= point <= posterior.max()
    post = density_at(posterior, point) if inside else 0.0
    pri = float(prior(point)) if callable(prior) else density_at(prior, point)
    if not pri > 0:
        raise DataError(f"the prior density at {point} is {pri}; the Savage–Dickey ratio needs a "
                        "prior that puts density on the point null.")
    return post / pri
