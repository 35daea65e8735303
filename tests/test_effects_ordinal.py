"""Effects of ordinal fits (``cumulative``): marginal category probabilities and expected
scores (``ml.emmeans(..., mode="prob" | "mean.class")``) against R's
``emmeans(clmm_fit, ~ rating | temp, mode = "prob")`` on the shipped wine data
(tests/reference/make_ordinal_effects.R -> ordinal_effects.json), the same quantities
recomputed here from the posterior draws, and a clear refusal by the verbs that would
treat the latent linear predictor as a mean.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from family_sim import ordinal_probabilities

import multilevel as ml
from multilevel.errors import DataError, FamilyError

REFERENCE = json.loads((Path(__file__).parent / "reference" / "ordinal_effects.json").read_text())
SAMPLING = dict(draws=500, tune=500, chains=4, seed=5, progress=False, check=False)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wine_fit():
    return ml.fit(REFERENCE["formula"], ml.datasets.load(REFERENCE["data"]), family="cumulative",
                  **SAMPLING)


@pytest.mark.parametrize(("spec", "key"), [("temp", "prob_temp"), ("contact", "prob_contact")])
def test_category_probabilities_match_emmeans_of_clmm(wine_fit, spec, key):
    ours = ml.emmeans(wine_fit, spec, mode="prob")
    ref = pd.DataFrame(REFERENCE[key])
    assert list(ours.columns[:2]) == ["rating", spec]
    # emmeans' order: the category fastest within each level of the spec
    assert ours["rating"].astype(str).tolist() == ref["rating"].tolist()
    assert ours[spec].astype(str).tolist() == ref[spec].tolist()
    # posterior median against the ML estimate: within one posterior SD (as the thresholds
    # and coefficients in test_families_reference.py); measured |z| <= 0.8
    z = (ours["estimate"].to_numpy() - ref["prob"].to_numpy()) / ours["std_error"].to_numpy()
    assert np.all(np.abs(z) <= 1), dict(zip(ours["rating"].astype(str) + ours[spec].astype(str), z.round(2)))


def test_expected_class_matches_emmeans_mean_class(wine_fit):
    ours = ml.emmeans(wine_fit, "temp", mode="mean.class")
    ref = pd.DataFrame(REFERENCE["mean_class_temp"])
    assert ours["temp"].astype(str).tolist() == ref["temp"].tolist()
    z = (ours["estimate"].to_numpy() - ref["mean.class"].to_numpy()) / ours["std_error"].to_numpy()
    assert np.all(np.abs(z) <= 1), z


def test_probabilities_are_the_grid_average_of_each_draw(wine_fit):
    """Recomputed from the draws with the test's own cumulative-logit probabilities: per
    draw, P(y = k) at temp x contact (judge effect 0), averaged over contact."""
    beta = wine_fit.fixef_draws()
    threshold = np.asarray(wine_fit.posterior["threshold"].values).reshape(len(beta), -1)
    per_temp = {}
    for temp, warm in (("cold", 0.0), ("warm", 1.0)):
        draws = np.stack([
            np.stack([ordinal_probabilities("cumulative", np.array([b_t * warm + b_c * contact]), th)[0]
                      for b_t, b_c, th in zip(beta["tempwarm"], beta["contactyes"], threshold)])
            for contact in (0.0, 1.0)]).mean(axis=0)          # draws × K
        per_temp[temp] = draws
    ours = ml.emmeans(wine_fit, "temp", mode="prob")
    expected = np.concatenate([np.median(per_temp[t], axis=0) for t in ("cold", "warm")])
    np.testing.assert_allclose(ours["estimate"], expected, rtol=1e-10)
    expected_sd = np.concatenate([per_temp[t].std(axis=0, ddof=1) for t in ("cold", "warm")])
    np.testing.assert_allclose(ours["std_error"], expected_sd, rtol=1e-10)
    score = ml.emmeans(wine_fit, "temp", mode="mean.class")
    np.testing.assert_allclose(score["estimate"], [np.median(per_temp[t] @ np.arange(1.0, 6.0))
                                                   for t in ("cold", "warm")], rtol=1e-10)


@pytest.mark.parametrize("verb", [
    lambda fit: ml.predictions(fit),
    lambda fit: ml.comparisons(fit, variables="temp"),
    lambda fit: ml.slopes(fit),
    lambda fit: ml.effects.r2_bayes(fit),
    lambda fit: ml.effects.loo_r2(fit),
], ids=["predictions", "comparisons", "slopes", "r2_bayes", "loo_r2"])
def test_verbs_that_read_eta_as_a_mean_refuse_and_say_what_to_use(wine_fit, verb):
    with pytest.raises(FamilyError, match=r"ordinal family 'cumulative'.*latent score.*"
                                          r"ml\.predict\.category_probabilities.*mode='prob'"):
        verb(wine_fit)


def test_emmeans_options_that_do_not_apply_are_refused(wine_fit):
    with pytest.raises(DataError, match="mode='latent' is not valid for an ordinal fit"):
        ml.emmeans(wine_fit, "temp", mode="latent")
    with pytest.raises(DataError, match="type='response' does not apply to an ordinal fit"):
        ml.emmeans(wine_fit, "temp", type="response")
    with pytest.raises(FamilyError, match="contrasts of an ordinal fit's marginal means are not implemented"):
        ml.emmeans(wine_fit, "temp", contrasts="pairwise")
    default = ml.emmeans(wine_fit, "temp")   # mode="prob" is the default for ordinal fits
    pd.testing.assert_frame_equal(default, ml.emmeans(wine_fit, "temp", mode="prob"))


def test_mode_is_refused_for_other_families():
    fit = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml")
    with pytest.raises(DataError, match="mode='prob' applies to ordinal fits"):
        ml.emmeans(fit, "Days", mode="prob")
