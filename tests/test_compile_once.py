"""One compilation per model structure: the data are inputs of the compiled log density.

Before, the compile cache's key included the data, so every K-fold training set was a
new 10-25 s numba compilation (README: LOSO K-fold k = 6 took 217 s). Now the model is
compiled with its data read from shared buffers (multilevel.bayes.datainputs), and a
compilation serves every data set of the same structure and shapes — with draws
identical to a fresh compilation of that data set.
"""

from __future__ import annotations

import numpy as np
import pytest

from multilevel.bayes import cache
from multilevel.bayes.datainputs import lift_data
from multilevel.bayes.model import build_model

# the per-structure compilation (models outside multilevel.bayes.generic's class)
pytestmark = pytest.mark.usefixtures("per_structure_route")

FORMULA = "Reaction ~ Days + (Days | Subject)"
REFIT = {"draws": 100, "tune": 100, "chains": 1}


def test_lifted_model_has_the_same_variables_order_and_log_density(sleepstudy):
    built = build_model(FORMULA, sleepstudy)
    model = built.pymc
    lifted = lift_data(model)
    for attr in ("free_RVs", "observed_RVs", "deterministics"):
        assert [v.name for v in getattr(lifted.model, attr)] == [v.name for v in getattr(model, attr)]
    # the response, the design columns, the group index and the data-scaled prior
    # parameters are in the buffers; the sizes of the free variables are not
    floats = next(v for v in lifted.values if v.dtype == np.float64)
    ints = next(v for v in lifted.values if v.dtype == np.int64)
    assert np.isin(sleepstudy["Reaction"].to_numpy(), floats).all()
    assert len(ints) % len(sleepstudy) == 0 and 17 in ints    # Subject codes 0..17
    assert [tuple(v.type.shape) for v in lifted.model.free_RVs] == [tuple(v.type.shape) for v in model.free_RVs]
    point = model.initial_point(0)
    rng = np.random.default_rng(1)
    points = [{k: v + rng.normal(size=np.shape(v)) * 0.3 for k, v in point.items()} for _ in range(3)]
    # Python implementations (no C compilation): a fast test
    original = model.compile_logp(mode="FAST_COMPILE")
    rewritten = lifted.model.compile_logp(mode="FAST_COMPILE")
    for p in points:
        assert rewritten(p) == pytest.approx(original(p), rel=1e-12)


