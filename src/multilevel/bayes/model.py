"""Formula + data + priors → a built Bambi model on our backend (no sampling yet).

Stages: parse (lme4 syntax) → model frame (rows, response) → design (lme4's
layout, for naming and for the frequentist companion) → Bambi model with the
translated formula and priors → our PyMC backend (correlated blocks, presets).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import warnings
from dataclasses import dataclass, field

import pandas as pd

from multilevel.bayes.scoped import scoped
from multilevel.bayes.translate import (
    BAMBI_FAMILIES,
    BAMBI_LINKS,
    FAMILY_AUXILIARY,
    Block,
    bambi_formula,
    blocks,
    check_prior_sizes,
    translate_priors,
)
from multilevel.errors import FamilyError, FormulaError, PriorError
from multilevel.formula import (
    Design,
    build_design,
    check_family,
    model_frame,
    parse_formula,
)
from multilevel.formula.distributional import frame_formula, split_formulas
from multilevel.formula.families import CATEGORICAL_FAMILIES, ORDINAL_FAMILIES
from multilevel.formula.frame import (
    SUCCESSES,
    TRIALS,
    categorical_response,
    labelled_groups,
)
from multilevel.formula.links import check_link
from multilevel.formula.namespace import SAFE_FUNCTIONS
from multilevel.formula.parse import column_names
from multilevel.formula.transforms import integers_as_doubles, r_transforms


@dataclass
class BuiltModel:
    """A Bambi model built on :class:`~multilevel.bayes.backend.MultilevelPyMCModel`.

    Attributes
    ----------
    bambi : bambi.Model
    design : Design
        The same design the frequentist engine uses (lme4 names and order).
    blocks : list of Block
    formula : str
        The user's lme4 formula.
    family : str
    priors : object
        What the user passed (kept for reports).
    """

    bambi: object
    design: Design
    blocks: list[Block]
    formula: str
    family: str
    priors: object = field(default=None)
    link: str | None = None   # a non-default link (R's name); None: the family's default
    weights: str | None = None   # the weights column (binomial trials of a proportion response)
    data2: dict | None = field(default=None, repr=False)   # gr(g, cov = A)'s matrices by name
    aux: tuple = ()   # AuxPart per auxiliary parameter with a formula (multilevel.bayes.distributional)

    def aux_part(self, param: str):
        """The :class:`~multilevel.bayes.distributional.AuxPart` of ``param``, or None."""
        return next((p for p in self.aux if p.param == param), None)

    @property
    def pymc(self):
        """The PyMC model."""
        return self.bambi.backend.model

    def sample_prior(self, draws: int = 500, seed: int | None = None):
        """Draws from the prior and the prior predictive distribution (seeded).

        Returns
        -------
        DataTree with groups ``prior``, ``prior_predictive`` and ``observed_data``.
        """
        import pymc as pm

        from multilevel.bayes.sampling import _quiet_sampler_logs as quiet_sampler_logs

        # PyMC logs "Sampling: [names]" on every call: not the user's business (its
        # warnings still show)
        with warnings.catch_warnings(), quiet_sampler_logs(True):
            # ar1/cs likelihoods draw through numpy (multilevel.bayes.residuals.simulate),
            # which numba runs in object mode: correct, only slower
            warnings.filterwarnings("ignore", message="Numba will use object mode to run CustomDist",
                                    category=UserWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)  # PyMC's own dependencies
            return pm.sample_prior_predictive(draws=draws, model=self.pymc, random_seed=seed)


def build_model(formula: str | list[str], data: pd.DataFrame, family: str = "gaussian", priors=None,
                na: str = "drop", lkj_eta: float = 1.0, noncentered: bool | str = "auto",
                weights: str | None = None, link: str | None = None,
                data2: dict | None = None) -> BuiltModel:
    """Build (but do not sample) the Bayesian model of an lme4 formula.

    Parameters
    ----------
    formula : str or list of str
        lme4 syntax, e.g. ``"Reaction ~ Days + (Days | Subject)"``; a list adds formulas
        for the family's auxiliary parameters, ``["y ~ x + (1 | g)", "sigma ~ x"]``
        (:mod:`multilevel.bayes.distributional`).
    data : DataFrame
    family : str
    priors : None, preset or dict
        ``None``: Bambi's weakly-informative, data-scaled defaults (Normal priors on
        coefficients, HalfNormal on standard deviations, LKJ(``lkj_eta``) on
        correlations). A preset (``ml.priors.ridge()``, ...) for all fixed-effect
        slopes. A dict mapping term names to priors; the key ``"common"`` holds a
        preset for the slopes.
    na : {"drop", "error"}
    lkj_eta : float
        LKJ shape for the correlation matrices of ``(x | g)`` blocks (1 = uniform).
    weights : str, optional
        Prior weights: for ``family="gaussian"`` the residual SD of row i is σ/√wᵢ (lme4's
        σ²/w); for ``family="binomial"`` with a proportion response the column of trials
        (R's proportion-and-weights form). Other families refuse them.
    link : str, optional
        R's link name, passed to Bambi (``"probit"``, ``"cloglog"``, ``"log"``, ...).
    data2 : dict, optional
        Known covariance matrices of ``(1 | gr(g, cov = A))`` terms by name (brms's
        ``data2``): the effects are sd · R z with A = R R' (:mod:`multilevel.bayes.known`).
    noncentered : bool or "auto"
        Parameterization of the scalar and ``||`` group effects (correlated blocks are
        always non-centred); the posterior is the same, only the sampler's geometry
        differs. ``True``/``False``: every such term non-centred/centred. ``"auto"`` (the
        default): models whose random intercepts the data pin down are centred (Gaussian,
        Poisson, zero-inflated Poisson, binomial/Bernoulli-logit, and gamma/exponential/
        weibull-log, lognormal, laplace and beta read as Gaussian on the link scale), and
        sampled with nutpie's low-rank mass matrix
        (:func:`multilevel.bayes.parameterization.centred_terms`); other families are
        centred when every grouping factor has at least :data:`CENTRED_MIN_PER_LEVEL`
        rows per level (ordinal and categorical ones never); non-centred otherwise.

    Returns
    -------
    BuiltModel

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.bayes import build_model
    >>> built = build_model("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> sorted(built.pymc.named_vars)[:3]
    ['1|Subject', 'Days', 'Days|Subject']
    """
    import bambi as bmb

    from multilevel.bayes import distributional as dist
    from multilevel.bayes.backend import MultilevelPyMCModel

    formulas = split_formulas(formula, check_family(family))
    parsed = parse_formula(formulas.main)
    frame = model_frame(frame_formula(parsed, formulas.aux), data, family=family, na=na,
                        weights=weights)
    _check_distributional(formulas, parsed, frame)
    if frame.weights is not None and frame.family != "gaussian":
        raise FamilyError("weights= in a Bayesian fit are taken for family='gaussian' (residual SD "
                          "σ/√w) and family='binomial' with a proportion response (the weights are "
                          "the trials); other families: method='ml'.")
    link = check_link(frame.family, link)
    if frame.family == "wald" and link is not None:
        raise FamilyError(f"link={link!r} for family 'wald' is fitted by method='ml' (glmer's "
                          "inverse.gaussian); method='bayes' fits the log link (a mean for every "
                          "η: Bambi's 1/mu^2 starts chains where the mean is undefined).")
    if frame.family == "bernoulli" and frame.y is None and categorical_response(frame, parsed.response.text):
        # Bambi reads a comparison such as I(s > 0) as two categories and fails on them
        raise FormulaError(f"The response {parsed.response.text!r} is an expression; a Bayesian "
                           "bernoulli (or 0/1 binomial) fit needs it as a 0/1 data column: add the "
                           "column (data['y'] = (data['s'] > 0).astype(int)) and name it, or use "
                           "method='ml'.")
    design = build_design(parsed, frame, data2=data2)
    if frame.family in ORDINAL_FAMILIES:   # thresholds in the intercept's place, as Bambi
        from multilevel.bayes.ordinal import without_intercept

        design = without_intercept(design)
    if design.dropped_columns:
        raise FormulaError(
            f"The fixed effects are rank deficient: {', '.join(design.dropped_columns)} "
            "are linear combinations of other columns and not identified. Remove them from "
            "the formula (the REML/ML engine drops them as lme4 does)."
        )
    layout = None
    if parsed.residuals is not None:  # checked before Bambi builds anything
        from multilevel.bayes.residuals import residual_layout

        layout = residual_layout(parsed.residuals, frame.data, frame.family, parsed.bars)
    smooth_data = {}   # s(x): the unpenalized columns go to Bambi as fixed effects
    for sm in design.spec.smooths:
        from multilevel.bayes.smooths import bambi_column

        values = sm.fixed_matrix(frame.data)
        smooth_data.update({bambi_column(sm, i): values[:, i] for i in range(values.shape[1])})
    designs = dist.aux_designs(formulas.aux, frame)
    preset, per_term = _split_priors(priors)
    main_formula = bambi_formula(parsed, trials=frame.trials is not None,
                                 smooth_columns=list(smooth_data))
    if designs:
        main_formula = bmb.Formula(main_formula, *(dist.bambi_aux_formula(a) for a, _ in designs))
    # another data set's choice of parameterisation (SBC, refits): one structure, one compilation
    fixed = _FIXED_GEOMETRY.get() if noncentered == "auto" else None
    with warnings.catch_warnings(), r_transforms():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="bambi")
        model = bmb.Model(main_formula, _bambi_data(parsed, formulas, frame, smooth_data),
                          family=BAMBI_FAMILIES[frame.family],
                          link=link or BAMBI_LINKS.get(frame.family), extra_namespace=dict(SAFE_FUNCTIONS),
                          noncentered=_noncentered(noncentered) if fixed is None else fixed[2])
    component = model.conditional_parameters[model.family.likelihood.parent]
    block_list = blocks(design, component.group_specific_terms)
    if frame.family in CATEGORICAL_FAMILIES:   # one linear predictor per category
        from multilevel.bayes.categorical import check_supported

        check_supported(parsed, design, block_list, preset, formulas.aux)
    if fixed is None:
        centred = _centred(noncentered, design, block_list, frame.family, link)
        link_scale_known = noncentered == "auto" and _moment_form(design, frame.family, link)
    else:
        centred, link_scale_known = (None if fixed[0] is None else set(fixed[0])), fixed[1]
    parts = dist.build_parts(model, designs)
    per_term, aux_priors = dist.split_priors(per_term, parts)
    modelled = {p.param for p in parts}
    scalar_aux = tuple(p for p in FAMILY_AUXILIARY.get(frame.family, ()) if p not in modelled)
    if per_term or any(aux_priors.values()):
        bambi_priors = translate_priors(per_term, design, block_list, component.common_terms,
                                        auxiliary=scalar_aux)
        overridden = [k for k in bambi_priors if preset is not None and k in component.common_terms]
        if overridden:  # the preset builds every slope; a per-term prior would be ignored
            raise PriorError(
                f"The coefficient preset {preset!r} sets the prior of every slope, so the prior(s) "
                f"given for {', '.join(map(repr, overridden))} would not be used. Drop them, or "
                "drop the preset and give each slope its own prior."
            )
        converted = {k: _to_bambi(v, k) for k, v in bambi_priors.items()}
        check_prior_sizes(converted, component.common_terms)
        for part in parts:
            if aux_priors[part.param]:
                given = dist.bambi_aux_priors(part, aux_priors[part.param], model)
                converted[part.param] = {k: _to_bambi(v, f"{part.prefix}{k}") for k, v in given.items()}
        model.set_priors(converted)
    if frame.family in ORDINAL_FAMILIES and "threshold" not in per_term:
        from multilevel.bayes.ordinal import default_threshold_prior

        model.set_priors({"threshold": default_threshold_prior(frame.family, len(frame.categories))})
    model.backend = MultilevelPyMCModel(block_list, coefficient_prior=preset, lkj_eta=lkj_eta,
                                        prior_weights=frame.weights,
                                        residuals=layout, centred=centred,
                                        aux_blocks={p.param: list(p.blocks) for p in parts})
    # the centred-by-data models mix best with nutpie's low-rank mass matrix (sampling.run)
    model.backend.low_rank_mass_matrix = bool(centred) and link_scale_known
    # a model with an LKJ block (always non-centred) mixes best with Stan's draw-variance
    # adaptation of the diagonal mass matrix (sampling.run; bench/README "Mass matrix")
    model.backend.draw_variance_mass_matrix = (not model.backend.low_rank_mass_matrix and
                                               any(b.lkj for b in block_list))
    try:
        model.backend.build(model)
    except ValueError as exc:   # PyMC's own check of a variable's name
        if "cannot contain '/'" not in str(exc):
            raise
        raise FormulaError(f"{exc} A division inside a call reaches the Bayesian model as "
                           "divide(a, b) unless Python cannot read the call (a backticked or "
                           "dotted-number name). Compute the column in the data and use its "
                           "name.") from None
    model.built = True
    return BuiltModel(bambi=model, design=design, blocks=block_list, formula=formulas.as_given(),
                      family=frame.family, priors=priors, link=link, weights=weights,
                      data2=data2, aux=tuple(parts))


def _check_distributional(formulas, parsed, frame) -> None:
    """What a formula for an auxiliary parameter cannot go with (clear errors, before Bambi)."""
    params = {a.param for a in formulas.aux}
    if "sigma" not in params:
        return
    if parsed.residuals is not None:
        raise FormulaError(f"{parsed.residuals.source!r} with a formula for sigma: the correlated "
                           "residuals' likelihood takes one residual SD. Drop one of the two.")
    if frame.weights is not None:
        raise FamilyError("weights= with a formula for sigma: prior weights scale one residual SD "
                          "(σ/√w); model the residual SD by the formula instead (e.g. "
                          "'sigma ~ log(w)'), without weights=.")


CENTRED_MIN_PER_LEVEL = 20

_FIXED_GEOMETRY: contextvars.ContextVar = contextvars.ContextVar("multilevel_fixed_geometry",
                                                                 default=None)


def parameterization(built: BuiltModel) -> tuple:
    """How ``built``'s group effects are parameterised: (centred Bambi terms or ``None``,
    low-rank mass matrix, Bambi's model-wide ``noncentered``), for
    :func:`fixed_parameterization`; an explicit ``noncentered=True/False`` included."""
    backend = built.bambi.backend
    centred = getattr(backend, "centred", None)
    return (None if centred is None else frozenset(centred),
            bool(getattr(backend, "low_rank_mass_matrix", False)), bool(built.bambi.noncentered))


@contextlib.contextmanager
def fixed_parameterization(choice: tuple | None):
    """Within this block, ``noncentered="auto"`` builds the terms centred and the mass
    matrix that ``choice`` (:func:`parameterization` of a model of the same formula) says,
    instead of deciding from each data set.

    The choice is about the sampler's geometry, never the posterior. SBC and refits
    (K-fold, reloo) need it: each replicate's simulated response or training set would
    decide anew, and two parameterisations are two structures, two compilations (cbpp's
    SBC: 19 of 30 replicates centred).
    """
    with scoped(_FIXED_GEOMETRY, choice):
        yield


def _noncentered(option) -> bool:
    """Bambi's model-wide ``noncentered`` flag (``"auto"``: per term, see :func:`_centred`)."""
    if option == "auto":
        return True
    if not isinstance(option, bool):
        raise PriorError(f"noncentered must be True, False or 'auto', got {option!r}.")
    return option


def _centred(option, design: Design, block_list: list[Block], family: str,
             link: str | None) -> set[str] | None:
    """Bambi's names of the uncorrelated group terms to build centred under ``"auto"``
    (``None``: Bambi's model-wide flag decides)."""
    if option != "auto":
        return None
    from multilevel.bayes.parameterization import centred_terms

    by_name = {b.name: b for b in block_list}
    if _moment_form(design, family, link):
        names = centred_terms(design, family, link)
    elif family in (*ORDINAL_FAMILIES, *CATEGORICAL_FAMILIES):   # non-centred mix better here
        names = set()
    else:   # no moment form for this family: rows per level decide, as before
        per_level = [len(design.y) / max(1, t.n_levels) for t in design.reterms]
        many = bool(per_level) and min(per_level) >= CENTRED_MIN_PER_LEVEL
        names = {t.name for t in design.reterms} if many else set()
    return {term for name in names if not by_name[name].correlated
            for term in by_name[name].bambi_terms}


def _moment_form(design: Design, family: str, link: str | None) -> bool:
    from multilevel.bayes.parameterization import link_scale

    return link_scale(design, family, link) is not None


def _split_priors(priors):
    """(coefficient preset or None, per-term dict)."""
    if priors is None:
        return None, {}
    if hasattr(priors, "build_coefficients"):
        return priors, {}
    if isinstance(priors, dict):
        per_term = dict(priors)
        preset = per_term.pop("common", None)
        if preset is not None and not hasattr(preset, "build_coefficients"):
            raise PriorError(
                "priors['common'] must be a coefficient preset such as ml.priors.ridge(); "
                f"got {type(preset).__name__}."
            )
        return preset, per_term
    raise PriorError(
        f"priors must be None, a preset (ml.priors.ridge(), ...) or a dict of term → prior; "
        f"got {type(priors).__name__}."
    )


def _to_bambi(prior, term: str):
    import bambi as bmb

    if isinstance(prior, bmb.Prior):
        from multilevel.priors.base import check_distribution

        check_distribution(prior.name, dict(prior.args), f"The prior for {term!r}")
        return prior
    if isinstance(prior, (int, float)) and not isinstance(prior, bool):
        if not math.isfinite(prior):
            raise PriorError(f"The constant prior for {term!r} must be a finite number, got {prior!r}.")
        return prior
    if hasattr(prior, "to_bambi"):
        return prior.to_bambi()
    raise PriorError(
        f"The prior for {term!r} must be ml.priors.Prior(...), bambi.Prior(...) or a number "
        f"(a constant); got {type(prior).__name__}."
    )


def _bambi_data(parsed, formulas, frame, smooth_data: dict) -> pd.DataFrame:
    """The model frame as Bambi gets it: grouping factors as our labels, strings as
    categoricals, numpy columns, and integers used as numbers as doubles (R's arithmetic,
    as the design's: :func:`multilevel.formula.transforms.integers_as_doubles`)."""
    given = formulas.as_given()
    text = " + ".join(given) if isinstance(given, list) else given
    keep = {*column_names(parsed.response.text), SUCCESSES, TRIALS,
            *(v for bar in parsed.bars for v in bar.group_vars)}
    data = labelled_groups(parsed, frame.data).assign(**smooth_data)
    return _numpy_columns(_categorical_strings(integers_as_doubles(data, text, keep=keep)))


def _numpy_columns(data: pd.DataFrame) -> pd.DataFrame:
    """pandas' nullable numbers and booleans (``Int64``, ``Float64``, ``boolean``) as numpy
    columns: the model frame has no missing values left, and Bambi's group-specific terms
    cannot use extension arrays (``'IntegerArray' object has no attribute 'flatten'``)."""
    nullable = [c for c in data.columns if isinstance(data[c].dtype, pd.api.extensions.ExtensionDtype)
                and not isinstance(data[c].dtype, pd.CategoricalDtype)
                and (pd.api.types.is_numeric_dtype(data[c]) or pd.api.types.is_bool_dtype(data[c]))]
    if not nullable:
        return data
    data = data.copy()
    for column in nullable:
        target = bool if pd.api.types.is_bool_dtype(data[column]) else float
        data[column] = data[column].to_numpy(dtype=target)
    return data


def _categorical_strings(data: pd.DataFrame) -> pd.DataFrame:
    """String columns as categoricals: what Bambi would do, without its pandas-4 deprecation
    path (``select_dtypes("object")`` on ``str`` columns)."""
    strings = [c for c in data.columns
               if pd.api.types.is_string_dtype(data[c]) and not isinstance(data[c].dtype, pd.CategoricalDtype)]
    if not strings:
        return data
    data = data.copy()
    for column in strings:
        data[column] = data[column].astype("category")
    return data
