"""Did the sampler converge? One report, with the fix for each problem.

Thresholds follow Vehtari et al. (2021) and the Stan/brms warnings: R-hat > 1.01,
bulk or tail ESS below 100 per chain, any divergence, E-BFMI < 0.3, and tree depth
saturated in more than 1 % of draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100
BFMI_MIN = 0.3
TREEDEPTH_SHARE_MAX = 0.01


@dataclass(frozen=True)
class ConvergenceReport:
    """Sampler diagnostics of a fit.

    Attributes
    ----------
    ok : bool
        No problem found.
    problems : list of str
        One sentence per problem, each with the concrete fix.
    table : DataFrame
        One row per check: value, threshold, passed.
    """

    ok: bool
    problems: list[str] = field(default_factory=list)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __str__(self) -> str:
        if self.ok:
            checked = ", ".join(self.table.index) if len(self.table) else "R-hat, ESS"
            return f"Convergence: no problems ({checked})."
        return "Convergence problems:\n" + "\n".join(f"  - {p}" for p in self.problems)

    def __repr__(self) -> str:   # the verdict and the checks, not the dataclass's fields
        from multilevel.display import text_table

        return f"{self}\n\n{text_table(self.table, digits=5)}" if len(self.table) else str(self)

    def _repr_html_(self) -> str:
        from multilevel.display import html_pre, html_section, html_table

        title = "Convergence: no problems" if self.ok else "Convergence problems"
        parts = [] if self.ok else [(None, html_pre("\n".join(f"- {p}" for p in self.problems)))]
        return html_section(title, parts + [("Checks", html_table(self.table, digits=5))])


def convergence_report(idata, summary: pd.DataFrame, max_treedepth: int = 10, *,
                       group_effects: bool = True, target_accept: float | None = None,
                       shrinkage: bool | str = False) -> ConvergenceReport:
    """Check R-hat, ESS, divergences, E-BFMI and tree depth of a sampled fit.

    Parameters
    ----------
    idata : DataTree
        With ``posterior`` and ``sample_stats`` groups.
    summary : DataFrame
        Per-parameter ``r_hat``, ``ess_bulk`` and ``ess_tail`` (as from ``BayesFit.summary``).
    max_treedepth : int
        The sampler's maximum tree depth (10 for PyMC and nutpie).
    group_effects : bool
        The model has group-level terms; without them the advice does not mention them.
    target_accept : float, optional
        The fit's NUTS target acceptance rate; the advice starts from it.
    shrinkage : bool or str
        The coefficients have a shrinkage prior (its preset's name: horseshoe, lasso, ...), whose funnel is
        the usual cause of divergences in a model without group terms.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> coords = {"chain": [0, 1], "draw": np.arange(5)}
    >>> post = xr.Dataset({"b": (("chain", "draw"), np.zeros((2, 5)))}, coords=coords)
    >>> stats = xr.Dataset({"diverging": (("chain", "draw"), np.eye(2, 5, dtype=bool))}, coords=coords)
    >>> idata = xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})
    >>> summary = pd.DataFrame({"r_hat": [1.0], "ess_bulk": [900.0], "ess_tail": [900.0]}, index=["b"])
    >>> report = convergence_report(idata, summary, group_effects=False, target_accept=0.99)
    >>> "group" in report.problems[0]
    False
    """
    import arviz as az

    chains = idata.posterior["chain"].size
    draws = idata.posterior["draw"].size
    stats = idata["sample_stats"] if "sample_stats" in idata.children else None
    rows, problems = [], []

    worst_rhat = float(summary["r_hat"].max())
    bad = summary.index[summary["r_hat"] > RHAT_MAX].tolist()
    rows.append(("max R-hat", worst_rhat, f"<= {RHAT_MAX}", not bad))
    if bad:
        problems.append(
            f"R-hat above {RHAT_MAX} for {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}: "
            "the chains disagree. Run longer (more tune and draws) and check the model is identified."
        )
    ess_min = ESS_PER_CHAIN_MIN * chains
    low_ess = float(min(summary["ess_bulk"].min(), summary["ess_tail"].min()))
    bad = summary.index[(summary["ess_bulk"] < ess_min) | (summary["ess_tail"] < ess_min)].tolist()
    rows.append(("min ESS (bulk, tail)", low_ess, f">= {ess_min}", not bad))
    if bad:
        problems.append(
            f"Effective sample size below {ess_min} for {', '.join(bad[:5])}"
            f"{' ...' if len(bad) > 5 else ''}: increase draws (and tune)."
        )
    divergences = int(np.asarray(stats["diverging"]).sum()) if stats is not None and "diverging" in stats else 0
    rows.append(("divergent transitions", divergences, "0", divergences == 0))
    if divergences:
        problems.append(f"{divergences} divergent transitions of {chains * draws}: "
                        + _divergence_advice(group_effects, target_accept, shrinkage))
    if stats is not None and "energy" in stats:
        bfmi = np.atleast_1d(np.asarray(az.bfmi(np.asarray(stats["energy"], dtype=float))))
        low = float(np.min(bfmi))
        rows.append(("min E-BFMI", low, f">= {BFMI_MIN}", low >= BFMI_MIN))
        if low < BFMI_MIN:
            problems.append(
                f"E-BFMI {low:.2f} < {BFMI_MIN}: the sampler explores the energy poorly. "
                "Increase tune, or reparameterise ("
                + ("non-centred group effects, " if group_effects else "")
                + "rescaled predictors)."
            )
    depth = _tree_depth(stats)
    if depth is not None:
        share = float(np.mean(depth >= max_treedepth))
        rows.append(("share at max tree depth", share, f"<= {TREEDEPTH_SHARE_MAX}",
                     share <= TREEDEPTH_SHARE_MAX))
        if share > TREEDEPTH_SHARE_MAX:
            problems.append(
                f"{share:.1%} of draws hit the maximum tree depth {max_treedepth}: the posterior "
                "is hard to traverse. Rescale predictors, or raise max_treedepth."
            )
    table = pd.DataFrame(rows, columns=["check", "value", "threshold", "passed"]).set_index("check")
    return ConvergenceReport(ok=not problems, problems=problems, table=table)


def _divergence_advice(group_effects: bool, target_accept: float | None, shrinkage: bool | str) -> str:
    """What to do about divergences, for this model: its terms, prior and target_accept."""
    if target_accept is None:
        first = "raise target_accept (e.g. 0.95 or 0.99); if they persist, "
    elif target_accept < 0.99:
        higher = " or ".join(f"{t:g}" for t in (0.95, 0.99) if t > target_accept)
        first = f"raise target_accept from {target_accept:g} (e.g. {higher}); if they persist, "
    else:   # already high: raising it further rarely helps
        first = f"at target_accept {target_accept:g} already, "
    if group_effects:
        cure = ("keep group effects non-centred, use tighter priors on the SDs, or simplify the "
                "random-effects structure")
    elif shrinkage:
        prior = f"the {shrinkage} prior" if isinstance(shrinkage, str) else "the shrinkage prior"
        cure = (f"{prior} makes one where coefficients near zero meet a small global "
                "scale: a regularized horseshoe (ml.priors.regularized_horseshoe) or a ridge prior "
                "has a milder one; or rescale the predictors")
    else:
        cure = "rescale the predictors or use tighter priors on the coefficients"
    return f"{first}the posterior has a funnel — {cure}."


def _tree_depth(stats):
    if stats is None:
        return None
    for name in ("tree_depth", "depth"):
        if name in stats:
            return np.asarray(stats[name])
    return None