def test_a_model_without_data_constants_is_left_alone():
    import pymc as pm

    with pm.Model() as model:
        pm.Normal("a", 0.0, 1.0)
    assert lift_data(model) is None


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty compile cache folder and nothing compiled in this process yet."""
    monkeypatch.setenv("MULTILEVEL_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("MULTILEVEL_CACHE", raising=False)
    monkeypatch.setattr(cache, "_MEMORY", {})
    return tmp_path


@pytest.mark.slow
def test_leave_one_subject_out_compiles_once_and_reuse_gives_fresh_draws(
        bayes_ss_slopes, fresh_cache, monkeypatch):
    import multilevel as ml
    from multilevel.compare.refit import make_jobs, run_job

    before = cache.compilations()
    res = ml.compare.loo(bayes_ss_slopes, high_k="kfold", group_by="Subject", refit=REFIT)
    assert res.method == "logo" and res.n_refits == 18
    assert res.n_compilations == 1 and cache.compilations() - before == 1
    assert len(list((fresh_cache / "nutpie").glob("*.pkl"))) == 1

    # fold 2 through the compilation made for fold 1's data, and compiled afresh:
    # the same draws (the held-out log-likelihood draws are a function of them)
    subjects = bayes_ss_slopes.design.frame.data["Subject"].to_numpy()
    rows = np.flatnonzero(subjects == np.unique(subjects.astype(str))[1])
    (job,) = make_jobs(bayes_ss_slopes, [rows], ["fold 2"], REFIT)
    reused = run_job(job)
    monkeypatch.setenv("MULTILEVEL_CACHE", "0")
    fresh = run_job(job)
    assert (reused.compilations, fresh.compilations) == (0, 1)
    np.testing.assert_array_equal(reused.loglik, fresh.loglik)


@pytest.mark.parametrize("preset", ["ridge", "lasso", "elastic_net"])
def test_a_path_of_prior_scales_is_one_structure(preset):
    """A grid mixing scales float32 represents exactly (3.0) and not (0.1) is one
    compilation: the presets hand PyTensor float64 scales (a Python 3.0 would be a
    float32 constant, another structure)."""
    import multilevel as ml

    make = {"ridge": ml.priors.ridge, "lasso": ml.priors.lasso,
            "elastic_net": lambda s: ml.priors.elastic_net(s, 2 * s)}[preset]
    data = ml.datasets.load("diabetes")
    keys, values = set(), []
    for scale in (0.1, 3.0, 0.5):
        lifted = lift_data(build_model("target ~ bmi + bp + s5 + age", data, priors=make(scale)).pymc)
        keys.add(cache.model_key(lifted.model))
        values.append(lifted.values)
    assert len(keys) == 1
    assert all([v.dtype for v in vs] == [np.dtype("float64")] for vs in values)
    # the scales differ between the grid points only in the buffers' values
    assert not np.array_equal(values[0][0], values[1][0])


@pytest.mark.slow
def test_sbc_replicates_run_the_compilation_of_the_fitted_structure(bayes_ss_intercept):
    """Every replicate (simulated response, its own data-scaled priors) runs one
    compilation: the code compiled for the session's fit of the same formula where that
    fit compiled per structure, else the replicates' one."""
    import multilevel as ml

    before = cache.compilations()
    res = ml.sbc("Reaction ~ Days + (1 | Subject)", "sleepstudy", n=3, seed=4, draws=40, tune=40,
                 chains=1, thin=1, progress=False)
    assert res.n == 3 and not res.failures
    assert res.n_compilations == cache.compilations() - before <= 1
    again = ml.sbc("Reaction ~ Days + (1 | Subject)", "sleepstudy", n=2, seed=5, draws=40, tune=40,
                   chains=1, thin=1, progress=False)
    assert again.n_compilations == 0


def test_sbc_replicates_keep_the_simulating_models_parameterisation(sleepstudy):
    """``noncentered="auto"`` decides from the response; a replicate whose simulated
    response says otherwise would be another structure (cbpp's SBC compiled twice). Under
    the simulating model's choice every replicate builds the same structure."""
    from multilevel.bayes.model import fixed_parameterization, parameterization

    formula = "Reaction ~ Days + (1 | Subject)"
    weak = sleepstudy.assign(Reaction=np.random.default_rng(3).normal(300, 50, len(sleepstudy)))
    original, replicate = build_model(formula, sleepstudy), build_model(formula, weak)
    assert parameterization(original) == (frozenset({"1|Subject"}), True, True)
    assert parameterization(replicate) == (frozenset(), False, True)

    def key(built):
        return cache.model_key(lift_data(built.pymc).model)

    assert key(original) != key(replicate)
    with fixed_parameterization(parameterization(original)):
        fixed = build_model(formula, weak)
        explicit = build_model(formula, weak, noncentered=True)   # an explicit choice wins
    assert parameterization(fixed) == parameterization(original) and key(fixed) == key(original)
    assert parameterization(explicit) == (None, False, True)
    with fixed_parameterization(parameterization(build_model(formula, weak, noncentered=False))):
        assert parameterization(build_model(formula, sleepstudy)) == (None, False, False)


