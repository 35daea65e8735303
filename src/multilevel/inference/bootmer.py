"""lme4's ``bootMer``: a parametric bootstrap of any statistic of a REML/ML mixed model.

Responses are simulated from the fit (:func:`~multilevel.inference.simulate`, new group
effects by default: lme4's ``use.u = FALSE``), the model is refitted to each with the same
design (:mod:`multilevel.inference.bootstrap`), and the statistic is evaluated on every
refit. A refit on which the statistic cannot be computed gives NaN in its row, counted in
``failed`` (lme4 warns about failed runs the same way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from multilevel.errors import (
    DataWarning,
    MultilevelError,
    SpecError,
    check_level,
    check_seed,
    warn,
)


@dataclass(frozen=True)
class BootResult:
    """The statistic on the fit (``t0``) and on each bootstrap refit (``t``), as boot's.

    Attributes
    ----------
    t0 : Series
        The statistic of the fitted model.
    t : DataFrame
        One row per simulated response, one column per element of the statistic.
    failed : int
        Refits on which the statistic could not be computed (NaN rows of ``t``).
    """

    t0: pd.Series
    t: pd.DataFrame
    failed: int

    @property
    def std_error(self) -> pd.Series:
        """The replicates' SD per element (boot's ``std. error``)."""
        return self.t.std(ddof=1)

    @property
    def bias(self) -> pd.Series:
        """mean(t) − t0 per element (boot's ``bias``)."""
        return self.t.mean() - self.t0

    def confint(self, level: float = 0.95, type: str = "perc") -> pd.DataFrame:
        """Bootstrap intervals with the estimate and the bootstrap SE: percentile (boot's
        ``boot.ci(type = "perc")``, as lme4's ``confint(method = "boot")``), ``"basic"`` or
        ``"norm"`` (:func:`multilevel.inference.bootstrap.boot_interval`)."""
        from multilevel.inference.bootstrap import boot_interval, check_boot_type

        level = check_level(level, "level", SpecError)
        check_boot_type(type, "type")
        limits = np.array([boot_interval(self.t[c].to_numpy(), float(self.t0[c]), level, type)
                           for c in self.t]).reshape(-1, 2)
        return pd.DataFrame({"estimate": self.t0, "std_error": self.std_error,
                             "lower": limits[:, 0], "upper": limits[:, 1]}, index=self.t0.index)

    def __repr__(self) -> str:
        table = pd.DataFrame({"original": self.t0, "bias": self.bias, "std_error": self.std_error})
        head = f"Parametric bootstrap (lme4's bootMer), {len(self.t)} simulated responses"
        head += f", {self.failed} failed" if self.failed else ""
        return head + "\n" + table.to_string(float_format=lambda v: f"{v:.6g}")


class _Statistic:
    """The user's statistic as a fixed-length row of floats (picklable for Dask)."""

    def __init__(self, function, names: list[str]):
        self.function, self.names = function, names

    def __call__(self, fit) -> np.ndarray:
        try:
            values = _as_series(self.function(fit), None)
        except (MultilevelError, ArithmeticError, np.linalg.LinAlgError, ValueError):
            return np.full(len(self.names), np.nan)   # this refit's statistic: NaN, counted
        if list(values.index) != self.names:
            return np.full(len(self.names), np.nan)
        return values.to_numpy(dtype=float)


def bootmer(fit, statistic, nsim: int = 100, seed: int | None = None, group_effects: bool = True,
            client=None, progress=None) -> BootResult:
    """Parametric bootstrap of ``statistic(fit)`` (lme4's ``bootMer``).

    Parameters
    ----------
    fit : FreqFit or GLMMFit
        A REML/ML mixed model of a family :func:`~multilevel.inference.simulate` draws.
    statistic : callable
        ``statistic(refit)`` → a number, a sequence of numbers, a dict or a pandas Series
        (its keys name the columns). With a Dask ``client`` it must be picklable (a
        module-level function, not a lambda).
    nsim : int
        Number of simulated responses (lme4's default is 1; a percentile interval needs
        hundreds).
    seed : int, optional
        The same seed gives the same replicates, serially or on any client.
    group_effects : bool
        True (lme4's ``use.u = FALSE``): new group effects for every simulation; False:
        the fitted conditional modes kept (``use.u = TRUE``).
    client, progress
        Where the refits run and their progress (:func:`multilevel.distributed.run_jobs`).

    Returns
    -------
    BootResult
        ``t0``, ``t``, ``failed``, ``std_error``, ``bias`` and ``confint(level)``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> boot = bootmer(m, lambda f: f.fixef, nsim=20, seed=1)
    >>> list(boot.t.columns), boot.t.shape
    (['(Intercept)', 'Days'], (20, 2))
    """
    from multilevel.distributed import run_jobs
    from multilevel.freq import FreqFit
    from multilevel.freq.structures import refuse_structured
    from multilevel.inference.bootstrap import CHUNK, _jobs, run_refits
    from multilevel.inference.simulate import check_nsim, simulate_responses

    if not isinstance(fit, FreqFit) or not fit.design.reterms:
        raise SpecError(f"bootmer() bootstraps mixed models fitted with method='reml' or 'ml' (got "
                        f"{type(fit).__name__}); Bayesian fits have their posterior draws.")
    if not callable(statistic):
        raise SpecError(f"statistic must be a function of a fit, e.g. lambda m: m.fixef; got "
                        f"{type(statistic).__name__}.")
    refuse_structured(fit, "A parametric bootstrap")
    nsim = check_nsim(nsim, 1, "nsim (bootstrap replicates)")
    try:
        t0 = _as_series(statistic(fit), "statistic(fit)")
    except (TypeError, ValueError) as exc:
        raise SpecError(f"statistic(fit) must give numbers (a number, a sequence, a dict or a "
                        f"Series); {type(exc).__name__}: {exc}") from None
    ys = simulate_responses(fit, nsim, np.random.default_rng(check_seed(seed)), group_effects)
    kwargs = {} if client is None else {"client": client}
    blocks = run_jobs(_jobs(fit, ys, "statistic", _Statistic(statistic, list(t0.index))), run_refits,
                      progress=progress, label=f"bootMer: blocks of {CHUNK} refits", **kwargs)
    t = pd.DataFrame(np.vstack(blocks), columns=t0.index)
    failed = int(t.isna().any(axis=1).sum())
    if failed:
        warn(f"bootmer: the statistic could not be computed on {failed} of {nsim} refits (NaN rows "
             "of .t; the intervals use the others).", DataWarning)
    return BootResult(t0=t0, t=t, failed=failed)


def _as_series(value, what: str | None) -> pd.Series:
    """A statistic's value as a float Series: a number, a sequence, a dict or a Series."""
    if isinstance(value, pd.Series):
        series = value.astype(float)
    elif isinstance(value, dict):
        series = pd.Series(value, dtype=float)
    else:
        array = np.atleast_1d(np.asarray(value, dtype=float))
        if array.ndim != 1:
            raise SpecError(f"{what} must be a number or a flat sequence of numbers; got shape "
                            f"{array.shape}.")
        series = pd.Series(array, index=[f"t{i + 1}" for i in range(len(array))])
    if what is not None and len(series) == 0:
        raise SpecError(f"{what} returned no values.")
    series.index = [str(i) for i in series.index]
    return series
