"""The built Bayesian model seen as (hyperparameters) + (Gaussian coefficients and effects).

:func:`collapse` checks that a built model is one the marginal sampler handles
exactly — Gaussian likelihood, Normal priors with constant parameters on the fixed
effects, group effects Normal given their SDs (scalar terms) or multivariate normal
with an LKJ correlation (``(x | g)`` blocks) — and returns :class:`CollapsedModel`:

* the hyperparameters (σ, the group SDs, the LKJ Cholesky factors) as PyMC's own
  unconstrained value variables, with one compiled PyTensor function giving their
  log prior density (Jacobian included) and the constrained values, so the prior is
  exactly the model's whatever prior the user chose for them;
* :class:`~multilevel.bayes.marginal.gaussian.MarginalGaussian` for the rest;
* the map from a draw of (hyperparameters, β, b) back to every free variable of the
  PyMC model, so PyMC computes the deterministics and the log-likelihood and Bambi
  cleans the result exactly as after NUTS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multilevel.bayes import loglik
from multilevel.bayes.marginal.gaussian import MarginalGaussian
from multilevel.freq.factor import _lower_indices


class NotCollapsible(Exception):
    """The model is outside what the marginal sampler handles; the message says why."""


@dataclass
class BlockMap:
    """One random-effects term: where its SDs/correlation and its effects live in PyMC."""

    name: str
    q: int
    correlated: bool
    effect_rv: str            # the free variable holding the effects (or their offsets)
    offset: bool              # the free variable is standardized (non-centred)
    order: np.ndarray         # lme4 level i is PyMC's level order[i]
    sd_outputs: list          # indices into the hyper function's outputs
    corr_output: int | None

    def sds(self, values) -> np.ndarray:
        """The term's standard deviations among the hyper function's outputs."""
        return np.concatenate([np.atleast_1d(values[i]) for i in self.sd_outputs])

    def cov_cholesky(self, values) -> np.ndarray:
        """Lower Cholesky factor of a correlated term's covariance matrix."""
        sds = self.sds(values)
        return np.linalg.cholesky(np.asarray(values[self.corr_output]) * np.outer(sds, sds))