def test_sbc_refits_take_the_simulating_models_prior_parameters(sleepstudy):
    """The default priors are scaled by the response: a replicate's own build would put
    them where its simulated response lies. The simulating model's prior parameters
    replace them, matched by variable (centring reorders the graph), and nothing else."""
    from multilevel.bayes.datainputs import prior_values, with_prior_values

    other = sleepstudy.copy()
    other["Reaction"] = 3 * sleepstudy["Reaction"] + 7
    original = lift_data(build_model(FORMULA, sleepstudy).pymc)
    replicate = lift_data(build_model(FORMULA, other).pymc)
    theirs, mine = prior_values(original), prior_values(replicate)
    assert mine[("sigma", "HalfStudentTRV", 3)] == pytest.approx(3 * theirs[("sigma", "HalfStudentTRV", 3)])
    fixed = with_prior_values(replicate, theirs)
    flagged = np.zeros(len(fixed.values[0]), dtype=bool)
    for _, start, stop, _ in fixed.priors:
        flagged[start:stop] = True
    np.testing.assert_array_equal(fixed.values[0][flagged], original.values[0][flagged])
    np.testing.assert_array_equal(fixed.values[0][~flagged], replicate.values[0][~flagged])
    # with them, nothing in the buffers depends on the response but the response itself
    moved = ~np.isclose(fixed.values[0], original.values[0])
    assert np.isin(fixed.values[0][moved], other["Reaction"].to_numpy()).all()
    with pytest.raises(ValueError, match="do not match"):
        with_prior_values(replicate, {("sigma", "HalfStudentTRV", 3): np.ones(1)})


@pytest.mark.slow
def test_unequal_random_folds_compile_once(bayes_ss_intercept, fresh_cache, monkeypatch):
    """K-fold folds of unequal size are one structure with the row count an input
    (tests/test_shape_inputs.py checks the graph), so one compilation."""
    import multilevel as ml
    from multilevel.compare.refit import make_folds, make_jobs, run_job

    refit = {"draws": 50, "tune": 50, "chains": 1}
    folds = make_folds(180, k=7, seed=0)
    assert set(180 - np.bincount(folds)[1:]) == {154, 155}
    before = cache.compilations()
    res = ml.compare.loo(bayes_ss_intercept, high_k="kfold", k_folds=7, refit=refit)
    assert res.method == "kfold(7)" and res.n_refits == 7
    assert res.n_compilations == 1 == cache.compilations() - before
    assert len(list((fresh_cache / "nutpie").glob("*.pkl"))) == 1
    assert np.isfinite(res.elpd.elpd)

    # a training set of either size run by the one compilation, and compiled afresh: the
    # same draws (the held-out log-likelihood draws are a function of them)
    jobs = make_jobs(bayes_ss_intercept, [np.flatnonzero(folds == f) for f in (1, 7)],
                     ["fold 1", "fold 7"], refit)
    assert len({len(job.train) for job in jobs}) == 2
    reused = [run_job(job) for job in jobs]
    monkeypatch.setenv("MULTILEVEL_CACHE", "0")
    monkeypatch.setattr(cache, "_MEMORY", {})
    fresh = run_job(jobs[1])
    assert [r.compilations for r in reused] == [0, 0] and fresh.compilations == 1
    np.testing.assert_array_equal(reused[1].loglik, fresh.loglik)


def test_refits_keep_the_fitted_models_parameterisation(bayes_ss_intercept, monkeypatch):
    """A K-fold training set would decide noncentered="auto" anew (another structure when
    it decides otherwise); every refit job carries the fitted model's choice and builds
    with it, on whatever process runs the job."""
    import multilevel.engines
    from multilevel.bayes.model import parameterization
    from multilevel.compare.refit import make_jobs, run_job
    from multilevel.errors import ComparisonError, FitError

    fit = bayes_ss_intercept
    jobs = make_jobs(fit, [np.arange(10)], ["fold 1"])
    assert jobs[0].geometry == parameterization(fit.built) == (frozenset({"1|Subject"}), True, True)
    seen = []

    def build_only(formula, data, **options):   # records what the refit would build
        seen.append(parameterization(build_model(formula, data)))
        raise FitError("stop before sampling")

    monkeypatch.setattr(multilevel.engines, "fit", build_only)
    weak = jobs[0].__class__(**{**jobs[0].__dict__, "geometry": (None, False, False)})
    with pytest.raises(ComparisonError, match="stop before sampling"):
        run_job(weak)
    assert seen == [(None, False, False)]
