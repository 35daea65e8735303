"""Moment matching for high Pareto k (Paananen et al. 2021) on our PyMC models.

ArviZ's ``loo_moment_match(model=...)`` transforms the posterior draws of the
model's free variables to the unconstrained space. Bambi leaves two kinds of them
out of the posterior it returns, and this module puts them back:

* ``chol|{block}``: the packed Cholesky factor of a correlated block's covariance
  (``LKJCholeskyCov``, lower triangle row by row), recomputed from the stored SDs
  and correlations;
* ``{block}_block_offset``: the standardised group effects ``z`` with
  ``effects = z Lᵀ``, recovered by a triangular solve.

Bambi's own non-centred offsets and the intercept shift are restored by Bambi
(``Model._re_center_intercept``, which ArviZ calls). Before moment matching runs,
the log-likelihood recomputed from the rebuilt draws is checked against the fit's
``log_likelihood`` group, so a mismatch is an error, not a silently wrong elpd.
"""

from __future__ import annotations

import numpy as np

from multilevel.bayes.draws import block_cov
from multilevel.errors import ComparisonError


def augmented_idata(fit):
    """A copy of ``fit.idata`` whose posterior holds every free variable of the PyMC model."""
    posterior = fit.idata.posterior.to_dataset().copy()
    names = {v.name for v in fit.built.pymc.free_RVs}
    # the response's blocks and those of auxiliary parameters' formulas (chol|sigma_g, ...)
    aux_blocks = [b for part in getattr(fit.built, "aux", ()) for b in part.blocks]
    for block in [*fit.built.blocks, *aux_blocks]:
        if not block.correlated:
            continue
        chol_name, offset_name = block.chol_name, block.offset_name
        if chol_name not in names or offset_name not in names:
            raise ComparisonError(
                f"Moment matching cannot rebuild the block {block.name!r}: the model has no "
                f"{chol_name!r}/{offset_name!r}. Use high_k='reloo' or 'kfold' instead."
            )
        L = np.linalg.cholesky(block_cov(posterior, block))
        rows, cols = np.tril_indices(L.shape[-1])
        posterior[chol_name] = (("chain", "draw", f"{chol_name}__packed"), L[..., rows, cols])
        effects = _block_effects_bambi_order(posterior, block)          # (c, d, levels, q)
        z = np.swapaxes(np.linalg.solve(L, np.swapaxes(effects, -1, -2)), -1, -2)
        posterior[offset_name] = (("chain", "draw", f"{offset_name}__level", f"{offset_name}__col"), z)
    out = fit.idata.copy()
    out["posterior"] = posterior
    return out


def moment_inputs(fit, idata, observations, var_name: str, atol: float = 1e-6):
    """``(log_prob_upars_fn, log_lik_i_upars_fn, upars)`` for ``az.loo_moment_match``.

    Built by ArviZ from the PyMC model (``mm_from_pymc``) on the augmented
    posterior; raises if the log-likelihood of the rebuilt draws differs from the
    fit's at any of ``observations``.
    """
    from arviz_stats.loo.loo_moment_match_helper import mm_from_pymc

    model = fit.built.bambi
    centred = model._re_center_intercept(idata)
    log_prob, log_lik_i, upars = mm_from_pymc(centred, model=model.backend.model, var_name=var_name)
    stored = np.asarray(fit.idata.log_likelihood[var_name].values, dtype=float)
    stored = stored.reshape(stored.shape[0], stored.shape[1], -1)
    for i in observations:
        diff = float(np.max(np.abs(log_lik_i(upars, int(i)).values - stored[:, :, int(i)])))
        if not diff < atol:
            raise ComparisonError(
                f"Moment matching: the posterior rebuilt in the unconstrained space does not "
                f"reproduce the stored log-likelihood of row {int(i)} (max difference {diff:.3g}). "
                "Use high_k='reloo' or 'kfold' for this model."
            )
    return log_prob, log_lik_i, upars


def _block_effects_bambi_order(posterior, block) -> np.ndarray:
    pieces = []
    for term in block.bambi_terms:
        da = posterior[term]
        factor_dim = next(d for d in da.dims if d.endswith("__factor_dim"))
        others = [d for d in da.dims if d not in ("chain", "draw", factor_dim)]
        values = np.asarray(da.transpose("chain", "draw", factor_dim, *others).values, dtype=float)
        pieces.append(values[..., None] if values.ndim == 3 else values)
    return np.concatenate(pieces, axis=3)

