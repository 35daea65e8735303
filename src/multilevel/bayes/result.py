"""``BayesFit``: the posterior of a multilevel model, reported in lme4's vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from multilevel.bayes import categorical as C
from multilevel.bayes import draws as D
from multilevel.bayes.convergence import ConvergenceReport, convergence_report
from multilevel.bayes.distributional import summary_draws as aux_summary_draws
from multilevel.bayes.model import BuiltModel
from multilevel.bayes.ordinal import threshold_names
from multilevel.bayes.residuals import PARAMS as RESIDUAL_PARAMS
from multilevel.bayes.sampling import SamplingSettings
from multilevel.errors import ConvergenceWarning, FitError, check_level, warn
from multilevel.formula.families import AUXILIARY  # the likelihood's parameters besides the mean
from multilevel.formula.families import CATEGORICAL_FAMILIES

CI_KINDS = ("eti", "hdi")

@dataclass
class BayesFit:
    """A fitted Bayesian multilevel model.

    Attributes
    ----------
    formula : str
    family : str
    idata : DataTree
        ArviZ's InferenceData: ``posterior``, ``sample_stats``, ``log_likelihood``,
        ``observed_data``.
    settings : SamplingSettings
        Sampler (``"auto"`` resolved), draws, tune, chains, seed, target_accept.
    timings : dict
        Seconds spent building and sampling.

    Examples
    --------
    >>> import multilevel as ml
    >>> fit = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", seed=1,
    ...              progress=False)                                    # doctest: +SKIP
    >>> fit.summary(ci=0.9, kind="hdi")                                 # doctest: +SKIP
    """

    built: BuiltModel = field(repr=False)
    idata: object = field(repr=False)
    settings: SamplingSettings
    timings: dict = field(default_factory=dict)
    # the ConvergenceWarning was issued: once per fit (at the fit), not again by summary()
    _warned: bool = field(default=False, init=False, repr=False, compare=False)

    # --------------------------------------------------------------- basics
    @property
    def formula(self) -> str:
        return self.built.formula

    @property
    def family(self) -> str:
        return self.built.family

    @property
    def link(self) -> str | None:
        """A non-default link (R's name) chosen with ``link=``; None: the family's default."""
        return self.built.link

    def data_options(self) -> dict:
        """``link``, ``weights`` and ``data2`` as given to :func:`multilevel.fit` (for refits of
        the model)."""
        return {k: v for k, v in (("link", self.built.link), ("weights", self.built.weights),
                                  ("data2", getattr(self.built, "data2", None))) if v is not None}

    @property
    def design(self):
        """The design (lme4 layout) shared with the frequentist engine."""
        return self.built.design

    @property
    def sampler(self) -> str:
        return self.settings.sampler

    @property
    def nobs(self) -> int:
        return self.design.n

    @property
    def posterior(self):
        return self.idata.posterior

    @property
    def n_draws(self) -> int:
        return self.posterior["chain"].size * self.posterior["draw"].size

    # ------------------------------------------------------------ estimates
    def fixef_draws(self) -> pd.DataFrame:
        """Posterior draws of the fixed effects (one row per draw, lme4 names; a categorical
        fit's carry their category, ``x[versicolor]``)."""
        if self.family in CATEGORICAL_FAMILIES:
            values = C.fixef_draws(self.posterior, self.built.bambi, self.design)
            return pd.DataFrame(values.reshape(-1, values.shape[2] * values.shape[3]),
                                columns=C.labelled(self.design.x_names, self.design))
        values = D.fixef_draws(self.posterior, self.built.bambi, self.design)
        # explicit row count: an ordinal model without predictors has no fixed-effect column
        return pd.DataFrame(values.reshape(values.shape[0] * values.shape[1], values.shape[2]),
                            columns=self.design.x_names)

    @property
    def fixef(self) -> pd.Series:
        """Posterior means of the fixed effects, named as lme4 names them."""
        return self.fixef_draws().mean().rename("fixef")

    def sigma_draws(self) -> np.ndarray:
        """Draws of the residual SD (gaussian and t families)."""
        if self.built.aux_part("sigma") is not None:
            raise FitError("sigma has a formula of its own, so the residual SD differs by row: its "
                           "terms are the summary's sigma_ rows; per-row draws come from "
                           "fit.auxiliary_draws('sigma').")
        if "sigma" not in self.posterior:
            raise FitError(f"The {self.family} family has no residual SD.")
        return np.asarray(self.posterior["sigma"].values, dtype=float).reshape(-1)

    def auxiliary_draws(self, name: str, newdata: pd.DataFrame | None = None,
                        group_effects: bool = True) -> np.ndarray:
        """Draws of an auxiliary parameter (``sigma``, ``psi``, ...) per row, shape (draws, rows).

        A parameter with a formula of its own (``["y ~ x", "sigma ~ x"]``) is g⁻¹ of its
        linear predictor on the fitted rows or on ``newdata`` (unseen group levels at the
        population mean); a scalar one is the same draw for every row.

        Examples
        --------
        >>> fit = ml.fit(["y ~ x", "sigma ~ g"], data, seed=1)      # doctest: +SKIP
        >>> fit.auxiliary_draws("sigma").mean(axis=0)               # doctest: +SKIP
        """
        from multilevel.bayes.distributional import check_newdata, parameter_draws

        if name not in AUXILIARY.get(self.family, ()):
            raise FitError(f"Family {self.family!r} has no auxiliary parameter {name!r}; it has: "
                           f"{', '.join(AUXILIARY.get(self.family, ())) or 'none'}.")
        if newdata is not None:
            check_newdata(self, newdata)
        values = parameter_draws(self, newdata, group_effects, names=(name,))[name]
        rows = self.nobs if newdata is None else len(newdata)
        return np.broadcast_to(values, (values.shape[0], rows)).copy()

    @property
    def sigma(self) -> float:
        """Posterior mean of the residual SD."""
        return float(self.sigma_draws().mean())

    def covariance_draws(self) -> dict[str, np.ndarray]:
        """Random-effect covariance matrices per term: name → (n_draws, q, q), lme4 order."""
        self._refuse_categorical("covariance_draws()")
        out = {}
        for block in self.built.blocks:
            cov = D.block_cov(self.posterior, block)
            out[block.name] = cov.reshape(-1, *cov.shape[2:])
        return out

    @property
    def varcorr(self) -> pd.DataFrame:
        """SDs and correlations as posterior means, in ``as.data.frame(VarCorr(m))`` layout.

        Columns ``grp, var1, var2, vcov, sdcor``: a variance row per column of each
        term (``vcov`` = E[sd²], ``sdcor`` = E[sd]), then one row per pair
        (``vcov`` = E[cov], ``sdcor`` = E[correlation]), then ``Residual``.
        """
        rows = []
        for block in self.built.blocks:
            group = block.name  # lme4 names repeated factors Subject, Subject.1, ...
            if self.family in CATEGORICAL_FAMILIES:   # one SD per column and category
                sd = C.block_sds(self.posterior, block, self.built.bambi, self.design)
                rows += [(group, name, None, float(np.mean(s ** 2)), float(np.mean(s)))
                         for name, s in zip(C.labelled(block.cnms, self.design),
                                            np.moveaxis(sd.reshape(*sd.shape[:2], -1), 2, 0))]
                continue
            sd = D.block_sds(self.posterior, block)
            corr = D.block_corr(self.posterior, block)
            for i, cnm in enumerate(block.cnms):
                rows.append((group, cnm, None, float(np.mean(sd[..., i] ** 2)), float(np.mean(sd[..., i]))))
            if block.correlated:
                for i in range(len(block.cnms)):
                    for j in range(i + 1, len(block.cnms)):
                        cov = sd[..., i] * sd[..., j] * corr[..., i, j]
                        rows.append((group, block.cnms[i], block.cnms[j], float(np.mean(cov)),
                                     float(np.mean(corr[..., i, j]))))
        if "sigma" in self.posterior and self.family in ("gaussian", "t"):
            s = self.sigma_draws()
            rows.append(("Residual", None, None, float(np.mean(s ** 2)), float(np.mean(s))))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])

    def ranef_draws(self) -> dict[str, np.ndarray]:
        """Group effects per term: name → (n_draws, levels, q), levels in lme4 order (a
        categorical fit's: (n_draws, levels, q, K − 1), the categories after the reference)."""
        out = {}
        if self.family in CATEGORICAL_FAMILIES:
            for block in self.built.blocks:
                eff = C.block_effects(self.posterior, block, self.built.bambi, self.design)
                out[block.name] = eff.reshape(-1, *eff.shape[2:])
            return out
        for block in self.built.blocks:
            eff = D.block_effects(self.posterior, block, self.design)
            out[block.name] = eff.reshape(-1, *eff.shape[2:])
        return out

    @property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Posterior means of the group effects: grouping factor → DataFrame (levels × columns).

        Terms on the same factor (``(Days || Subject)``) share one table, as in lme4. A
        categorical fit's columns carry their category, ``(Intercept)[versicolor]``.
        """
        tables: dict[str, pd.DataFrame] = {}
        for block in self.built.blocks:
            reterm = self._reterm(block)
            columns = list(block.cnms)
            if self.family in CATEGORICAL_FAMILIES:
                mean = C.block_effects(self.posterior, block, self.built.bambi, self.design).mean(axis=(0, 1))
                mean, columns = mean.reshape(mean.shape[0], -1), C.labelled(block.cnms, self.design)
            else:
                mean = D.block_effects(self.posterior, block, self.design).mean(axis=(0, 1))
            table = pd.DataFrame(mean, index=pd.Index(reterm.levels, name=reterm.group),
                                 columns=columns)
            if reterm.group in tables:
                table = pd.concat([tables[reterm.group], table], axis=1)
            tables[reterm.group] = table
        return tables

    def coef(self, ci: float | None = None) -> dict[str, pd.DataFrame]:
        """Coefficients per level of each grouping factor: fixed effects plus the level's
        group effects, per draw, summarized (brms's and lme4's ``coef``).

        As lme4: one table per grouping factor; a column with a group effect but no fixed
        effect counts the fixed effect as 0 and comes first.

        Parameters
        ----------
        ci : float, optional
            None: posterior means, levels × coefficients (lme4's layout). A level such as
            0.95: columns (coefficient, statistic) with the statistics ``estimate``,
            ``sd``, ``lower`` and ``upper`` (equal-tailed interval), as brms's ``coef``.
        """
        self._refuse_categorical("coef()")
        fixef = self.fixef_draws()
        effects = self.ranef_draws()
        by_group: dict[str, list] = {}
        for term in self.design.reterms:
            if term.smooth is None:
                by_group.setdefault(term.group, []).append(term)
        names = list(dict.fromkeys(c for terms in by_group.values() for t in terms for c in t.cnms
                                   if c not in fixef.columns)) + list(fixef.columns)
        base = np.column_stack([fixef[c].to_numpy() if c in fixef.columns else np.zeros(len(fixef))
                                for c in names])                     # (draws, coefficients)
        out = {}
        for group, terms in by_group.items():
            draws = np.repeat(base[:, None, :], terms[0].n_levels, axis=1)
            for term in terms:
                for j, column in enumerate(term.cnms):
                    draws[:, :, names.index(column)] += effects[term.name][:, :, j]
            index = pd.Index(terms[0].levels, name=group)
            if ci is None:
                out[group] = pd.DataFrame(draws.mean(axis=0), index=index, columns=names)
                continue
            ci = check_level(ci, "ci", FitError)
            lo, hi = np.quantile(draws, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
            stats = {"estimate": draws.mean(axis=0), "sd": draws.std(axis=0, ddof=1),
                     "lower": lo, "upper": hi}
            columns = pd.MultiIndex.from_product([names, list(stats)], names=["coefficient", "statistic"])
            values = np.stack([stats[k] for k in stats], axis=2).reshape(len(index), -1)
            out[group] = pd.DataFrame(values, index=index, columns=columns)
        return out

    # predict, prior_predictive, sensitivity and report call verbs and the report: they are
    # attached in multilevel/api.py (the entry layer), not defined here.

    def _refuse_categorical(self, what: str) -> None:
        if self.family in CATEGORICAL_FAMILIES:
            raise FitError(f"{what} is not available for family='categorical' (one set of effects "
                           "per non-reference category); use fit.ranef_draws() and the summary's "
                           "sd__<column>|<group>[<category>] rows.")

    # -------------------------------------------------------------- summary
    def _reterm(self, block):
        """The design's random-effects term behind a block."""
        return next(t for t in self.design.reterms if t.name == block.name)

    @cached_property
    def summary_draws(self):
        """The draws of every summary row as an xarray Dataset of (chain, draw) arrays.

        Variables are named as the rows of :meth:`summary`: fixed effects (lme4 names),
        ``sd__<column>|<group>``, ``cor__<a>.<b>|<group>``, auxiliary parameters and the
        residual correlation. Computed once per fit.
        """
        import xarray as xr

        if self.family in CATEGORICAL_FAMILIES:   # x[versicolor], sd__(Intercept)|g[versicolor]
            return xr.Dataset({k: (("chain", "draw"), v) for k, v in C.summary_data(self).items()})
        data = {}
        fixef = D.fixef_draws(self.posterior, self.built.bambi, self.design)
        for j, name in enumerate(self.design.x_names):
            data[name] = fixef[:, :, j]
        for block in self.built.blocks:
            group = self._reterm(block).group
            sd = D.block_sds(self.posterior, block)
            for i, cnm in enumerate(block.cnms):
                data[f"sd__{cnm}|{group}"] = sd[..., i]
            if block.correlated:
                corr = D.block_corr(self.posterior, block)
                for i in range(len(block.cnms)):
                    for j in range(i + 1, len(block.cnms)):
                        data[f"cor__{block.cnms[i]}.{block.cnms[j]}|{group}"] = corr[..., i, j]
        # structured terms' correlation parameters (cs/ar1: rho|g, toep: rho<lag>|g)
        from multilevel.bayes.structures import summary_rows

        data.update(summary_rows(self.posterior, self.built.blocks,
                                 {t.name: t.group for t in self.design.reterms}))
        for part in self.built.aux:   # formulas of auxiliary parameters: sigma_(Intercept), ...
            data.update(aux_summary_draws(self.posterior, part))
        # the residual correlation of ar(time = t, gr = g) / cosy(gr = g) fits: ar1_phi, cs_rho
        for name in (*AUXILIARY.get(self.family, ()), *RESIDUAL_PARAMS.values()):
            if name not in self.posterior:
                continue
            values = np.asarray(self.posterior[name].values, dtype=float)
            if values.ndim == 3:   # ordinal thresholds: one row per boundary, R clm's "a|b"
                for k, label in enumerate(threshold_names(self.design.frame.categories)):
                    data[label] = values[..., k]
            else:
                data[name] = values
        return xr.Dataset({k: (("chain", "draw"), v) for k, v in data.items()})

    def summary(self, ci: float = 0.95, kind: str = "eti") -> pd.DataFrame:
        """One row per parameter: posterior mean, SD, credible interval, R-hat, ESS.

        Parameters
        ----------
        ci : float
            Probability mass of the interval (0.95 by default; ArviZ's default is 0.89).
        kind : {"eti", "hdi"}
            Equal-tailed or highest-density interval.

        Returns
        -------
        DataFrame
            Index: fixed effects (lme4 names), ``sd__<column>|<group>``,
            ``cor__<a>.<b>|<group>``, the terms of auxiliary parameters' formulas
            (``sigma_(Intercept)``, ``sigma_x``, ``sd__sigma_(Intercept)|g``, on the
            parameter's link scale), auxiliary parameters (``sigma``, ``nu``, ``alpha``),
            the residual correlation (``ar1_phi``, ``cs_rho``; with ``ar1`` ``sigma`` is the
            innovation SD, see :mod:`multilevel.bayes.residuals`).
            Columns ``estimate, sd, lower, upper, r_hat, ess_bulk, ess_tail, mcse_mean``.
            ``attrs`` holds ``ci``, ``kind`` and ``convergence`` (the report's text); when
            the report finds a problem that no warning has announced yet (a fit made with
            ``check=False``), a :class:`ConvergenceWarning` with the fix is issued.
        """
        table = self._interval_table(ci, kind)
        table.attrs["convergence"] = str(self.check_convergence())
        return table

    def _interval_table(self, ci: float, kind: str) -> pd.DataFrame:
        from arviz_stats.base import array_stats

        if kind not in CI_KINDS:
            raise FitError(f"kind={kind!r} is not an interval kind; use one of {CI_KINDS}.")
        ci = check_level(ci, "ci", FitError)
        # the statistics for this level; the diagnostics, which do not depend on it, once per
        # fit. ArviZ's functions with az.summary(kind="stats")'s settings (see _diagnostics)
        names, values = self._summary_array
        axis = np.arange(-2, 0, 1)   # (chain, draw)
        if not names:
            stats = dict.fromkeys(["estimate", "sd", "lower", "upper"], np.empty(0))
        else:
            interval = array_stats.eti if kind == "eti" else array_stats.hdi
            method = "linear" if kind == "eti" else "nearest"
            bounds = interval(values, float(ci), axis=axis, method=method, skipna=False)
            stats = {"estimate": array_stats.mean(values, axis=axis, skipna=False),
                     "sd": array_stats.std(values, axis=axis, skipna=False),
                     "lower": bounds[..., 0], "upper": bounds[..., 1]}
        table = pd.DataFrame(stats, index=pd.Index(names)).join(self._diagnostics)
        table.attrs.update(ci=float(ci), kind=kind)
        if self.family in CATEGORICAL_FAMILIES:   # the category whose η is 0
            table.attrs["reference"] = self.design.frame.categories[0]
        return table

    @cached_property
    def _summary_array(self) -> tuple[list[str], np.ndarray]:
        """The summary rows' names and their draws as one (row, chain, draw) array: what
        ArviZ's array functions take (the interval table and the diagnostics)."""
        draws = self.summary_draws
        names = list(draws.data_vars)
        if not names:
            return names, np.empty((0, 0, 0))
        return names, np.stack([np.asarray(draws[n].transpose("chain", "draw").values, dtype=float)
                                for n in names])

    @cached_property
    def _diagnostics(self) -> pd.DataFrame:
        """R-hat, bulk/tail ESS and the mean's MCSE per summary row, computed once: the
        convergence report reads them at the end of the fit, every interval table after.

        ArviZ's functions of ``az.summary(kind="diagnostics")``, with its settings (the
        tail ESS at ``rcParams["stats.ci_prob"]``), called once on an array of all the
        rows: the same numbers, without az.summary's pass through xarray for every row and
        statistic (a third of the time; tests/test_diagnostics_convergence.py).
        """
        from arviz_base import rcParams
        from arviz_stats.base import array_stats

        names, values = self._summary_array
        columns = ["r_hat", "ess_bulk", "ess_tail", "mcse_mean"]
        if not names:
            return pd.DataFrame(columns=columns, dtype=float)
        return pd.DataFrame({
            "r_hat": array_stats.rhat(values, method="rank"),
            "ess_bulk": array_stats.ess(values, method="bulk"),
            "ess_tail": array_stats.ess(values, method="tail", prob=rcParams["stats.ci_prob"]),
            "mcse_mean": array_stats.mcse(values, method="mean"),
        }, index=pd.Index(names), columns=columns)

    def _diagnostics_table(self) -> pd.DataFrame:
        """R-hat and bulk/tail ESS per summary row: what the convergence report reads
        (half the cost of the interval table, which every refit would otherwise pay)."""
        return self._diagnostics[["r_hat", "ess_bulk", "ess_tail"]]

    @cached_property
    def convergence(self) -> ConvergenceReport:
        """R-hat, ESS, divergences, E-BFMI and tree depth, with the fix for each problem."""
        priors = self.built.priors
        return convergence_report(
            self.idata, self._diagnostics_table(),
            group_effects=bool(self.design.reterms), target_accept=self.settings.target_accept,
            shrinkage=_shrinkage_name(priors))

    def check_convergence(self) -> ConvergenceReport:
        """The convergence report.

        The first call that finds a problem (at the end of :func:`multilevel.fit`, or
        later for a fit made with ``check=False``) issues a :class:`ConvergenceWarning`
        with the fix, attributed to the user's line; later calls (``summary()``) return
        the same report without repeating the warning.
        """
        report = self.convergence
        if not report.ok and not self._warned:
            self._warned = True
            warn(str(report), ConvergenceWarning)
        return report

    def _repr_head(self) -> str:
        s = self.settings
        family = self.family
        if family in CATEGORICAL_FAMILIES:
            family += f", reference category {self.design.frame.categories[0]!r}"
        return (f"BayesFit: {self.formula}  (family {family}, {s.chains} chains x {s.draws} "
                f"draws, sampler {s.sampler}, seed {s.seed})")

    def __repr__(self) -> str:
        from multilevel.display import text_table

        return (f"{self._repr_head()}\n{text_table(self._interval_table(0.95, 'eti'))}\n"
                f"{self.convergence}")

    def _repr_html_(self) -> str:
        from multilevel.display import html_pre, html_section, html_table

        return html_section(self._repr_head(), [
            ("Posterior mean, SD and 95% equal-tailed interval", html_table(self._interval_table(0.95, "eti"))),
            ("Convergence", html_pre(str(self.convergence)))])


def _shrinkage_name(priors) -> str | bool:
    """The coefficient preset's name (horseshoe, lasso, ...), or False without one."""
    preset = priors.get("common") if isinstance(priors, dict) else priors
    if not hasattr(preset, "build_coefficients"):
        return False
    return getattr(preset, "name", None) or True
