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


def convergence_report(idata, summary: pd.DataFrame, max_treedepth: int = 10, *,
                       group_effects: bool | None = None, shrinkage: str | None = None
                       ) -> ConvergenceReport:
    """Check R-hat, ESS, divergences, E-BFMI and tree depth of a sampled fit.

    Parameters
    ----------
    idata : DataTree
        With ``posterior`` and ``sample_stats`` groups.
    summary : DataFrame
        Per-parameter ``r_hat``, ``ess_bulk`` and ``ess_tail`` (as from ``BayesFit.summary``).
    max_treedepth : int
        The sampler's maximum tree depth (10 for PyMC and nutpie).
    group_effects : bool, optional
        Whether the model has group effects (``None``: unknown); the advice on
        divergences names only what the model has.
    shrinkage : str, optional
        The name of a coefficient-prior preset (``"horseshoe"``, ``"lasso"``, ...).
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
        problems.append(f"{divergences} divergent transitions of {chains * draws}: raise "
                        f"target_accept (e.g. 0.95 or 0.99); {_funnel_advice(group_effects, shrinkage)}")
    if stats is not None and "energy" in stats:
        bfmi = np.atleast_1d(np.asarray(az.bfmi(np.asarray(stats["energy"], dtype=float))))
        low = float(np.min(bfmi))
        rows.append(("min E-BFMI", low, f">= {BFMI_MIN}", low >= BFMI_MIN))
        if low < BFMI_MIN:
            problems.append(
                f"E-BFMI {low:.2f} < {BFMI_MIN}: the sampler explores the energy poorly. "
                "Increase tune, or reparameterise (non-centred group effects, rescaled predictors)."
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


def _funnel_advice(group_effects: bool | None, shrinkage: str | None) -> str:
    """What to do when divergences persist, for the pieces the model has."""
    fixes = []
    if shrinkage:
        fixes.append(f"the {shrinkage} prior's learned scales: more tune (e.g. tune=2000), or "
                     "fix the scale (e.g. ml.priors.lasso(scale=...))")
    if group_effects or group_effects is None:
        fixes.append("group effects: noncentered=True, tighter priors on their SDs, or a "
                     "simpler random-effects structure")
    if not fixes:
        fixes.append("rescale the predictors or give the coefficients tighter priors")
    return "if they persist, the posterior has a funnel; " + "; ".join(fixes) + "."


def _tree_depth(stats):
    if stats is None:
        return None
    for name in ("tree_depth", "depth"):
        if name in stats:
            return np.asarray(stats[name])
    return None
