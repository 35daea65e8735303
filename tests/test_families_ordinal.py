"""Ordinal families (``cumulative``, ``sratio``) through the Bayesian path.

Fast: the response's categories and their order (ordered Categorical, whole numbers;
strings and unordered categoricals refused), the design without an intercept, Bambi's
threshold priors, the numpy log-likelihood against PyMC's logp of the built model
(1e-9), REML/ML refusal. Slow: a seeded fit to data simulated with known thresholds,
slope and group SD recovers them (95 % intervals, R-hat <= 1.01, no divergences), with
predictions, category probabilities, the bar PPC and the ICC's refusal.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from family_sim import (
    ORDINAL_LEVELS,
    ORDINAL_TRUTH,
    SD_GROUP,
    SLOPE,
    ordinal_probabilities,
    simulate_ordinal,
)

import multilevel as ml
from multilevel.errors import DataError, FamilyError, FormulaError

ORDINAL = list(ORDINAL_TRUTH)


def _build(data, family="cumulative", formula="y ~ x + (1 | g)"):
    from multilevel.bayes.model import build_model

    return build_model(formula, data, family=family)


def test_ordered_categorical_and_whole_numbers_give_the_order():
    data = simulate_ordinal("cumulative", groups=4, per_group=10)
    built = _build(data)
    assert built.design.frame.categories == ORDINAL_LEVELS
    # the response's values: category scores, 1..K for named categories
    np.testing.assert_array_equal(built.design.y, data["y"].cat.codes.to_numpy() + 1)
    assert built.design.x_names == ["x"]   # thresholds in the intercept's place
    assert built.bambi.response_term.levels == list(ORDINAL_LEVELS)
    # ratings as numbers: numeric order (10 after 9, not after 1)
    ratings = data.assign(y=np.array([1, 2, 9, 10])[data["y"].cat.codes.to_numpy()])
    built = _build(ratings, "sratio")
    assert built.design.frame.categories == (1, 2, 9, 10)
    np.testing.assert_array_equal(built.design.y, ratings["y"])   # numbers score as themselves
    model = built.pymc   # what PyMC observes: the category codes
    np.testing.assert_array_equal(model.rvs_to_values[model.observed_RVs[0]].data,
                                  data["y"].cat.codes.to_numpy())


BAD = [  # response transform, message
    (lambda y: y.astype(str), "has type .*needs ordered categories"),
    (lambda y: pd.Categorical(y.astype(str)), "unordered categorical"),
    (lambda y: y.cat.codes + 0.5, "non-integer values"),
    (lambda y: y.cat.set_categories([*ORDINAL_LEVELS, "extra"]), "'extra'.*has no rows"),
    (lambda y: pd.Categorical.from_codes((y.cat.codes > 1).astype(int), ["lo", "hi"], ordered=True),
     "2 categories.*at least 3"),
    (lambda y: y.cat.codes > 1, "has type bool"),
]


@pytest.mark.parametrize(("change", "match"), BAD)
def test_bad_ordinal_responses_are_refused(change, match):
    data = simulate_ordinal("cumulative", groups=4, per_group=10)
    data["y"] = change(data["y"])
    with pytest.raises(DataError, match=f"Response column 'y'.*{match}"):
        _build(data)


def test_no_intercept_and_expressions_are_refused():
    data = simulate_ordinal("cumulative", groups=4, per_group=10)
    with pytest.raises(FormulaError, match="thresholds in place of the intercept"):
        _build(data, formula="y ~ 0 + x + (1 | g)")
    with pytest.raises(FormulaError, match="column of ordered categories"):
        _build(data.assign(y=data["y"].cat.codes + 1), formula="log(y) ~ x + (1 | g)")


@pytest.mark.parametrize("family", ORDINAL)
def test_threshold_priors(family):
    built = _build(simulate_ordinal(family, groups=4, per_group=10), family)
    prior = built.bambi.parameters["threshold"].prior
    assert prior.name == "Normal" and prior.args["sigma"] == 2.5   # not Bambi's 1 (ordinal.py)
    if family == "cumulative":   # ordered thresholds spread over -2..2
        np.testing.assert_allclose(prior.args["mu"], [-2, 0, 2])
        assert "ordered" in str(built.pymc.rvs_to_transforms[built.pymc["threshold"]]).lower()
    else:                        # sratio's need no order
        np.testing.assert_allclose(prior.args["mu"], [0, 0, 0])


@pytest.mark.parametrize("family", ORDINAL)
def test_density_equals_pymc_logp_of_the_built_model(family):
    """At a random point of the built model: η from the design and the point's coefficients
    and group effects, the thresholds, then our density against PyMC's logp of y."""
    from multilevel.bayes.densities import density

    built = _build(simulate_ordinal(family, groups=5, per_group=8), family)
    model = built.pymc
    rng = np.random.default_rng(1)
    point = {k: v + rng.normal(0, 0.7, np.shape(v)) for k, v in model.initial_point().items()}
    outputs = model.replace_rvs_by_values([model["threshold"], model["x"], model["1|g"]])
    fn = model.compile_fn([model.logp(vars=model.observed_RVs, sum=False)[0], *outputs],
                          inputs=model.value_vars, point_fn=True, mode="FAST_COMPILE")
    theirs, threshold, slope, effects = fn(point)
    term = built.design.reterms[0]
    labels = [str(v) for v in model.coords["g__factor_dim"]]
    b = np.asarray(effects)[[labels.index(level) for level in term.levels]]
    eta = built.design.X @ np.atleast_1d(slope) + b[term.codes]
    codes = built.design.frame.data["y"].cat.codes.to_numpy()
    ours = density(family, eta[None], codes, {"threshold": np.asarray(threshold)[None]})[0]
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("family", ORDINAL)
def test_category_probabilities_match_the_simulation(family):
    from multilevel.bayes.densities import category_probabilities

    eta = np.array([[-0.5, 0.3, 2.0]])
    ours = category_probabilities(family, eta, np.array([ORDINAL_TRUTH[family]]))[0]
    np.testing.assert_allclose(ours, ordinal_probabilities(family, eta[0], ORDINAL_TRUTH[family]),
                               rtol=1e-12)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("family", ORDINAL)
