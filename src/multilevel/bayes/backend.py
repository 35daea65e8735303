"""Bambi's PyMC backend, extended where lme4 semantics need more than Bambi gives.

Two extension points of Bambi 0.21's ``DistributionalComponent``:

* ``build_group_specific_terms``: the terms of one correlated block (``(x | g)``)
  get a joint multivariate normal prior, non-centred, with an LKJ prior on the
  correlation matrix and the block's own standard deviations — Bambi's
  (commented-out) ``add_lkj`` done in full. Each Bambi term is still registered as a
  Deterministic with Bambi's name and dims (``1|Subject``, ``Days|Subject``,
  ``..._sigma``), so Bambi's ``predict`` and ``compute_log_likelihood`` keep working.
  Scalar and ``||`` terms are built by Bambi unchanged.
* ``build_common_terms``: a coefficient-prior preset (ridge, lasso, horseshoe, ...
  from :mod:`multilevel.priors`) builds the slope vector itself — Bambi refuses
  hyperpriors shared by common terms.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from bambi.backend.model_components import DistributionalComponent
from bambi.backend.pymc import PyMCModel
from bambi.backend.terms import CommonTerm, GroupSpecificTerm
from bambi.backend.utils import noncentered_default_for

from multilevel.bayes.translate import Block
from multilevel.errors import PriorError

LKJ_ETA = 1.0  # brms' default lkj(1): uniform over correlation matrices


def quiet_blas_check() -> None:
    """PyTensor's BLAS probe, made silent about a missing BLAS (at no cost).

    PyTensor looks for a BLAS the first time a C function needs one (moment matching,
    for one) and warns "PyTensor could not link to a BLAS" on pip installs without
    one — into the user's output, from whatever call comes first, though it is a fact
    of the environment (README, Performance). Resolving the flags up front costs
    0.6 s per process; instead the probe (the ``blas__ldflags`` setting's lazy
    default) is wrapped once to run under a filter for that one message. Where
    PyTensor's config has another shape, nothing is changed.
    """
    import warnings

    import pytensor

    param = type(pytensor.config).__dict__.get("blas__ldflags")
    probe = getattr(param, "_default", None)   # ConfigParam keeps its default there
    if not callable(probe) or getattr(probe, "_multilevel_quiet", False):
        return   # resolved already, set by the user, or another PyTensor

    def quiet_probe():
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
            return probe()

    quiet_probe._multilevel_quiet = True
    param._default = quiet_probe


quiet_blas_check()


class MultilevelPyMCModel(PyMCModel):
    """Bambi's PyMC backend with correlated blocks and coefficient-prior presets.

    Parameters
    ----------
    blocks : list of Block
        The design's random-effects terms matched to Bambi's terms.
    coefficient_prior : object or None
        A preset with ``build_coefficients(X, names, *, sigma, intercept, y_scale)``.
    lkj_eta : float
        Shape of the LKJ prior on each block's correlation matrix.
    residuals : ResidualLayout or None
        Correlated residuals within groups, ``ar(time = t, gr = g)`` or ``cosy(gr = g)``: our exact
        Gaussian likelihood replaces Bambi's (multilevel.bayes.residuals).
    prior_weights : ndarray or None
        Gaussian prior weights (lme4's ``weights=``): row i has residual SD σ/√wᵢ.
    centred : set of str or None
        Bambi's names of the scalar and ``||`` terms to build centred (``b ~ Normal(0, τ)``);
        the others non-centred (``b = τ·z``). ``None``: Bambi's model-wide ``noncentered``.
    """

    def __init__(self, blocks: list[Block], coefficient_prior=None, lkj_eta: float = LKJ_ETA,
                 residuals=None, prior_weights=None, centred: set[str] | None = None,
                 aux_blocks: dict | None = None):
        super().__init__()
        self.centred = centred
        self.blocks = blocks
        self.aux_blocks = aux_blocks or {}   # {param: [Block]} of distributional parameters
        self.coefficient_prior = coefficient_prior
        self.lkj_eta = lkj_eta
        self.residuals = residuals
        self.prior_weights = prior_weights
        self.smooth_sd_priors: dict[str, str] = {}   # s(x)'s SD prior, for the report's table

    def build(self, spec):
        """Bambi's ``PyMCModel.build`` with our component for the parent parameter."""
        from bambi.backend.model_components import ConstantComponent, ResponseComponent

        self.model = pm.Model()
        self.components = {}
        for name, values in spec.response_term.coords.items():
            if name not in self.model.coords:
                self.model.add_coords({name: values})
        parent = spec.family.likelihood.parent
        with self.model:
            for name, component in spec.marginal_parameters.items():
                self.components[name] = ConstantComponent(component)
                self.components[name].build(self, spec)
            for name, component in spec.conditional_parameters.items():
                blocks = self.blocks if name == parent else self.aux_blocks.get(name, [])
                self.components[name] = MultilevelComponent(component, self, blocks, name == parent)
                self.components[name].build(self, spec)
            if self.residuals is not None:
                from multilevel.bayes.residuals import build_likelihood

                build_likelihood(self.residuals, spec.response_term.name, self.components[parent].output,
                                 self.components["sigma"].output,
                                 np.asarray(spec.response_term.data, dtype=float).reshape(-1))
            elif self.prior_weights is not None:   # lme4's weights: residual variance σ²/w
                pm.Normal(spec.response_term.name, mu=self.components[parent].output,
                          sigma=self.components["sigma"].output / np.sqrt(self.prior_weights),
                          observed=np.asarray(spec.response_term.data, dtype=float).reshape(-1),
                          dims="__obs__")
            else:
                self.response_component = ResponseComponent(spec.response_term)
                self.response_component.build(self, spec)
            self.build_potentials(spec)
        self.spec = spec


class MultilevelComponent(DistributionalComponent):
    """A distributional component whose correlated blocks share an LKJ prior.

    The parent parameter's component (the mean) takes the coefficient preset; an
    auxiliary parameter's component (``sigma ~ x``) gets its own blocks and Bambi's priors.
    """

    def __init__(self, component, backend: MultilevelPyMCModel | None, blocks=(),
                 parent: bool = True):
        super().__init__(component)
        self.ml_backend = backend
        self.blocks = list(blocks)
        self.parent = parent

    # ------------------------------------------------------------ fixed effects
    def build_common_terms(self, pymc_backend, bmb_model):
        preset = self.ml_backend.coefficient_prior if self.ml_backend and self.parent else None
        if preset is None or not self.component.common_terms:
            return super().build_common_terms(pymc_backend, bmb_model)
        terms = list(self.component.common_terms.values())
        columns, names, widths = [], [], []
        for term in terms:
            data = term.data if term.data.ndim == 2 else term.data[:, None]
            columns.append(data)
            widths.append(data.shape[1])
            labels = CommonTerm(term).coords
            level_names = next(iter(labels.values())) if labels else [term.name]
            names += [str(v) if not labels else f"{term.name}[{v}]" for v in level_names]
        X = np.column_stack(columns).astype(float)
        # σ scales the preset when it is one number; with a formula of its own (sigma ~ x) it
        # varies by row, and the preset is scaled by the response's SD as for other families
        scalar = "sigma" in pymc_backend.components and "sigma" not in bmb_model.conditional_parameters
        sigma = pymc_backend.components["sigma"].output if scalar else None
        y = np.asarray(bmb_model.response_term.data, dtype=float)
        # the response's spread sets the scale of learned penalties (1 on link scales)
        y_scale = float(np.std(y)) if bmb_model.family.name in ("gaussian", "t") else 1.0
        beta = preset.build_coefficients(X, names, sigma=sigma, intercept=self.has_intercept,
                                         y_scale=y_scale)
        start = 0
        for term, width in zip(terms, widths):
            common = CommonTerm(term)
            for name, values in common.coords.items():
                pymc_backend.model.add_coords({name: values})
            piece = beta[start] if width == 1 and not common.coords else beta[start:start + width]
            pm.Deterministic(term.name, piece, dims=list(common.coords) or None)
            start += width
        if self.has_intercept and bmb_model.center_predictors:
            self.design_matrix_without_intercept = X
            X = X - X.mean(0)
        self.output += pt.dot(X, beta)

    # --------------------------------------------------------- group effects
    def build_group_specific_terms(self, pymc_backend, bmb_model):
        all_blocks = self.blocks   # this parameter's blocks (the mean's, or sigma ~ ...'s)
        blocks = [b for b in all_blocks if b.correlated or b.structure is not None]
        known = [b for b in all_blocks if b.known is not None]   # gr(g, cov = A): bayes.known
        smooths = [b for b in all_blocks if b.smooth is not None]   # s(x): bayes.smooths
        in_blocks = {t for b in blocks + known for t in b.bambi_terms}
        all_terms = self.component.group_specific_terms
        # an auxiliary parameter's terms are keyed "1|g" and named "sigma_1|g"
        plain = {k: v for k, v in all_terms.items() if k not in in_blocks and v.name not in in_blocks}
        # Bambi builds the scalar and `||` terms; we build the correlated blocks.
        # the per-term choice is the mean's; an auxiliary parameter's terms stay non-centred
        centred = self.ml_backend.centred if self.ml_backend else None
        if centred is not None and not self.parent:
            centred = set()
        if centred is None:
            parts = [(plain, bmb_model.noncentered)]
        else:   # per term: Bambi's flag is model-wide, so build the two kinds in turn
            parts = [({k: v for k, v in plain.items() if k not in centred}, True),
                     ({k: v for k, v in plain.items() if k in centred}, False)]
        component, flag = self.component, bmb_model.noncentered
        try:
            for terms, noncentered in parts:
                if terms:
                    self.component = _TermSubset(component, terms)
                    bmb_model.noncentered = noncentered
                    super().build_group_specific_terms(pymc_backend, bmb_model)
        finally:
            self.component, bmb_model.noncentered = component, flag
        for block in blocks:
            self.output += self._build_block(block, pymc_backend, bmb_model)
        if known:
            from multilevel.bayes.known import build_known_term

            noncentered = noncentered_default_for(bmb_model, self.component.name)
            for block in known:
                term = self.component.group_specific_terms[block.bambi_terms[0]]
                self.output += build_known_term(term, block.known, pymc_backend, noncentered)
        if smooths:
            from multilevel.bayes.smooths import build_smooth_term, sd_scale

            y = np.asarray(bmb_model.response_term.data, dtype=float).reshape(-1)
            link = bmb_model.family.link.get(bmb_model.family.likelihood.parent)
            identity = bmb_model.family.name in ("gaussian", "t") and \
                getattr(link, "name", "identity") == "identity"
            scale = sd_scale(y, identity)
            for block in smooths:
                self.output += build_smooth_term(block.smooth, pymc_backend, scale)
                self.ml_backend.smooth_sd_priors[block.name] = f"HalfStudentT(nu: 3, sigma: {scale:.4g})"

    def _build_block(self, block: Block, pymc_backend, bmb_model):
        by_name = {t.name: t for t in self.component.group_specific_terms.values()}
        terms = [by_name.get(name) or self.component.group_specific_terms[name]
                 for name in block.bambi_terms]
        noncentered = noncentered_default_for(bmb_model, self.component.name)
        sd_scales, widths = [], []
        for term in terms:
            sd_scales.append(np.atleast_1d(_sd_scale(term, block)))
            widths.append(1 if term.predictor.ndim == 1 else term.predictor.shape[1])
            for name, values in GroupSpecificTerm(term, noncentered).coords.items():
                if name not in pymc_backend.model.coords:
                    pymc_backend.model.add_coords({name: values})
        q = sum(widths)
        scales = np.concatenate([np.broadcast_to(s, (w,)) for s, w in zip(sd_scales, widths)])
        n_levels = len(terms[0].groups)
        if block.structure is not None:   # diag/cs/ar1/toep: the structure's own prior
            from multilevel.bayes.structures import structured_cholesky

            chol, corr, sds = structured_cholesky(block, scales, q)
        else:
            chol, corr, sds = pm.LKJCholeskyCov(
                block.chol_name, n=q, eta=self.ml_backend.lkj_eta,
                sd_dist=pm.HalfNormal.dist(sigma=scales, shape=q), compute_corr=True,
                store_in_trace=False,
            )
        dim = f"{block.corr_name}__dim"
        pymc_backend.model.add_coords({f"{dim}0": list(block.cnms), f"{dim}1": list(block.cnms)})
        pm.Deterministic(block.corr_name, corr, dims=(f"{dim}0", f"{dim}1"))
        offset = pm.Normal(block.offset_name, 0.0, 1.0, shape=(n_levels, q))
        effects = pt.dot(offset, chol.T)  # (levels, q): rows ~ MvNormal(0, LL')
        contribution = 0
        start = 0
        pieces = []   # (term, first column, width, its SD's name, one column) for bayes.generic
        for term, width in zip(terms, widths):
            dims = list(GroupSpecificTerm(term, noncentered).coords)
            expr_dims = [d for d in dims if not d.endswith("__factor_dim")]
            pieces.append((term.name, start, width, f"{term.name}_sigma", width == 1 and len(dims) == 1))
            if width == 1 and len(dims) == 1:
                coef = pm.Deterministic(term.name, effects[:, start], dims=dims)
                pm.Deterministic(f"{term.name}_sigma", sds[start])
                contribution += coef[term.group_index] * term.predictor.reshape(-1)
            else:
                coef = pm.Deterministic(term.name, effects[:, start:start + width], dims=dims)
                pm.Deterministic(f"{term.name}_sigma", sds[start:start + width], dims=expr_dims)
                # a one-column factor slope (f with two levels) keeps its expression dim
                predictor = term.predictor.reshape(len(term.group_index), width)
                contribution += (coef[term.group_index] * predictor).sum(axis=1)
            start += width
        if block.structure is None:   # how the LKJ block is laid out (multilevel.bayes.generic)
            model = pymc_backend.model
            model._multilevel_blocks = [*getattr(model, "_multilevel_blocks", ()), {
                "chol": block.chol_name, "offset": block.offset_name, "corr": block.corr_name,
                "terms": pieces}]
        return contribution


class _TermSubset:
    """A view of a Bambi component that shows only some of its group-specific terms."""

    def __init__(self, component, group_specific_terms):
        self._component = component
        self.group_specific_terms = group_specific_terms

    def __getattr__(self, name):
        return getattr(self._component, name)


def _sd_scale(term, block: Block):
    """The scale of the HalfNormal prior on a term's SD (Bambi's auto-scaled default)."""
    prior = term.prior
    sigma = prior.args.get("sigma") if prior.name == "Normal" else None
    mu = np.asarray(prior.args.get("mu", 0.0)) if prior.name == "Normal" else None
    # the block is built as MvNormal(0, LL') with HalfNormal(s) SDs: any other piece of the
    # prior (a non-zero mean, tau, HalfNormal's tau) would be shown but not fitted
    if (sigma is None or not hasattr(sigma, "args") or sigma.name != "HalfNormal"
            or set(prior.args) - {"mu", "sigma"} or set(sigma.args) != {"sigma"}
            or mu.dtype.kind not in "iuf" or np.any(mu != 0)):
        raise PriorError(
            f"Term {term.name!r} is part of the correlated block {block.name!r}, whose prior is "
            "multivariate normal with HalfNormal standard deviations and an LKJ correlation. "
            "Give it Prior('Normal', mu=0, sigma=Prior('HalfNormal', sigma=s)) to change the SD "
            "scale, or write the block with '||' to fit its terms independently."
        )
    return np.asarray(sigma.args["sigma"], dtype=float)
