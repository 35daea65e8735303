"""Printed form of frequentist fits, laid out as lme4's ``print(summary(m))``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.freq.tables import wald_table

LINKS = {"gaussian": "identity", "binomial": "logit", "bernoulli": "logit", "poisson": "log"}


def _r_family(fit) -> str:
    """The family as R prints it: Gamma, Negative Binomial(3.3032), binomial, ..."""
    if fit.family == "gamma":
        return "Gamma"
    if fit.family == "wald":
        return "inverse.gaussian"
    if fit.family == "negativebinomial":
        return f"Negative Binomial({fit.nb_theta:.4g})"
    return fit.family


def _stat_line(fit) -> list[str]:
    names = ["AIC", "BIC", "logLik", "deviance", "df.resid"]
    values = [f"{fit.aic:.1f}", f"{fit.bic:.1f}", f"{fit.loglik:.1f}", f"{-2 * fit.loglik:.1f}",
              f"{fit.df_resid}"]
    width = max(8, *(len(v) for v in values))
    return [" ".join(n.rjust(width) for n in names), " ".join(v.rjust(width) for v in values)]


def random_effects_table(fit) -> str:
    """lme4's ``print(VarCorr(m))`` block with variances, SDs and correlations."""
    rows = []
    cov = fit.covariance()
    width_corr = max((t.q for t in fit.design.reterms), default=1) - 1
    for term in fit.design.reterms:
        C = cov[term.name]
        sd = np.sqrt(np.diag(C))
        for i, cnm in enumerate(term.cnms):
            corr = [f"{C[i, j] / (sd[i] * sd[j]):.2f}" if sd[i] > 0 and sd[j] > 0 else "NaN"
                    for j in range(i)]
            # a structured term's structure under its name (``(cs)``, ``(ar1)``; lme4 2.0 syntax)
            structure = term.bar.structure
            tag = f"({structure.label})" if structure is not None and structure.kind != "us" else ""
            group = term.name if i == 0 else tag if i == 1 else ""
            rows.append([group, cnm, f"{C[i, i]:.4g}", f"{sd[i]:.4g}",
                         *corr, *[""] * (width_corr - len(corr))])
    columns = ["Groups", "Name", "Variance", "Std.Dev."] + (["Corr"] + [""] * (width_corr - 1)
                                                           if width_corr else [])
    if fit.family in ("gaussian", "gamma", "wald"):   # lme4 prints the scale of useSc families
        rows.append(["Residual", "", f"{fit.sigma ** 2:.4g}", f"{fit.sigma:.4g}", *[""] * width_corr])
    table = pd.DataFrame(rows, columns=range(len(columns)))
    widths = [max(len(str(c)), *(len(str(v)) for v in table[k])) for k, c in enumerate(columns)]
    left = {0, 1}
    lines = [" " + " ".join(str(c).ljust(w) if k in left else str(c).rjust(w)
                            for k, (c, w) in enumerate(zip(columns, widths))).rstrip()]
    for row in rows:
        lines.append(" " + " ".join(str(v).ljust(w) if k in left else str(v).rjust(w)
                                    for k, (v, w) in enumerate(zip(row, widths))).rstrip())
    return "\n".join(lines)


def _groups_line(fit) -> str:
    seen = {}
    for term in fit.design.reterms:
        seen.setdefault(term.name, term.n_levels)
    groups = "; ".join(f"{g}, {m}" for g, m in seen.items())
    return f"Number of obs: {fit.nobs}, groups:  {groups}"


def format_fit(fit) -> str:
    """The whole printed summary of a FreqFit or GLMMFit."""
    gaussian = fit.family == "gaussian"
    if gaussian:
        lines = [f"Linear mixed model fit by {'REML' if fit.reml else 'maximum likelihood'}"]
    else:
        lines = ["Generalized linear mixed model fit by maximum likelihood "
                 f"({fit.approximation})", f" Family: {_r_family(fit)}  ( {fit.family_object.link} )"]
    lines.append(f"Formula: {fit.formula}")
    if fit.reml:
        lines += ["", f"REML criterion at convergence: {fit.reml_criterion:.4f}"]
    else:
        lines += [""] + _stat_line(fit)
    if gaussian:
        resid = (fit.design.y - fit.linear_predictor()) / fit.sigma
        if fit.design.weights is not None:   # lme4 prints Pearson residuals: √w (y − μ)/σ
            resid = resid * np.sqrt(fit.design.weights)
        q = np.quantile(resid, [0, 0.25, 0.5, 0.75, 1])
        lines += ["", "Scaled residuals:",
                  "     Min       1Q   Median       3Q      Max",
                  " ".join(f"{v:8.4f}" for v in q)]
    lines += ["", "Random effects:", random_effects_table(fit), _groups_line(fit), "",
              "Fixed effects:", _fixed_table(fit).to_string(float_format=lambda v: f"{v:.5g}")]
    notes = _notes(fit)
    if notes:
        lines += [""] + notes
    return "\n".join(lines)


def _fixed_table(fit) -> pd.DataFrame:
    # lme4's print: no df or p (summary(ddf=...) adds them; computing them in a repr would
    # cost a Hessian of the deviance)
    return wald_table(fit.fixef, fit.se, "t_value", None) if fit.family == "gaussian" else fit.summary()


def _notes(fit) -> list[str]:
    notes = list(fit.messages)
    if getattr(fit, "nagq", 1) > 1:
        notes.append(f"logLik leaves out the saturated log-likelihood ({fit.saturated_loglik:.4f}) "
                     f"when nAGQ > 1, as lme4; the whole AGQ log-likelihood is fit.loglik_full "
                     f"({fit.loglik_full:.4f}), comparable with nAGQ = 1 and GLMs")
    if fit.singular:
        notes.append(f"boundary (singular) fit: {', '.join(fit.singular_terms())}")
    if not fit.converged:
        notes.append(f"optimizer did not converge: {fit.optimizer_message}")
    return notes


def format_fit_html(fit) -> str:
    """HTML for notebooks (``_repr_html_``): the header lines as printed, then the random
    effects (``VarCorr``) and fixed-effects tables, then the notes. Models without
    ``( | )`` terms: the header and the coefficient table."""
    from multilevel.display import html_pre, html_section, html_table

    text = repr(fit)
    if not getattr(fit.design, "reterms", None):
        head, _, _ = text.partition("\n\n")
        title, _, rest = head.partition("\n")
        parts = [(None, html_pre(rest))] if rest else []
        parts.append(("Coefficients", html_table(fit.summary(), digits=5)))
        if fit.messages:
            parts.append(("Notes", html_pre("\n".join(fit.messages))))
        return html_section(title, parts)
    title, _, rest = text.partition("\n")
    head = rest.partition("\nRandom effects:")[0].strip("\n")
    parts = [(None, html_pre(head)),
             ("Random effects", html_table(fit.varcorr, index=False) + html_pre(_groups_line(fit))),
             ("Fixed effects", html_table(_fixed_table(fit), digits=5))]
    notes = _notes(fit)
    if notes:
        parts.append(("Notes", html_pre("\n".join(notes))))
    return html_section(title, parts)
