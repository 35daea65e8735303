"""The fitted model's log density on nutpie's flat unconstrained parameter vector.

nutpie samples the vector that joins the PyMC model's value variables (free random
variables in their transformed, unconstrained space: ``sigma_log__``, a Cholesky factor's
packed log-diagonal form, non-centred offsets) in ``model.free_RVs`` order, each
raveled; a fit made with ``keep_unconstrained=True`` keeps that vector per draw
(``sample_stats.unconstrained_draw``) and the log density nutpie computed there
(``sample_stats.logp``). :func:`flat_log_density` compiles PyMC's own ``model.logp()``
(priors, likelihood and the transforms' log-Jacobians, every normalizing constant
included) on the same layout, and :func:`unconstrained_draws` checks the layout against
the draws' stored densities, so that a mismatch cannot pass silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multilevel.errors import FitError

# priors whose density does not integrate to one: no marginal likelihood exists
IMPROPER = ("Flat", "HalfFlat")


@dataclass(frozen=True)
class FlatDensity:
    """``logp(x)`` of the model at unconstrained points ``x`` (one per row)."""

    names: tuple[str, ...]       # value variables, in the vector's order
    sizes: tuple[int, ...]
    _function: object

    @property
    def dim(self) -> int:
        return int(sum(self.sizes))

    def __call__(self, points: np.ndarray) -> np.ndarray:
        points = np.atleast_2d(np.asarray(points, dtype=float))
        out = np.empty(len(points))
        for i, x in enumerate(points):
            out[i] = self._function(x)
        # a point where the density is undefined (overflow of a proposal draw) has none
        return np.where(np.isnan(out), -np.inf, out)


def check_normalized(model) -> None:
    """Refuse a model whose density is not a proper, normalized prior times likelihood."""
    if model.potentials:
        raise FitError("The model has potential terms (pm.Potential: "
                       f"{', '.join(p.name or '?' for p in model.potentials)}), whose normalizing "
                       "constants are unknown, so its marginal likelihood is not defined by its "
                       "log density; bridge sampling does not apply.")
    improper = [rv.name for rv in model.free_RVs if rv.owner.op.__class__.__name__.replace("RV", "")
                in IMPROPER]
    if improper:
        raise FitError(f"The priors of {', '.join(improper)} are improper (flat): the marginal "
                       "likelihood does not exist. Give them proper priors to compute Bayes factors.")


def flat_log_density(model) -> FlatDensity:
    """Compile PyMC's ``model.logp()`` as a function of nutpie's flat unconstrained vector."""
    import pytensor
    import pytensor.tensor as pt
    from pymc.initial_point import make_initial_point_fn
    from pytensor.graph.replace import graph_replace

    check_normalized(model)
    point = make_initial_point_fn(model=model, return_transformed=True)(0)
    names, shapes = [], []
    for rv in model.free_RVs:
        value = model.rvs_to_values[rv]
        names.append(value.name)
        shapes.append(tuple(np.shape(point[value.name])))
    sizes = tuple(int(np.prod(s, dtype=int)) for s in shapes)
    flat = pt.dvector("unconstrained")
    replacements, start = {}, 0
    for rv, shape, size in zip(model.free_RVs, shapes, sizes):
        replacements[model.rvs_to_values[rv]] = flat[start:start + size].reshape(shape).astype(rv.dtype)
        start += size
    logp = graph_replace(model.logp(), replacements, strict=False)
    # the C backend: compiled and cached by PyTensor, ~10 µs a call (numba would JIT seconds)
    function = pytensor.function([flat], logp, mode="FAST_RUN", on_unused_input="ignore")
    return FlatDensity(tuple(names), sizes, function)


def unconstrained_draws(idata) -> tuple[np.ndarray, np.ndarray]:
    """``(draws, logp)``: the kept unconstrained vectors, chains × draws × dim, and
    nutpie's log density at each (chains × draws)."""
    stats = idata["sample_stats"] if "sample_stats" in idata.children else None
    if stats is None or "unconstrained_draw" not in stats:
        raise FitError("This fit did not keep its unconstrained draws; refit with "
                       "ml.fit(..., keep_unconstrained=True) (brms: save_pars(all = TRUE)).")
    draws = np.asarray(stats["unconstrained_draw"].values, dtype=float)
    return draws, np.asarray(stats["logp"].values, dtype=float)


def check_layout(density: FlatDensity, draws: np.ndarray, logp: np.ndarray, count: int = 8) -> None:
    """The compiled density equals nutpie's at a few kept draws (to 1e-6 relative): the
    flat layout, the model and the data are the ones sampled."""
    if draws.shape[-1] != density.dim:
        raise FitError(f"The kept unconstrained draws have {draws.shape[-1]} coordinates, the model "
                       f"{density.dim}: the fit's model was changed after sampling.")
    flat, target = draws.reshape(-1, density.dim), logp.reshape(-1)
    pick = np.linspace(0, len(flat) - 1, min(count, len(flat))).astype(int)
    ours = density(flat[pick])
    if not np.allclose(ours, target[pick], rtol=1e-6, atol=1e-6):
        raise FitError("The model's log density does not reproduce the sampler's at the kept draws "
                       f"(max difference {np.max(np.abs(ours - target[pick])):.3g}); the fit cannot "
                       "be bridge-sampled.")
