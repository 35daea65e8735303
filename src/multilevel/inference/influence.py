"""lme4's ``influence.merMod``: case- and group-deletion diagnostics by refitting.

Each unit (a row, or every row of one level of ``groups``) is deleted in turn and the
model refitted to the rest; the changes in the fixed effects and in the variance
components say how much that unit moves the fit. What lme4 derives from the refits is
kept as it defines it: ``dfbeta`` (refit − fit), ``dfbetas`` (over the refit's SEs) and
its ``cooks.distance`` of the fixed effects, (n − p)/(n p) · d′V⁻¹d over the n deleted
units with the full fit's V. The closed-form row deletions of ``hatvalues`` and
``cooks_distance`` (``fit.cooks_distance()``) hold θ fixed; these refit everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from multilevel.errors import SpecError


@dataclass(frozen=True)
class Influence:
    """Deletion diagnostics of a REML/ML fit (lme4's ``influence.merMod`` object).

    Attributes
    ----------
    groups : str
        What was deleted: ``"case"`` (one row at a time) or the grouping column(s).
    fixed : Series
        The fit's fixed effects.
    fixed_deleted : DataFrame
        The refits' fixed effects, one row per deleted unit.
    var_cov : Series
        The fit's σ² and variance-covariance components, named as lme4 names them
        (``sigma^2``, ``v[(Intercept)]``, ``C[Days,(Intercept)]``, ``Subject:v[Days]``...).
    var_cov_deleted : DataFrame
        The same per refit.
    vcov : DataFrame
        The fit's covariance of the fixed effects.
    vcov_deleted : dict
        Unit → the refit's covariance of the fixed effects.
    converged : Series of bool
        Whether each refit's optimizer converged without a warning.
    """

    groups: str
    fixed: pd.Series
    fixed_deleted: pd.DataFrame
    var_cov: pd.Series
    var_cov_deleted: pd.DataFrame
    vcov: pd.DataFrame
    vcov_deleted: dict
    converged: pd.Series

    def dfbeta(self, which: str = "fixed") -> pd.DataFrame:
        """The refits' estimates minus the fit's: ``"fixed"`` effects or ``"var.cov"``
        components (lme4's ``dfbeta(infl, which)``)."""
        if which not in ("fixed", "var.cov"):
            raise SpecError(f"which={which!r} is not valid; use 'fixed' or 'var.cov'.")
        if which == "fixed":
            return self.fixed_deleted - self.fixed
        return self.var_cov_deleted - self.var_cov

    def dfbetas(self) -> pd.DataFrame:
        """``dfbeta`` of the fixed effects over each refit's standard errors (lme4's
        ``dfbetas``)."""
        se = pd.DataFrame({unit: np.sqrt(np.diag(v)) for unit, v in self.vcov_deleted.items()},
                          index=self.fixed.index).T
        return self.dfbeta() / se.to_numpy()

    def cooks_distance(self) -> pd.Series:
        """lme4's ``cooks.distance`` of an influence object: (n − p)/(n p) · d′V⁻¹d, d the
        unit's ``dfbeta``, V the fit's covariance of the fixed effects, n the number of
        deleted units and p of fixed effects."""
        d = self.dfbeta().to_numpy()
        n, p = d.shape
        scaled = np.linalg.solve(self.vcov.to_numpy(), d.T).T
        return pd.Series((n - p) / (n * p) * np.einsum("ij,ij->i", d, scaled),
                         index=self.fixed_deleted.index, name="cooks_distance")


def _var_cov(fit) -> pd.Series:
    """σ² and the lower triangle of each term's covariance, named as lme4's influence."""
    covs = fit.covariance()
    several = len(covs) > 1
    out = {"sigma^2": fit.sigma**2}
    for term in fit.design.reterms:
        V, names = covs[term.name], term.cnms
        for j in range(len(names)):
            for i in range(j, len(names)):
                label = f"v[{names[i]}]" if i == j else f"C[{names[i]},{names[j]}]"
                out[f"{term.name}:{label}" if several else label] = V[i, j]
    return pd.Series(out)


def _units(data: pd.DataFrame, groups, given: bool) -> tuple[str, pd.Series]:
    if groups is None:
        return "case", pd.Series(data.index.astype(str), index=data.index)
    columns = [groups] if isinstance(groups, str) else groups
    if not isinstance(columns, (list, tuple)) or not columns or not all(isinstance(c, str) for c in columns):
        raise SpecError(f"groups={groups!r} is not valid; give a column name or a list of names "
                        "(or None: one row at a time).")
    columns = list(columns)
    missing = [c for c in columns if c not in data.columns]
    if missing:
        hint = "" if given else " (the columns the model uses; pass data= to delete by another column)"
        raise SpecError(f"groups={groups!r}: {missing} are not columns of the data{hint}; use one of "
                        f"{list(data.columns)}.")
    keys = data[columns].astype(str).agg(".".join, axis=1) if len(columns) > 1 else data[columns[0]].astype(str)
    return ".".join(columns), keys


def _prior_weights(fit) -> np.ndarray | None:
    """The fitted rows' prior weights, or None. A binomial proportion's weights are its
    trials (the frame folds them in); a cbind()/p() response carries its own trials and
    cannot have weights (ml.fit refuses both)."""
    design = fit.design
    if design.weights is not None:
        return np.asarray(design.weights, dtype=float)
    trials = design.frame.trials
    if (fit.family == "binomial" and trials is not None and not np.all(trials == 1)
            and design.spec.parsed.response.kind == "plain"):
        return np.asarray(trials, dtype=float)
    return None


def influence(fit, groups: str | list[str] | None = None, data: pd.DataFrame | None = None) -> Influence:
    """Refit the model with each case, or each level of ``groups``, deleted in turn (lme4's
    ``influence.merMod``).

    Parameters
    ----------
    fit : FreqFit or GLMMFit
        A REML/ML fit (the refits use its method, family, link, nAGQ and optimizer).
    groups : str or list of str, optional
        A column of the data: every row of one of its levels is deleted together (several
        columns: each combination of their levels). Default: one row at a time.
    data : DataFrame, optional
        The data to delete from and refit (lme4's ``data``), e.g. the fitted data with a
        column the model does not use; rows with missing values in the model's columns are
        dropped as ``ml.fit`` drops them. Default: the rows and columns the fit used.

    Returns
    -------
    Influence
        With ``dfbeta()``, ``dfbetas()`` and ``cooks_distance()``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> inf = influence(m, groups="Subject")
    >>> inf.cooks_distance().sort_values().tail(2).round(3)
    335    0.115
    309    0.132
    Name: cooks_distance, dtype: float64
    """
    import warnings

    from multilevel.engines import fit as ml_fit
    from multilevel.freq import FreqFit

    if not isinstance(fit, FreqFit):
        raise SpecError(f"influence() refits mixed models fitted with method='reml' or 'ml'; got "
                        f"{type(fit).__name__}.")
    if data is not None and not isinstance(data, pd.DataFrame):
        raise SpecError(f"data must be a pandas DataFrame (or None: the fitted rows), got {type(data).__name__}.")
    given = data is not None
    weights = _prior_weights(fit)
    if weights is not None and given:
        raise SpecError("influence(data=...) of a fit with prior weights is not available: the "
                        "weights are those of the fitted rows. Leave data out (the fitted rows and "
                        "columns), or add a column and pass groups= by it.")
    data = fit.design.frame.data if data is None else data
    options = {"method": fit.method}
    if weights is not None:   # the fitted rows' weights, as a column the refits read
        column = "influence_weights"
        while column in data.columns:
            column += "_"
        data = data.assign(**{column: weights})
        options["weights"] = column
    name, keys = _units(data, groups, given)
    units = list(dict.fromkeys(keys))
    if len(units) < 2:
        raise SpecError(f"influence(): {name} has {len(units)} unit; deleting it leaves no data.")
    if fit.family != "gaussian":
        options.update(family=fit.family, link=fit.link, nAGQ=fit.nagq, optimizer=fit.optimizer)
    fixed_rows, vc_rows, vcovs, converged = {}, {}, {}, {}
    for unit in units:
        rest = data.loc[(keys != unit).to_numpy()]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            refit = ml_fit(fit.formula, rest, **options)
        fixed_rows[unit] = refit.fixef.reindex(fit.fixef.index)
        vc_rows[unit] = _var_cov(refit)
        vcovs[unit] = refit.vcov.reindex(index=fit.fixef.index, columns=fit.fixef.index).to_numpy()
        converged[unit] = bool(refit.converged) and not any(
            "converge" in str(w.message).lower() for w in caught)
    return Influence(groups=name, fixed=fit.fixef, fixed_deleted=pd.DataFrame(fixed_rows).T,
                     var_cov=_var_cov(fit), var_cov_deleted=pd.DataFrame(vc_rows).T, vcov=fit.vcov,
                     vcov_deleted=vcovs, converged=pd.Series(converged, name="converged"))
