"""``sampler="marginal"``: sample a collapsed Gaussian model into the same DataTree as NUTS."""

from __future__ import annotations

import numpy as np

from multilevel.bayes.marginal.model import NotCollapsible, collapse
from multilevel.bayes.marginal.sampler import MAX_WARMUP, Proposal, laplace, run_chain
from multilevel.errors import FitError


def sample_marginal(built, settings, stats: dict | None = None, collapsed=None):
    """Draws of every variable of the built model, with Bambi's cleaning.

    The ``log_likelihood`` group is added by the caller (:func:`multilevel.bayes.fit.fit_bayes`
    through :mod:`multilevel.bayes.loglik`, whose closed form covers every model this
    sampler accepts).

    Parameters
    ----------
    built : BuiltModel
    settings : SamplingSettings
        draws and chains as asked; warm-up ``min(tune, MAX_WARMUP)`` (no adaptation needed).
    stats : dict, optional
        Receives seconds per stage, the Laplace step's evaluations, the warm-up length and
        the acceptance rate.
    collapsed : CollapsedModel, optional
        Already built by :func:`~multilevel.bayes.marginal.model.collapse`.

    Raises
    ------
    FitError
        When the model is not one the marginal sampler handles (the reason is given).
    """
    from threadpoolctl import threadpool_limits

    # one BLAS thread: the factorizations are small, and threads fight on shared cores
    # (InstEval: 1.1 s per evaluation with 2 threads under load, 0.05 s with one)
    with threadpool_limits(limits=1, user_api="blas"):
        return _sample(built, settings, stats, collapsed)


def _sample(built, settings, stats, collapsed):
    clock = _Clock(stats)
    try:
        collapsed = collapsed or collapse(built)
    except NotCollapsible as exc:
        raise FitError(f"sampler='marginal' cannot fit this model: {exc}. Use sampler='nutpie' "
                       "(or 'auto').") from None
    clock.lap("collapse_s")
    approx = laplace(collapsed)
    clock.lap("laplace_s")
    warmup = min(settings.tune, MAX_WARMUP)
    seeds = np.random.SeedSequence(settings.seed).spawn(settings.chains)
    results = _run_chains((collapsed, Proposal(approx, collapsed), warmup, settings.draws), seeds)
    arrays = {name: np.stack([r[0][name] for r in results]) for name in results[0][0]}
    chain_stats = [r[1] for r in results]
    clock.lap("chains_s")
    idata = _datatree(built, arrays, chain_stats)
    clock.lap("deterministics_s")
    if stats is not None:
        stats.update(laplace_evaluations=approx.evaluations, warmup=warmup,
                     acceptance=round(float(np.mean([s["accepted"].mean() for s in chain_stats])), 3))
    return built.bambi.backend._clean_results(idata, omit_offsets=True, include_response_params=False)


class _Clock:
    """Seconds per stage into ``stats``."""

    def __init__(self, stats):
        import time

        self.stats, self.now = stats, time.perf_counter
        self.last = self.now()

    def lap(self, key):
        if self.stats is not None:
            self.stats[key] = round(self.now() - self.last, 2)
        self.last = self.now()


def _datatree(built, arrays: dict, chain_stats: list):
    """posterior (free variables + the deterministics NUTS would store), sample_stats and
    observed_data, as ``pm.sample`` lays them out."""
    import pymc as pm
    import xarray as xr

    model = built.pymc
    chains, draws = next(iter(arrays.values())).shape[:2]
    index = {"chain": np.arange(chains), "draw": np.arange(draws)}
    posterior = xr.Dataset({name: (("chain", "draw", *_dims(model, name, values.ndim - 2)), values)
                            for name, values in arrays.items()},
                           coords={**index, **{k: list(v) for k, v in model.coords.items() if v is not None}})
    posterior = posterior.drop_vars([c for c in posterior.coords if c not in posterior.dims])
    likelihood_params = built.bambi.family.likelihood.params
    keep = [d.name for d in model.deterministics if d.name not in likelihood_params]
    if keep:
        posterior = pm.compute_deterministics(posterior, var_names=keep, model=model, merge_dataset=True,
                                              progressbar=False)
    sample_stats = xr.Dataset({key: (("chain", "draw"), np.stack([s[key] for s in chain_stats]))
                               for key in ("accepted", "acceptance_rate", "lp")}, coords=index)
    observed = {}
    for rv in model.observed_RVs:
        dims = model.named_vars_to_dims.get(rv.name) or [f"{rv.name}_dim_{i}" for i in range(rv.ndim)]
        observed[rv.name] = (tuple(dims), np.asarray(model.rvs_to_values[rv].data))
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": sample_stats,
                                  "observed_data": xr.Dataset(observed)})


def _run_chains(job, seeds) -> list:
    """One process per core (forked: they share the factorization set-up), or in turn where
    forking is not available; each chain has its own seed, so the draws are the same."""
    from multilevel.forked import map_forked

    return map_forked(lambda seed: _chain(job, seed), seeds)


def _chain(job, seed) -> tuple[dict, dict]:
    collapsed, proposal, warmup, draws = job
    arrays: dict[str, np.ndarray] = {}

    def store(k, values, beta, b):
        for name, value in collapsed.free_values(values, beta, b).items():
            if name not in arrays:
                arrays[name] = np.empty((draws, *np.shape(value)))
            arrays[name][k] = value

    stats = run_chain(collapsed, proposal, warmup, draws, np.random.default_rng(seed), store)
    return arrays, stats


def _dims(model, name: str, ndim: int) -> list[str]:
    dims = list(model.named_vars_to_dims.get(name) or ())
    if len(dims) == ndim:
        return dims
    return [f"{name}_dim_{i}" for i in range(ndim)]