@pytest.mark.parametrize("method", ["reml", "ml"])
def test_frequentist_engine_refuses(family, method):
    with pytest.raises(FamilyError, match="method='bayes'"):
        ml.fit("y ~ x + (1 | g)", simulate_ordinal(family, groups=4, per_group=10), method=method,
               family=family)


# ------------------------------------------------------------------ sampled fits

SAMPLING = dict(draws=500, tune=500, chains=4, seed=20, progress=False, check=False)


@pytest.fixture(scope="module", params=ORDINAL)
def ordinal_fit(request):
    family = request.param
    data = simulate_ordinal(family)
    return family, data, ml.fit("y ~ x + (1 | g)", data, family=family, **SAMPLING)


@pytest.mark.slow
def test_recovers_thresholds_slope_and_group_sd(ordinal_fit):
    family, _, fit = ordinal_fit
    with warnings.catch_warnings():   # the ESS >= 400 advice; R-hat is asserted below
        warnings.simplefilter("ignore", ml.errors.ConvergenceWarning)
        table = fit.summary(ci=0.95)
    names = [f"{a}|{b}" for a, b in zip(ORDINAL_LEVELS[:-1], ORDINAL_LEVELS[1:])]
    truth = {"x": SLOPE, "sd__(Intercept)|g": SD_GROUP, **dict(zip(names, ORDINAL_TRUTH[family]))}
    assert list(table.index) == ["x", "sd__(Intercept)|g", *names]
    for name, value in truth.items():
        row = table.loc[name]
        assert row["lower"] <= value <= row["upper"], (name, value, row.to_dict())
    assert table["r_hat"].max() <= 1.01, table["r_hat"].to_dict()
    assert int(fit.idata["sample_stats"]["diverging"].sum()) == 0
    assert "log_likelihood" in fit.timings   # numpy's (the density is checked above)
    assert fit.idata["log_likelihood"]["y"].shape[-1] == len(fit.design.y)


@pytest.mark.slow
def test_predictions_are_category_scores(ordinal_fit):
    _, data, fit = ordinal_fit
    mean = fit.predict(data, kind="mean")
    predictive = fit.predict(data, kind="predictive", seed=1)
    observed = fit.design.y   # string categories score 1..K
    assert abs(mean["estimate"].mean() - observed.mean()) < 0.05
    assert abs(predictive["estimate"].mean() - observed.mean()) < 0.1
    assert (predictive["sd"] > mean["sd"]).all()
    probs = ml.predict.category_probabilities(fit, data)
    assert list(probs.columns) == list(ORDINAL_LEVELS)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(probs.to_numpy() @ np.arange(1.0, 5.0), mean["estimate"], rtol=1e-10)
    # observed shares against the fitted rows' mean probabilities
    shares = np.bincount(data["y"].cat.codes, minlength=4) / len(data)
    np.testing.assert_allclose(probs.mean().to_numpy(), shares, atol=0.03)
    new = pd.DataFrame({"x": [0.0], "g": ["unseen"]})
    assert np.isfinite(fit.predict(new)["estimate"]).all()


@pytest.mark.slow
def test_ppc_draws_bars_and_icc_is_refused(ordinal_fit):
    from multilevel.plots.draw import ppc_plot

    _, _, fit = ordinal_fit
    fig = ppc_plot(fit, n_draws=10)
    edges = fig.axes[0].lines[0].get_xdata()
    np.testing.assert_allclose(edges, [0.5, 1.5, 2.5, 3.5, 4.5])   # a bar per score 1..4
    with pytest.raises(FamilyError, match="ICC is defined here for"):
        ml.icc(fit)


@pytest.mark.slow
def test_heldout_log_likelihood_of_the_fitted_rows_is_the_fits(ordinal_fit):
    from multilevel.compare.pointwise import heldout_loglik
    from multilevel.errors import ComparisonError

    _, _, fit = ordinal_fit
    ours = heldout_loglik(fit, fit.design.frame.data, fit.design.y)
    np.testing.assert_allclose(ours, fit.idata["log_likelihood"]["y"].values, rtol=1e-12)
    with pytest.raises(ComparisonError, match=r"outside the fit's categories"):
        heldout_loglik(fit, fit.design.frame.data.iloc[:2], np.array([1.0, 7.0]))
