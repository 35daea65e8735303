"""WAIC from the pointwise log-likelihood (ArviZ 1.x no longer ships it).

Watanabe's widely applicable information criterion on the elpd scale, as in
Vehtari, Gelman & Gabry (2017) and R's ``loo::waic``:

* ``lppd_i = log( mean_s exp(log p(y_i | θ_s)) )``
* ``p_waic_i = var_s( log p(y_i | θ_s) )`` (sample variance, ``ddof=1``)
* ``elpd_waic_i = lppd_i - p_waic_i``; ``elpd_waic = Σ_i elpd_waic_i``
* ``se = sqrt(n · var_i(elpd_waic_i))`` with ``ddof=1`` (the same convention as
  ``az.loo``'s SE and R's ``loo``).

Observations with ``p_waic_i > 0.4`` make WAIC unreliable (R's ``loo`` warns);
they are counted, and PSIS-LOO is the better estimate then.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from multilevel.errors import ComparisonError

P_WAIC_WARN = 0.4  # R loo's threshold on the pointwise penalty


@dataclass(frozen=True)
class WaicResult:
    """WAIC of one model.

    Attributes
    ----------
    elpd : float
        ``elpd_waic`` (log score; higher is better). ``-2 * elpd`` is WAIC on the
        deviance scale.
    se : float
        Standard error of ``elpd``.
    p : float
        ``p_waic``, the effective number of parameters.
    elpd_i, p_i : ndarray
        Pointwise contributions.
    n_high_p : int
        Observations with ``p_i > 0.4``.
    """

    elpd: float
    se: float
    p: float
    elpd_i: np.ndarray
    p_i: np.ndarray
    n_high_p: int

    @property
    def waic(self) -> float:
        """WAIC on the deviance scale, ``-2 * elpd_waic``."""
        return -2.0 * self.elpd


def waic_from_array(log_lik: np.ndarray) -> WaicResult:
    """WAIC from a log-likelihood array of shape ``(..., n_obs)``.

    All leading axes are draws (chains × draws are pooled).

    Parameters
    ----------
    log_lik : array, shape (chains, draws, n) or (draws, n)

    Returns
    -------
    WaicResult

    Examples
    --------
    >>> import numpy as np
    >>> ll = np.log(np.array([[0.2, 0.5], [0.4, 0.5]]))   # 2 draws, 2 observations
    >>> res = waic_from_array(ll)
    >>> round(res.elpd_i[1], 6)                           # no variance: elpd = log 0.5
    -0.693147
    """
    ll = np.asarray(log_lik, dtype=float)
    if ll.ndim < 2:
        raise ComparisonError(
            f"The log-likelihood needs draws and observations as axes, got shape {ll.shape}."
        )
    ll = ll.reshape(-1, ll.shape[-1])
    n_draws, n_obs = ll.shape
    if n_draws < 2:
        raise ComparisonError("WAIC needs at least two posterior draws.")
    if not np.all(np.isfinite(ll)):
        bad = int(np.sum(~np.all(np.isfinite(ll), axis=0)))
        raise ComparisonError(
            f"The log-likelihood has non-finite values for {bad} observation(s); WAIC is undefined."
        )
    lppd_i = logsumexp(ll, axis=0) - np.log(n_draws)
    p_i = np.var(ll, axis=0, ddof=1)
    elpd_i = lppd_i - p_i
    se = float(np.sqrt(n_obs * np.var(elpd_i, ddof=1))) if n_obs > 1 else float("nan")
    return WaicResult(elpd=float(elpd_i.sum()), se=se, p=float(p_i.sum()), elpd_i=elpd_i,
                      p_i=p_i, n_high_p=int(np.sum(p_i > P_WAIC_WARN)))


def waic(fit, var_name: str | None = None) -> WaicResult:
    """WAIC of a Bayesian fit, from its ``log_likelihood`` group.

    Parameters
    ----------
    fit : BayesFit or DataTree
        A fit from ``ml.fit(..., method="bayes")`` or its ``idata``.
    var_name : str, optional
        The log-likelihood variable (needed only if there are several).

    Returns
    -------
    WaicResult

    Examples
    --------
    >>> import multilevel as ml
    >>> fit = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", seed=1,
    ...              progress=False)                                  # doctest: +SKIP
    >>> ml.compare.waic(fit).elpd                                     # doctest: +SKIP
    -884.6
    """
    return waic_from_array(log_likelihood_array(fit, var_name))


def log_likelihood_array(fit, var_name: str | None = None, name: str = "model") -> np.ndarray:
    """The pointwise log-likelihood as an array (chains, draws, n_obs)."""
    idata = getattr(fit, "idata", fit)
    children = getattr(idata, "children", {})
    if "log_likelihood" not in children:
        raise ComparisonError(
            f"Model {name!r} has no log_likelihood group, so LOO and WAIC cannot be computed. "
            "Fit it with multilevel.fit(..., method='bayes'), which stores it, or add it with "
            "fit.built.bambi.compute_log_likelihood(fit.idata)."
        )
    group = idata["log_likelihood"]
    names = list(group.data_vars)
    if var_name is None:
        if len(names) != 1:
            raise ComparisonError(
                f"Model {name!r} has {len(names)} log-likelihood variables ({', '.join(names)}); "
                "pass var_name= to choose one."
            )
        var_name = names[0]
    if var_name not in names:
        raise ComparisonError(
            f"Model {name!r} has no log-likelihood variable {var_name!r}; it has: {', '.join(names)}."
        )
    da = group[var_name]
    obs = [d for d in da.dims if d not in ("chain", "draw")]
    values = np.asarray(da.transpose("chain", "draw", *obs).values, dtype=float)
    return values.reshape(values.shape[0], values.shape[1], -1)
