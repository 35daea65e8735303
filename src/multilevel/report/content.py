"""What a report says, independent of how it is rendered (markdown or HTML).

:func:`report_content` collects the sections of a fit's report — model, priors,
data, the interval table, convergence — as plain strings and DataFrames, so the
markdown and HTML renderers only lay them out and can never disagree on content.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.errors import ConvergenceWarning
from multilevel.plots.draw import ddf_name
from multilevel.plots.intervals import KINDS, interval_table, is_bayes


@dataclass
class ReportContent:
    """The sections of a report.

    Attributes
    ----------
    title : str
    model : list of (label, value)
        Formula, family, method and how it was estimated.
    priors : DataFrame or None
        Columns ``parameter, prior`` (Bayesian fits; None for ML/REML fits).
    data : list of (label, value)
        Rows used and removed, response, data source.
    groups : DataFrame
        Columns ``factor, levels``: the grouping factors and their level counts.
    table : DataFrame
        The interval table (:func:`interval_table`).
    table_heading : str
        Short, e.g. "ETI 95%", "HDI 90%" or "Wald 95%".
    table_label : str
        What the interval columns are, e.g. "95% equal-tailed credible intervals (ETI)".
    variance : DataFrame or None
        ``VarCorr`` of an ML/REML fit (Bayesian fits carry SDs in ``table``).
    convergence_ok : bool
    convergence_text : str
    convergence_table : DataFrame or None
    practical : DataFrame or None
        With a spec's ``[report] rope = [lo, hi]`` (Bayesian fits): per fixed effect the
        median, credible interval, probability of direction and the share of the interval's
        draws inside the ROPE (:func:`multilevel.effects.describe_posterior`).
    practical_label : str
        What :attr:`practical` shows, in one sentence.
    """

    title: str
    model: list[tuple[str, str]]
    priors: pd.DataFrame | None
    data: list[tuple[str, str]]
    groups: pd.DataFrame
    table: pd.DataFrame
    table_heading: str
    table_label: str
    variance: pd.DataFrame | None = None
    convergence_ok: bool = True
    convergence_text: str = ""
    convergence_table: pd.DataFrame | None = field(default=None)
    practical: pd.DataFrame | None = None
    practical_label: str = ""


def table_label(table: pd.DataFrame) -> str:
    level, kind = table.attrs["ci"], table.attrs["kind"]
    if kind == "wald" and table.attrs.get("ddf"):
        return (f"{level:.0%} confidence intervals of the fixed effects (t with {ddf_name(table)} df, "
                "p as lmerTest)")
    if kind == "wald":
        return f"{level:.0%} Wald confidence intervals of the fixed effects"
    return f"{level:.0%} {KINDS[kind]} credible intervals ({kind.upper()})"


def _table_heading(table: pd.DataFrame) -> str:
    level = f"{table.attrs['ci']:.0%}"
    if table.attrs["kind"] == "wald" and table.attrs.get("ddf"):
        return f"t, {ddf_name(table)} df, {level}"
    return f"{table.attrs['kind'].upper().replace('WALD', 'Wald')} {level}"


def report_ddf(spec=None) -> str | None:
    """The df method of a report's REML/ML table: the spec's ``[report] ddf``, else
    Satterthwaite (lmerTest's default); ``"wald"`` gives lme4's normal-quantile table (None)."""
    ddf = str((getattr(spec, "report", None) or {}).get("ddf", "satterthwaite")).lower()
    return None if ddf == "wald" else ddf


def report_content(fit, spec=None, ci: float = 0.95, kind: str = "eti",
                   ddf: str | None = "spec") -> ReportContent:
    """The sections of a fit's report (see :class:`ReportContent`).

    ``ddf`` as :func:`interval_table`; the default ``"spec"`` takes :func:`report_ddf`
    (Satterthwaite df and p for REML/ML linear mixed models unless the spec says otherwise).
    """
    if ddf == "spec":
        ddf = report_ddf(spec)
    with warnings.catch_warnings():
        # the report states convergence problems in its own section; summary() would warn again
        warnings.simplefilter("ignore", ConvergenceWarning)
        table = interval_table(fit, ci=ci, kind=kind, ddf=ddf)
    content = ReportContent(
        title=spec.name if spec is not None else _main_formula(fit.formula),
        model=_model_rows(fit, spec),
        priors=prior_table(fit) if is_bayes(fit) else None,
        data=_data_rows(fit, spec),
        groups=group_table(fit),
        table=table,
        table_heading=_table_heading(table),
        table_label=table_label(table),
    )
    if not is_bayes(fit):
        content.variance = fit.varcorr
    rope = (getattr(spec, "report", None) or {}).get("rope")
    if rope is not None:
        content.practical, content.practical_label = practical_significance(fit, rope, table)
    from multilevel.diagnostics import check_convergence

    report = check_convergence(fit)   # the sampler's report, or lme4's checkConv for REML/ML
    content.convergence_ok = report.ok
    content.convergence_text = str(report)
    content.convergence_table = report.table
    return content


def practical_significance(fit, rope, table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The "practical significance" section: bayestestR's ``describe_posterior`` of the
    fixed effects with the spec's ROPE, at the report's interval level and kind (the ROPE
    share over the 95% equal-tailed interval, bayestestR's default).

    Raises
    ------
    SpecError
        For a fit that is not Bayesian (the ROPE share needs posterior draws).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", seed=1)  # doctest: +SKIP
    >>> table, label = practical_significance(m, [-5, 5], interval_table(m))    # doctest: +SKIP
    >>> table.loc["Days", "in_rope"]                                            # doctest: +SKIP
    0.0
    """
    from multilevel.effects import describe_posterior
    from multilevel.errors import SpecError

    if not is_bayes(fit):
        raise SpecError(f"[report] rope = {list(rope)} needs a Bayesian fit (method = 'bayes').")
    level, kind = table.attrs["ci"], table.attrs["kind"]
    lo, hi = (float(v) for v in rope)
    out = describe_posterior(fit, rope=(lo, hi), ci=level, ci_method=kind).set_index("Parameter")
    out = out[["Median", "CI_low", "CI_high", "pd", "ROPE_Percentage"]].rename(columns={
        "Median": "median", "CI_low": "lower", "CI_high": "upper", "pd": "p_direction",
        "ROPE_Percentage": "in_rope"})
    out.index.name = "parameter"
    label = (f"Region of practical equivalence (ROPE) [{lo:g}, {hi:g}] on the coefficients' scale: "
             "in_rope is the share of the draws in the 95% equal-tailed interval inside it "
             "(near 0: practically different from zero; near 1: practically zero), p_direction "
             "the posterior probability of the median's sign (bayestestR's describe_posterior)")
    return out, label


# ------------------------------------------------------------------ sections
def _data_as_it_comes(fit, spec) -> list[tuple[str, str]]:
    """Link, offsets, prior weights and the negative binomial's θ, when the model has them."""
    rows = []
    if getattr(fit, "link", None):
        rows.append(("link", fit.link))
    offsets = fit.design.spec.parsed.offsets
    if offsets:
        rows.append(("offset", ", ".join(f"offset({o})" for o in offsets) + " (coefficient fixed at 1)"))
    weights = getattr(spec, "weights", None)
    if weights:
        rows.append(("weights", f"{weights} (prior weights, as lme4's weights=)"))
    if getattr(fit, "nb_theta", None):
        rows.append(("negative binomial theta", f"{fit.nb_theta:.6g} (estimated as glmer.nb)"))
    return rows


def _model_rows(fit, spec) -> list[tuple[str, str]]:
    formulas = fit.formula if isinstance(fit.formula, (list, tuple)) else [fit.formula]
    rows = [("formula", formulas[0])]
    # distributional models: one row per auxiliary parameter's formula ("sigma ~ x")
    rows += [(f"formula of {f.split('~')[0].strip()}", f) for f in formulas[1:]]
    family = fit.family
    if family == "categorical":   # the category whose linear predictor is 0
        family += f" (reference category {fit.design.frame.categories[0]!r})"
    rows += [("family", family)] + _data_as_it_comes(fit, spec)
    if is_bayes(fit):
        s = fit.settings
        rows += [("method", f"Bayesian, NUTS ({s.sampler})"),
                 ("sampling", f"{s.chains} chains x {s.draws} draws after {s.tune} tuning steps, "
                              f"target_accept {s.target_accept}, seed {s.seed}")]
        seconds = sum(v for v in fit.timings.values() if isinstance(v, (int, float)))
        if seconds:
            rows.append(("time", f"{seconds:.1f} s (build, compile, sample)"))
    else:
        name = "REML" if getattr(fit, "reml", False) else "maximum likelihood"
        if not fit.design.reterms:
            name = "least squares" if fit.family == "gaussian" else "maximum likelihood (GLM)"
        elif fit.family != "gaussian":
            name += " (Laplace approximation, as glmer)"
        rows.append(("method", name))
        crit = [f"logLik {fit.loglik:.4f}", f"AIC {fit.aic:.4f}", f"BIC {fit.bic:.4f}"]
        if getattr(fit, "reml_criterion", None) is not None:
            crit.insert(0, f"REML criterion {fit.reml_criterion:.4f}")
        rows.append(("criteria", ", ".join(crit)))
    if spec is not None and getattr(spec, "description", ""):
        rows.append(("description", spec.description))
    return rows


def _data_rows(fit, spec) -> list[tuple[str, str]]:
    frame = fit.design.frame
    rows = []
    if spec is not None:
        rows.append(("data", str(spec.data)))
    rows += [("response", _main_formula(fit.formula).split("~")[0].strip()), ("rows used", str(fit.nobs)),
             ("rows removed (missing values)", str(int(frame.n_dropped)))]
    return rows


def group_table(fit) -> pd.DataFrame:
    """Grouping factors and their numbers of levels, in formula order."""
    seen: dict[str, int] = {}
    for term in fit.design.reterms:
        seen.setdefault(term.group, len(term.levels))
    return pd.DataFrame({"factor": list(seen), "levels": list(seen.values())})


def prior_table(fit) -> pd.DataFrame:
    """One row per parameter of a Bayesian fit and the prior it was given.

    Read from the built model, so it shows Bambi's data-scaled defaults as well as
    user priors; a coefficient preset replaces the slopes' rows, and correlated
    blocks show their HalfNormal SDs and LKJ correlation. Parameters are named as in
    ``fit.summary()`` (``(Intercept)``, ``sd__(Intercept)|Subject``,
    ``cor__(Intercept).Days|Subject``, ``sigma``); a row covering several (a factor's
    coefficients, a preset's slopes, one LKJ prior for several correlations) lists them.
    """
    from multilevel.bayes.names import summary_names

    bambi = fit.built.bambi
    names = summary_names(fit.built)
    component = bambi.conditional_parameters[bambi.family.likelihood.parent]
    preset = bambi.backend.coefficient_prior

    def label(bambi_name: str) -> str:
        return ", ".join(names.get(bambi_name, [bambi_name]))

    rows = []
    if component.intercept_term is not None:
        rows.append((label("Intercept"), _fmt_prior(component.intercept_term.prior)))
    common = list(component.common_terms)
    if preset is not None and common:
        rows.append((", ".join(label(n) for n in common),
                     f"{preset!r}, joint prior on the standardized slopes"))
    else:
        rows += [(label(name), _fmt_prior(term.prior)) for name, term in component.common_terms.items()]
    smooth_priors = getattr(bambi.backend, "smooth_sd_priors", {})
    for block in fit.built.blocks:
        if getattr(block, "smooth", None) is not None:   # built by multilevel.bayes.smooths
            rows.append((label(f"{block.name}_sigma"), smooth_priors.get(block.name, "")))
            continue
        for name in block.bambi_terms:
            prior = component.group_specific_terms[name].prior
            sd = prior.args.get("sigma") if getattr(prior, "name", None) == "Normal" else None
            if sd is not None and set(prior.args) == {"mu", "sigma"} and np.all(np.asarray(prior.args["mu"]) == 0):
                rows.append((label(f"{name}_sigma"), _fmt_prior(sd)))
            else:   # not a zero-mean normal with an SD: the group effects' whole prior
                rows.append((label(f"{name}_sigma"), f"group effects ~ {_fmt_prior(prior)}"))
        if block.structure is not None:   # lme4 2.0's cs/ar1/toep/diag (bayes.structures)
            from multilevel.bayes.structures import prior_description

            rows.append((label(block.corr_name) if block.correlated else f"structure|{block.name}",
                         prior_description(block)))
        elif block.correlated:
            rows.append((label(block.corr_name),
                         f"LKJ(eta: {bambi.backend.lkj_eta:g}) on the correlation matrix"))
    for part in fit.built.aux:   # a formula for sigma, psi, ...: its terms' priors (Bambi's)
        aux = bambi.conditional_parameters[part.param]
        if aux.intercept_term is not None:
            rows.append((label(f"{part.prefix}Intercept"), _fmt_prior(aux.intercept_term.prior)))
        rows += [(label(f"{part.prefix}{name}"), _fmt_prior(term.prior))
                 for name, term in aux.common_terms.items()]
        by_name = {t.name: t for t in aux.group_specific_terms.values()}
        for block in part.blocks:
            for name in block.bambi_terms:
                prior = by_name[name].prior
                sd = prior.args.get("sigma") if getattr(prior, "name", None) == "Normal" else None
                rows.append((label(f"{name}_sigma"), _fmt_prior(sd) if sd is not None
                             else f"group effects ~ {_fmt_prior(prior)}"))
            if block.correlated:
                rows.append((label(block.corr_name),
                             f"LKJ(eta: {bambi.backend.lkj_eta:g}) on the correlation matrix"))
    for name, comp in bambi.marginal_parameters.items():
        rows.append((name, _fmt_prior(comp.prior)))
    return pd.DataFrame(rows, columns=["parameter", "prior"])


def _main_formula(formula) -> str:
    """The response's formula (the first of a distributional model's list)."""
    return formula[0] if isinstance(formula, (list, tuple)) else formula


def _fmt_prior(prior) -> str:
    """A Bambi prior as ``Normal(mu: 0.0, sigma: 48.89)`` with 4 significant digits."""
    if not hasattr(prior, "args"):
        return str(prior)
    args = ", ".join(f"{k}: {_fmt_prior(v) if hasattr(v, 'args') else _fmt_value(v)}"
                     for k, v in prior.args.items())
    return f"{prior.name}({args})"


def _fmt_value(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0 and np.issubdtype(arr.dtype, np.number):
        return f"{float(arr):.4g}"
    if arr.ndim == 1 and np.issubdtype(arr.dtype, np.number):
        return "[" + ", ".join(f"{float(v):.4g}" for v in arr) + "]"
    return str(value)
