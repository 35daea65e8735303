"""nutpie's C callbacks written out per model (multilevel.bayes.callbacks) compute what
nutpie's own wrappers compute and sample the same posterior.

The wrappers only read the data buffers and copy PyTensor's results. LLVM inlines
PyTensor's compiled function into either wrapper and optimizes it in place, and on
sleepstudy one gradient element of 42 came out 1 ulp (1.2e-16 relative) apart from nutpie's
wrapper: the log density and gradient are checked equal to nutpie's to 1e-13 and to PyMC's
own to 1e-9, and the seeded posterior equal within Monte Carlo error (the draws are not
bit-identical to nutpie's wrapper's). sleepstudy's model, compiled twice.
"""

from __future__ import annotations

import numpy as np
import pytest

from multilevel.bayes import cache
from multilevel.bayes.cache import _logp_at
from multilevel.bayes.model import build_model

# the per-structure compilation (models outside multilevel.bayes.generic's class)
pytestmark = pytest.mark.usefixtures("per_structure_route")


@pytest.fixture(scope="module")
def compiled(sleepstudy):
    """The same model compiled with nutpie's wrappers and with ours (no disk cache): the
    structure tests/test_compile_once.py compiles, so PyTensor's kernels are cached."""
    model = build_model("Reaction ~ Days + (Days | Subject)", sleepstudy).pymc
    mp = pytest.MonkeyPatch()
    mp.setenv("MULTILEVEL_CACHE", "0")
    try:
        out = {}
        for name, nutpies in (("nutpie", True), ("ours", False)):
            mp.setattr(cache, "NUTPIE_WRAPPERS", nutpies)
            out[name] = cache.compile_nutpie(model)
    finally:
        mp.undo()
    return model, out


def _points(n_dim: int, n: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    return [rng.normal(scale=0.8, size=n_dim) for _ in range(n)]


def test_log_density_and_gradient_are_nutpies_and_pymcs(compiled):
    model, c = compiled
    ours, theirs = c["ours"], c["nutpie"]
    n_dim = ours.n_dim
    # PyTensor's Python implementations: no C compilation (20 s) for a check
    logp_fn = model.compile_logp(jacobian=True, mode="FAST_COMPILE")
    dlogp_fn = model.compile_dlogp(jacobian=True, mode="FAST_COMPILE")
    names, slices, shapes = ours.shape_info
    value_names = {v.name for v in model.value_vars}
    for x in _points(n_dim):
        code, logp, grad = _logp_at(ours.compiled_logp_func.address, n_dim, x, ours.user_data)
        ref = _logp_at(theirs.compiled_logp_func.address, n_dim, x, theirs.user_data)
        assert code == ref[0] == 0
        assert logp == pytest.approx(ref[1], rel=1e-13)
        np.testing.assert_allclose(grad, ref[2], rtol=1e-13, atol=1e-13 * np.abs(ref[2]).max())
        free = [(n, s, sh) for n, s, sh in zip(names, slices, shapes) if n in value_names]
        point = {n: x[s].reshape(sh) for n, s, sh in free}
        assert logp == pytest.approx(float(logp_fn(point)), rel=1e-9)
        pymc_grad = dlogp_fn(point)
        # PyMC orders the gradient by the model's value variables, nutpie by shape_info
        order = [v.name for v in model.value_vars]
        sizes = {n: int(np.prod(sh, dtype=int)) for n, _, sh in free}
        offsets = np.cumsum([0] + [sizes[n] for n in order])
        by_name = {n: pymc_grad[offsets[i]:offsets[i + 1]] for i, n in enumerate(order)}
        np.testing.assert_allclose(grad, np.concatenate([by_name[n] for n, _, _ in free]),
                                   rtol=1e-9, atol=1e-12)


def test_return_codes_are_nutpies(compiled):
    _, c = compiled
    ours, theirs = c["ours"], c["nutpie"]
    n_dim = ours.n_dim
    bad = np.full(n_dim, np.nan)
    assert _logp_at(ours.compiled_logp_func.address, n_dim, bad, ours.user_data)[0] == \
        _logp_at(theirs.compiled_logp_func.address, n_dim, bad, theirs.user_data)[0] != 0
    assert _logp_at(ours.compiled_logp_func.address, n_dim + 1, np.zeros(n_dim + 1),
                    ours.user_data)[0] == -1


def test_same_posterior_through_either_wrapper(compiled):
    """4 x 300 draws each (a second): every stored variable's posterior mean agrees within
    4 Monte Carlo standard errors, and the expansion callback stores the same variables."""
    import arviz as az
    import nutpie

    _, c = compiled
    post = {name: nutpie.sample(m, draws=300, tune=300, chains=4, seed=3, progress_bar=False).posterior
            for name, m in c.items()}
    ours, theirs = post["ours"], post["nutpie"]
    assert set(ours.data_vars) == set(theirs.data_vars)
    for name in ["Intercept", "Days", "sigma", "1|Subject_sigma", "Days|Subject_sigma",
                 "corr|Subject"]:
        a, b = ours[name], theirs[name]
        se = np.hypot(np.asarray(az.mcse(a.to_dataset(), method="mean")[name]),
                      np.asarray(az.mcse(b.to_dataset(), method="mean")[name]))
        diff = np.abs(np.asarray(a.mean(("chain", "draw"))) - np.asarray(b.mean(("chain", "draw"))))
        assert np.all(diff <= 4 * se + 1e-12), name
