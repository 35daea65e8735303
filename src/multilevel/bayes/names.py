"""One name per parameter: Bambi's posterior variables → the summary's row names.

A Bayesian fit's summary names its parameters as lme4 does: fixed effects by their
columns (``(Intercept)``, ``Days``, ``period2``), group-effect SDs
``sd__<column>|<group>``, correlations ``cor__<a>.<b>|<group>``, auxiliary
parameters (``sigma``, ``nu``, ``alpha``). Bambi stores them as ``Intercept``,
``Days``, ``period`` (one vector per factor term), ``1|Subject_sigma`` and
``corr|Subject`` (the correlation matrix of a correlated block). Everything shown to
the user (sensitivity tables, prior tables, error messages) uses the summary's names;
this module maps Bambi's to them.
"""

from __future__ import annotations

import numpy as np

from multilevel.bayes.distributional import summary_names as aux_summary_names
from multilevel.bayes.residuals import PARAMS
from multilevel.bayes.translate import FAMILY_AUXILIARY


def cor_names(block, group: str) -> list[str]:
    """``cor__<a>.<b>|<group>`` for each pair of a correlated block's columns, as the
    summary orders them."""
    cnms = block.cnms
    return [f"cor__{cnms[i]}.{cnms[j]}|{group}"
            for i in range(len(cnms)) for j in range(i + 1, len(cnms))]


def summary_names(built, posterior=None) -> dict[str, list[str]]:
    """``{Bambi variable: [summary names]}`` for the model's parameters.

    Parameters
    ----------
    built : BuiltModel
    posterior : xarray Dataset, optional
        Gives the widths of factor terms; without it they come from the design
        (:meth:`multilevel.formula.design.DesignSpec.term_widths`).

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.bayes.model import build_model
    >>> built = build_model("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> summary_names(built)["1|Subject_sigma"], summary_names(built)["corr|Subject"]
    (['sd__(Intercept)|Subject'], ['cor__(Intercept).Days|Subject'])
    """
    bambi = built.bambi
    component = bambi.conditional_parameters[bambi.family.likelihood.parent]
    x_names = built.design.spec.in_bambi_order(built.design.x_names)   # as the values are stored
    out: dict[str, list[str]] = {}
    k = 0
    if component.intercept_term is not None:
        out["Intercept"], k = [x_names[0]], 1
    widths = built.design.spec.term_widths()
    for name in component.common_terms:
        if posterior is not None and name in posterior:
            width = int(np.prod(posterior[name].shape[2:], dtype=int))
        else:
            width = widths.get(name, 1)
        out[name], k = x_names[k:k + width], k + width
    groups = {t.name: t.group for t in built.design.reterms}
    for block in built.blocks:
        group = groups[block.name]
        sds = [f"sd__{cnm}|{group}" for cnm in block.cnms]
        one_each = len(block.cnms) == len(block.bambi_terms)
        for i, term in enumerate(block.bambi_terms):
            out[f"{term}_sigma"] = [sds[i]] if one_each else sds
        if block.correlated:
            out[block.corr_name] = cor_names(block, group)
        if block.structure is not None:   # the structure's free parameters (bayes.structures)
            from multilevel.bayes.structures import free_parameter_names

            out.update(free_parameter_names(block, group, sds))
    for part in getattr(built, "aux", ()):   # sigma_(Intercept), sd__sigma_(Intercept)|g, ...
        out.update(aux_summary_names(part, posterior))
    modelled = {part.param for part in getattr(built, "aux", ())}
    auxiliary = [n for n in FAMILY_AUXILIARY.get(built.family, ()) if n not in modelled]
    if posterior is not None:   # with the residual correlation of ar() / cosy() fits
        auxiliary = [n for n in (*auxiliary, *PARAMS.values()) if n in posterior]
    out.update({name: [name] for name in auxiliary})
    if built.family == "categorical":   # one parameter per category: x[versicolor]
        from multilevel.bayes.categorical import labelled

        out = {k: labelled(v, built.design) for k, v in out.items()}
    return out
