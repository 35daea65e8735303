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
