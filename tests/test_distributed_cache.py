"""The nutpie compile cache (what makes repeated and distributed fits cheap) and the
centred/non-centred choice by data size.

Hit, miss and damaged entries must all give the draws of plain nutpie: the cache may
only change how long a fit takes, never its numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml
from multilevel.bayes import cache, sampling
from multilevel.bayes.datainputs import lift_data
from multilevel.bayes.model import build_model
from multilevel.errors import PriorError

# the per-structure compilation (models outside multilevel.bayes.generic's class)
pytestmark = pytest.mark.usefixtures("per_structure_route")

FORMULA = "Reaction ~ Days + (1 | Subject)"
TINY = dict(draws=60, tune=60, chains=1, seed=4, sampler="nutpie", progress=False, check=False)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTILEVEL_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("MULTILEVEL_CACHE", raising=False)
    cache._MEMORY.clear()   # this process's compilations: each test starts as a new process
    yield tmp_path / "nutpie"
    cache._MEMORY.clear()


def _draws(fit):
    return {v: fit.posterior[v].values for v in ("Intercept", "Days", "sigma", "1|Subject")}


def _assert_same(a, b):
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.slow
def test_second_fit_loads_the_compiled_model_and_gives_the_same_draws(cache_dir, sleepstudy):
    first = ml.fit(FORMULA, sleepstudy, **TINY)
    assert first.timings["compile_cache"] == "miss"
    assert len(list(cache_dir.glob("*.pkl"))) == 1
    cache._MEMORY.clear()   # as a new process: loaded from the folder
    second = ml.fit(FORMULA, sleepstudy, **TINY)
    assert second.timings["compile_cache"] == "hit"
    assert (first.timings["compilations"], second.timings["compilations"]) == (1, 0)
    _assert_same(_draws(first), _draws(second))

    # a damaged entry is compiled again (and replaced), with the same draws
    entry = next(cache_dir.glob("*.pkl"))
    entry.write_bytes(b"not a pickle")
    cache._MEMORY.clear()
    third = ml.fit(FORMULA, sleepstudy, **TINY)
    assert third.timings["compile_cache"] == "miss"
    _assert_same(_draws(first), _draws(third))
    assert ml.fit(FORMULA, sleepstudy, **TINY).timings["compile_cache"] == "hit"


@pytest.mark.slow
def test_cache_off_and_plain_nutpie_give_the_same_draws(cache_dir, sleepstudy, monkeypatch):
    cached = ml.fit(FORMULA, sleepstudy, **TINY)
    monkeypatch.setenv("MULTILEVEL_CACHE", "0")
    off = ml.fit(FORMULA, sleepstudy, **TINY)
    assert off.timings["compile_cache"] == "off"
    _assert_same(_draws(cached), _draws(off))
    import nutpie
    import pytensor

    built = build_model(FORMULA, sleepstudy)
    # plain nutpie on the model the package compiles (its data as inputs: datainputs), with
    # the package's strict arithmetic (cache.NUMBA_FLAGS; with PyTensor's default fastmath
    # the last bits depend on PyTensor's kernel cache: test_reproducible)
    original = nutpie.compile_pymc_model
    monkeypatch.setattr(nutpie, "compile_pymc_model",
                        lambda model, **kw: original(lift_data(model).model, **kw))
    with pytensor.config.change_flags(**cache.NUMBA_FLAGS):
        plain = built.bambi.fit(draws=60, tune=60, chains=1, cores=1, random_seed=4,
                                inference_method="nutpie",
                                nuts={"target_accept": 0.9,   # the package's nutpie settings
                                      **sampling.mass_matrix_option(built.bambi.backend)},
                                progressbar=False)
    _assert_same(_draws(cached), {k: plain.posterior[k].values for k in _draws(cached)})


def _key(built, var_names=None):
    return cache.model_key(lift_data(built.pymc).model, var_names)


def test_key_is_the_structure_not_the_data_values(sleepstudy):
    key = _key(build_model(FORMULA, sleepstudy))
    assert key == _key(build_model(FORMULA, sleepstudy))
    # other values, same structure and shapes: the same compiled code
    shifted = sleepstudy.assign(Reaction=sleepstudy["Reaction"] * 1.5 + 3, Days=sleepstudy["Days"][::-1].values)
    assert _key(build_model(FORMULA, shifted)) == key
    variants = [
        build_model(FORMULA, sleepstudy.iloc[:-1]).pymc,     # another number of rows
        build_model(FORMULA, sleepstudy, family="t").pymc,
        build_model("Reaction ~ Days + (Days || Subject)", sleepstudy).pymc,
        build_model(FORMULA, sleepstudy, priors=ml.priors.ridge()).pymc,
        build_model(FORMULA, sleepstudy, noncentered=True).pymc,   # the default centres it
    ]
    keys = {cache.model_key(lift_data(m).model) for m in variants}
    assert key not in keys and len(keys) == len(variants)
    assert _key(build_model(FORMULA, sleepstudy), var_names=["Days"]) != key


def test_clear_removes_entries(cache_dir):
    cache_dir.mkdir(parents=True)
    (cache_dir / "a.pkl").write_bytes(b"x")
    assert cache.clear() == 1 and not list(cache_dir.glob("*.pkl"))


def test_noncentered_must_be_bool_or_auto(sleepstudy):
    with pytest.raises(PriorError, match="noncentered must be True, False or 'auto'"):
        build_model(FORMULA, sleepstudy, noncentered="yes")


def test_bounded_priors_are_cacheable_and_their_bounds_enter_the_key():
    """pm.Uniform's interval transform holds a bounds function: digested by its code
    and closure, so such models are cached (they used to be refused)."""
    import pymc as pm

    def model(upper, shift=0.0):
        with pm.Model() as m:
            a = pm.Uniform("a", 0, upper)
            pm.Normal("y", a, 1.0, observed=np.arange(5.0) + shift)
        return m

    key = cache.model_key(model(10))
    assert key == cache.model_key(model(10))
    assert len({key, cache.model_key(model(11)), cache.model_key(model(10, shift=1))}) == 3
