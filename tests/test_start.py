"""nutpie's start replayed in numpy (multilevel.bayes.start): it must equal PyMC's
jittered initial point bit for bit, or not be used at all."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml
from multilevel.bayes.model import build_model
from multilevel.bayes.start import replay, replay_plan

MODELS = [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "gaussian"),
    ("Reaction ~ Days + (Days || Subject)", "sleepstudy", "gaussian"),
    ("strength ~ 1 + (1 | batch/cask)", "Pastes", "gaussian"),
    ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "binomial"),
    ("Reaction ~ Days + (1 | Subject)", "sleepstudy", "t"),
    ("Reaction ~ Days + ar(time = Days, gr = Subject)", "sleepstudy", "gaussian"),
]


def _starts(formula, data, family):
    from pymc.initial_point import make_initial_point_fn

    model = build_model(formula, ml.datasets.load(data), family=family).pymc
    jittered = make_initial_point_fn(model=model, jitter_rvs=set(model.free_RVs),
                                     return_transformed=True, default_strategy="support_point")
    support = make_initial_point_fn(model=model, jitter_rvs=set(), return_transformed=True,
                                    default_strategy="support_point")(0)
    return jittered, support


@pytest.mark.parametrize("formula, data, family", MODELS)
def test_replayed_start_equals_pymc_for_new_seeds(formula, data, family):
    jittered, support = _starts(formula, data, family)
    plan = replay_plan(jittered, support)
    assert plan is not None and set(plan["stream"]) == set(support)
    for seed in (3, 987654321, 2 ** 63 - 1):
        expected, replayed = jittered(seed), replay(plan, seed)
        for name in support:
            np.testing.assert_array_equal(replayed[name], expected[name], err_msg=name)


def test_no_plan_when_the_start_cannot_be_replayed():
    jittered, support = _starts(*MODELS[0])

    def other_streams(seed):  # jitter from streams PyMC would not use
        rng = np.random.default_rng(seed)
        return {name: value + rng.uniform(-1, 1, np.shape(value)) for name, value in support.items()}

    assert replay_plan(other_streams, support) is None
    assert replay_plan(lambda seed: {**jittered(seed), "extra": np.zeros(1)}, support) is None


# ------------------------------------------------------------ the jitter's reach (log links)
def test_wide_predictors_of_a_log_link_get_a_shrunk_jitter():
    """Under a log link the jitter of a coefficient moves η by at most MAX_ETA_JITTER on the
    fitted rows (grouseticks' cHEIGHT spans ±70: PyMC's ±1 put η at ±70 and stalled the
    chains); predictors within reach, and identity links, keep PyMC's start exactly."""
    from multilevel.bayes.start import MAX_ETA_JITTER, jitter_scales, scaled

    data = ml.datasets.load("grouseticks")
    built = build_model("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", data, family="poisson")
    scales = jitter_scales(built.bambi)
    assert set(scales) == {"cHEIGHT"}   # the YEAR dummies (0/1) and the intercept keep ±1
    reach = np.abs(data["cHEIGHT"]).max()
    assert float(scales["cHEIGHT"]) == pytest.approx(MAX_ETA_JITTER / reach)
    jittered, support = _starts("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", "grouseticks", "poisson")
    start = scaled(jittered, support, scales)
    for seed in range(5):
        plain, shrunk = jittered(seed), start(seed)
        assert abs(shrunk["cHEIGHT"] - support["cHEIGHT"]) * reach <= MAX_ETA_JITTER + 1e-12
        assert shrunk["cHEIGHT"] - support["cHEIGHT"] == pytest.approx(
            (plain["cHEIGHT"] - support["cHEIGHT"]) * float(scales["cHEIGHT"]))
        for name in plain:
            if name != "cHEIGHT":
                np.testing.assert_array_equal(shrunk[name], plain[name])
    gaussian = build_model("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    assert jitter_scales(gaussian.bambi) is None
    narrow = build_model("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                         ml.datasets.load("cbpp"), family="binomial")
    assert jitter_scales(narrow.bambi) is None


@pytest.mark.slow
def test_a_poisson_glmm_with_a_wide_predictor_converges_at_defaults():
    """``TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)`` at the defaults: before the shrunk jitter
    its chains stalled (R-hat 3.2-17.9 for seeds 2-4, step sizes 1e-11 and below)."""
    data = ml.datasets.load("grouseticks")
    for seed in (2, 3):
        fit = ml.fit("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", data, family="poisson", seed=seed,
                     progress=False)   # a ConvergenceWarning would fail the test (warnings are errors)
        table = fit.summary()
        assert table["r_hat"].max() <= 1.01 and table["ess_bulk"].min() >= 1000
        assert fit.convergence.ok
