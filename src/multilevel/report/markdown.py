"""The credible-interval table and a markdown report of a fit."""

from __future__ import annotations

import pandas as pd


def interval_table(fit, ci: float = 0.95, kind: str = "eti") -> pd.DataFrame:
    """Estimate and interval per parameter, labelled with the interval's kind and level.

    Parameters
    ----------
    fit : BayesFit or FreqFit
    ci : float
    kind : {"eti", "hdi"}
        Bayesian fits only (frequentist fits give Wald intervals of the fixed effects).
    """
    if hasattr(fit, "idata"):
        table = fit.summary(ci=ci, kind=kind)
    else:
        table = fit.summary()
    table = table.copy()
    table.attrs.update(ci=ci, kind=kind)
    return table


def _markdown_table(table: pd.DataFrame, digits: int = 4) -> str:
    cols = [table.index.name or "parameter", *map(str, table.columns)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, row in table.iterrows():
        cells = [f"{v:.{digits}g}" if isinstance(v, float) else str(v) for v in row]
        cells = [str(name), *cells]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def fit_markdown(fit, spec=None, ci: float = 0.95, kind: str = "eti") -> str:
    """A markdown report: model, priors, data, interval table, convergence."""
    table = interval_table(fit, ci=ci, kind=kind)
    title = spec.name if spec is not None else fit.formula
    parts = [f"# {title}", "", f"- formula: `{fit.formula}`", f"- family: {fit.family}",
             f"- observations: {fit.nobs}"]
    if hasattr(fit, "settings"):
        s = fit.settings
        parts += [f"- sampler: {s.sampler}, {s.chains} chains x {s.draws} draws "
                  f"(tune {s.tune}), seed {s.seed}",
                  f"- priors: {_describe_priors(fit)}"]
    dropped = fit.design.frame.n_dropped
    if dropped:
        parts.append(f"- rows removed for missing values: {dropped}")
    label = f"{kind.upper()} {ci:.0%}" if hasattr(fit, "idata") else "estimates"
    parts += ["", f"## Parameters ({label})", "", _markdown_table(table)]
    if hasattr(fit, "convergence"):
        parts += ["", "## Convergence", "", str(fit.convergence)]
    return "\n".join(parts) + "\n"


def _describe_priors(fit) -> str:
    priors = fit.built.priors
    if priors is None:
        return "weakly informative defaults (Bambi, scaled to the data; LKJ(1) correlations)"
    return repr(priors)