class CollapsedModel:
    """See the module docstring. Build with :func:`collapse`.

    ``start`` is the hyperparameters' unconstrained initial point (PyMC's), flattened in
    the order of ``hyper_rvs``, whose value shapes are ``shapes``.
    """

    def __init__(self, built, hyper_rvs, shapes, start, common, blocks, fn, outputs, marginal):
        self.built, self.hyper_rvs, self.common, self.blocks = built, hyper_rvs, common, blocks
        self.shapes, self.start = shapes, start
        self._fn, self._outputs, self.marginal = fn, outputs, marginal

    def hyper(self, v: np.ndarray):
        """(log prior + log Jacobian, σ, θ, constrained outputs) at unconstrained ``v``."""
        parts, start = [], 0
        for shape in self.shapes:
            size = int(np.prod(shape))
            parts.append(np.asarray(v[start:start + size]).reshape(shape))
            start += size
        out = self._fn(*parts)
        logp, values = float(out[0]), out[1:]
        sigma = float(values[0])
        theta = [block.cov_cholesky(values)[_lower_indices(block.q)] / sigma if block.correlated
                 else block.sds(values) / sigma for block in self.blocks]
        return logp, sigma, np.concatenate(theta), values

    def log_posterior(self, v: np.ndarray):
        """log p(v | y) up to a constant, and the conditional state at v (None if invalid)."""
        try:
            logp, sigma, theta, values = self.hyper(v)
            if not np.isfinite(logp) or not sigma > 0 or not np.all(np.isfinite(theta)):
                return -np.inf, None
            state = self.marginal.state(theta, sigma)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError):
            return -np.inf, None
        lp = logp + state.loglik
        return (lp if np.isfinite(lp) else -np.inf), (state, values)

    def free_values(self, values, beta: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
        """Every free variable of the PyMC model (constrained) for one draw."""
        out = {rv.name: np.asarray(values[self._outputs[rv.name]]) for rv in self.hyper_rvs}
        start = 0
        for name, size, shape in self.common:
            out[name] = beta[start:start + size].reshape(shape)
            start += size
        pos = 0
        for block in self.blocks:
            m = len(block.order)
            effects = b[pos:pos + m * block.q].reshape(m, block.q)
            pos += m * block.q
            ordered = np.empty_like(effects)
            ordered[block.order] = effects                    # lme4 level order → PyMC's
            if block.correlated:
                out[block.effect_rv] = np.linalg.solve(block.cov_cholesky(values), ordered.T).T
            else:
                out[block.effect_rv] = ordered[:, 0] / block.sds(values)[0] if block.offset \
                    else ordered[:, 0]
        return out


def collapse(built, solver: str = "auto") -> CollapsedModel:
    """The :class:`CollapsedModel` of a built model; raises :class:`NotCollapsible`."""
    import pytensor
    from pytensor.graph.traversal import ancestors

    model = built.pymc
    bmb = built.bambi
    if built.family != "gaussian":
        raise NotCollapsible(f"the {built.family} likelihood is not Gaussian")
    if getattr(built, "link", None) is not None:
        raise NotCollapsible(f"the {built.link} link makes the mean non-linear")
    if built.design.weights is not None:
        raise NotCollapsible("prior weights give each row its own residual variance")
    backend = bmb.backend
    if getattr(backend, "residuals", None) is not None:
        raise NotCollapsible("ar1/cs residuals make the rows of a group dependent")
    if getattr(backend, "coefficient_prior", None) is not None:
        raise NotCollapsible("a coefficient-prior preset puts hyperpriors on the fixed effects")
    if model.potentials:
        raise NotCollapsible("the model has potentials")
    if not loglik.supports(built):   # the fit's log_likelihood group comes from its closed form
        raise NotCollapsible("the model's pointwise log-likelihood has no closed form here")
    if not built.design.reterms:
        raise NotCollapsible("the model has no group effects")
    if any(t.is_general for t in built.design.reterms):
        raise NotCollapsible("a known-covariance term or a smooth couples the levels of its block")
    parent = bmb.family.likelihood.parent
    component = bmb.conditional_parameters[parent]
    if set(bmb.conditional_parameters) != {parent} or getattr(component, "offset_terms", None):
        raise NotCollapsible("only the mean may have a linear predictor, without offset terms")
    named = model.named_vars
    free = {rv.name: rv for rv in model.free_RVs}
    point = model.initial_point()   # compiles a function: once

    # fixed effects: Normal priors with constant parameters, Bambi's column order
    names = (["Intercept"] if component.intercept_term is not None else []) + list(component.common_terms)
    common, columns, params = [], [], []
    for name in names:
        rv = free.get(name)
        if rv is None or type(rv.owner.op).__name__ != "NormalRV":
            raise NotCollapsible(f"the fixed effect {name!r} has no Normal prior of its own")
        mu, sd = rv.owner.op.dist_params(rv.owner)
        if any(a in model.free_RVs for a in ancestors([mu, sd])):
            raise NotCollapsible(f"the prior of {name!r} has a hyperprior")
        shape = np.shape(point[model.rvs_to_values[rv].name])
        size = int(np.prod(shape))
        common.append((name, size, shape))
        params.append((mu, sd, size))
        if name != "Intercept":
            data = component.common_terms[name].data
            columns.append(data if data.ndim == 2 else data[:, None])
    n = built.design.n
    rest = np.column_stack(columns).astype(float) if columns else np.zeros((n, 0))
    if component.intercept_term is not None and bmb.center_predictors and rest.shape[1]:
        rest = rest - rest.mean(0)
    X = np.column_stack([np.ones(n), rest]) if component.intercept_term is not None else rest

    # group effects and their hyperparameters
    used = set(names)
    outputs_expr, blocks = [named["sigma"]], []
    for block, reterm in zip(built.blocks, built.design.reterms):
        labels = _levels(model, block.bambi_terms[0])
        index = {label: i for i, label in enumerate(labels)}
        order = np.array([index[level] for level in reterm.levels])
        sd_outputs = []
        for term in block.bambi_terms:
            sd_outputs.append(len(outputs_expr))
            outputs_expr.append(named[f"{term}_sigma"])
        if block.correlated:
            effect, offset = f"{block.name}_block_offset", True
            corr_output = len(outputs_expr)
            outputs_expr.append(named[block.corr_name])
        elif reterm.q != 1:
            raise NotCollapsible(f"the uncorrelated term {block.name!r} has {reterm.q} columns")
        else:
            term = block.bambi_terms[0]
            offset = f"{term}_offset" in free
            effect, corr_output = (f"{term}_offset" if offset else term), None
            if free.get(effect) is None or type(free[effect].owner.op).__name__ != "NormalRV":
                raise NotCollapsible(f"the group effects {term!r} are not Normal")
        if effect not in free:
            raise NotCollapsible(f"no free variable {effect!r} for the term {block.name!r}")
        used.add(effect)
        blocks.append(BlockMap(name=block.name, q=reterm.q, correlated=block.correlated, effect_rv=effect,
                               offset=offset, order=order, sd_outputs=sd_outputs, corr_output=corr_output))
    hyper_rvs = [rv for rv in model.free_RVs if rv.name not in used]
    if "sigma" not in [rv.name for rv in hyper_rvs]:
        raise NotCollapsible("the residual SD is not a free parameter")
    outputs = {}
    for rv in hyper_rvs:
        outputs[rv.name] = len(outputs_expr)
        outputs_expr.append(rv)
    values = [model.rvs_to_values[rv] for rv in hyper_rvs]
    logp = model.logp(vars=hyper_rvs, jacobian=True, sum=True)
    exprs = model.replace_rvs_by_values(outputs_expr)
    others = [v for v in ancestors([logp, *exprs]) if v in model.value_vars and v not in values]
    if others:
        raise NotCollapsible(f"the hyperparameters depend on {[v.name for v in others]}")
    fn = pytensor.function(values, [logp, *exprs], on_unused_input="ignore")
    means, sds = _prior_parameters(params)
    marginal = MarginalGaussian(built.design, X, means, sds, solver)
    shapes = [np.shape(point[v.name]) for v in values]
    start = np.concatenate([np.ravel(point[v.name]) for v in values])
    return CollapsedModel(built, hyper_rvs, shapes, start, common, blocks, fn, outputs, marginal)


def _prior_parameters(params) -> tuple[np.ndarray, np.ndarray]:
    """The fixed effects' prior means and SDs as vectors (one compiled function for all:
    ``.eval()`` per parameter would compile one each)."""
    import pytensor

    if not params:
        return np.zeros(0), np.zeros(0)
    values = pytensor.function([], [x for mu, sd, _ in params for x in (mu, sd)])()
    means = [np.broadcast_to(np.asarray(values[2 * i], float), (size,)) for i, (_, _, size) in enumerate(params)]
    sds = [np.broadcast_to(np.asarray(values[2 * i + 1], float), (size,)) for i, (_, _, size) in enumerate(params)]
    return np.concatenate(means), np.concatenate(sds)


def _levels(model, term: str) -> list[str]:
    dims = model.named_vars_to_dims.get(term) or ()
    factor = next((d for d in dims if d.endswith("__factor_dim")), None)
    if factor is None:
        raise NotCollapsible(f"the term {term!r} has no group dimension")
    return [str(v) for v in model.coords[factor]]
