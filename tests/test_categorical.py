"""``family="categorical"``: an unordered response, one linear predictor per non-reference
category (Bambi's and brms's layout, the first category the reference), softmax link.

Fast: the response's categories and codes (strings, unordered Categoricals, whole numbers),
bad responses refused naming the column, constructs Bambi does not build for this family
refused naming the term, the numpy log-likelihood against PyMC's logp of the built model
(1e-9), the frequentist engine's refusal.
Slow (module fixtures): a seeded fit to data simulated from known parameters (3 categories,
one predictor, a random intercept per category on 20 groups) recovers them (95 % intervals,
R-hat <= 1.01, no divergences), with its predictions, the bar PPC, the ICC's and the
effects' refusals, LOO, and one compilation serving a second data set of the same shape;
a fixed-effects fit of R's iris data against nnet::multinom (tests/reference/categorical.json,
made by tests/reference/make_categorical.R): posterior means within one posterior SD of the
ML estimates.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, FamilyError, FormulaError

LEVELS = ("a", "b", "c")
INTERCEPTS, SLOPES, SDS = np.array([0.5, -0.5]), np.array([1.0, -0.8]), np.array([0.8, 0.6])
REFERENCE = json.loads((Path(__file__).parent / "reference" / "categorical.json").read_text())


def simulate(seed: int = 3, groups: int = 20, per_group: int = 40) -> pd.DataFrame:
    """y in a, b, c (a the reference): η_k = intercept_k + slope_k x + u_gk, u_gk ~ N(0, sd_k²)."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per_group)
    x = rng.normal(size=g.size)
    u = rng.normal(size=(groups, 2)) * SDS
    eta = np.column_stack([np.zeros(g.size), INTERCEPTS + np.outer(x, SLOPES) + u[g]])
    p = np.exp(eta - eta.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    codes = (rng.random(g.size)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return pd.DataFrame({"y": np.array(LEVELS)[codes], "x": x, "g": [f"g{i:02d}" for i in g]})


def _build(data, formula="y ~ x + (1 | g)", **kwargs):
    from multilevel.bayes.model import build_model

    return build_model(formula, data, family="categorical", **kwargs)


# ------------------------------------------------------------------ fast


def test_categories_codes_and_reference():
    data = simulate(groups=4, per_group=10)
    built = _build(data)
    assert built.design.frame.categories == LEVELS
    np.testing.assert_array_equal(built.design.y, pd.Categorical(data["y"]).codes)
    assert built.bambi.response_term.levels == list(LEVELS)
    model = built.pymc   # one coefficient per non-reference category, as Bambi names them
    assert list(model.coords["y_reduced_dim"]) == ["b", "c"]
    assert model.named_vars_to_dims["1|g_sigma"] == ("y_reduced_dim",)
    assert "1|g_offset" in model.named_vars   # non-centred under noncentered="auto"
    # an unordered Categorical keeps its categories' order (the first is the reference)
    other = data.assign(y=pd.Categorical(data["y"], categories=["c", "a", "b"]))
    assert _build(other).design.frame.categories == ("c", "a", "b")
    # whole numbers: numeric order (10 after 9)
    numbers = data.assign(y=np.array([1, 9, 10])[pd.Categorical(data["y"]).codes])
    built = _build(numbers)
    assert built.design.frame.categories == (1, 9, 10)
    np.testing.assert_array_equal(built.design.y, pd.Categorical(data["y"]).codes)


BAD = [  # response transform, message
    (lambda y: pd.Categorical(y).codes + 0.5, "non-integer values"),
    (lambda y: pd.Categorical(y, categories=[*LEVELS, "extra"]), "'extra'.*has no rows"),
    (lambda y: pd.Series("a", index=y.index), "single category"),
]


@pytest.mark.parametrize(("change", "match"), BAD)
def test_bad_responses_are_refused_naming_the_column(change, match):
    data = simulate(groups=4, per_group=10)
    data["y"] = change(data["y"])
    with pytest.raises(DataError, match=f"Response column 'y'.*{match}"):
        _build(data)


REFUSED = [  # formula, error, message
    ("y ~ x + (x | g)", FormulaError, r"'\(x \| g\)'.*correlated.*'\|\|'"),
    ("y ~ x + offset(x) + (1 | g)", FormulaError, r"offset\(x\)"),
    ("log(y) ~ x", FormulaError, "column of categories"),
    (["y ~ x", "sigma ~ x"], Exception, "sigma"),
]


@pytest.mark.parametrize(("formula", "error", "match"), REFUSED)
def test_unsupported_constructs_are_refused_naming_the_term(formula, error, match):
    with pytest.raises(error, match=match):
        _build(simulate(groups=4, per_group=10), formula)


def test_presets_and_frequentist_engine_are_refused():
    data = simulate(groups=4, per_group=10)
    with pytest.raises(FamilyError, match="one per column and category"):
        _build(data, priors=ml.priors.ridge())
    with pytest.raises(FamilyError, match="method='bayes'"):
        ml.fit("y ~ x + (1 | g)", data, method="ml", family="categorical")


def test_independent_terms_and_nesting_get_one_sd_per_category():
    built = _build(simulate(groups=4, per_group=10).assign(h=lambda d: d["g"].str[-1:]),
                   "y ~ x + (0 + x || g) + (1 | g/h)")
    model = built.pymc
    for term in ("x|g", "1|g", "1|h:g"):
        assert model.named_vars_to_dims[f"{term}_sigma"] == ("y_reduced_dim",), term
    from multilevel.bayes.names import summary_names

    names = summary_names(built)
    assert names["1|h:g_sigma"] == ["sd__(Intercept)|h:g[b]", "sd__(Intercept)|h:g[c]"]
    assert names["x"] == ["x[b]", "x[c]"]


def test_loglik_equals_pymc_logp_of_the_built_model():
    """At a random point: η per category from the point's coefficients and group effects, our
    log-likelihood against PyMC's logp of the observed categories."""
    from multilevel.bayes.categorical import loglik, probabilities

    built = _build(simulate(groups=5, per_group=8), "y ~ x + (x || g)")
    model = built.pymc
    rng = np.random.default_rng(1)
    point = {k: v + rng.normal(0, 0.7, np.shape(v)) for k, v in model.initial_point().items()}
    names = ["Intercept", "x", "1|g", "x|g"]
    outputs = model.replace_rvs_by_values([model[n] for n in names])
    fn = model.compile_fn([model.logp(vars=model.observed_RVs, sum=False)[0], *outputs],
                          inputs=model.value_vars, point_fn=True, mode="FAST_COMPILE")
    theirs, intercept, slope, b0, b1 = fn(point)
    term = built.design.reterms[0]
    labels = [str(v) for v in model.coords["g__factor_dim"]]
    order = [labels.index(level) for level in term.levels]
    x = built.design.frame.data["x"].to_numpy()
    # Bambi builds the intercept of centred predictors (the fit's posterior has it uncentred)
    eta = intercept + np.outer(x - x.mean(), slope) + b0[order][term.codes] + x[:, None] * b1[order][term.codes]
    ours = loglik(eta[None], built.design.y.astype(int))[0]
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(probabilities(eta).sum(axis=-1), 1.0, rtol=1e-12)


# ------------------------------------------------------------------ sampled fits

SAMPLING = {"draws": 400, "tune": 500, "chains": 4, "seed": 11, "progress": False, "check": False}


@pytest.fixture(scope="module")
def cache_folder(tmp_path_factory):
    """An empty compile cache, so the first fit compiles and the second can only reuse it."""
    from multilevel.bayes import cache

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MULTILEVEL_CACHE_DIR", str(tmp_path_factory.mktemp("categorical_cache")))
        mp.delenv("MULTILEVEL_CACHE", raising=False)
        mp.setattr(cache, "_MEMORY", {})
        yield


@pytest.fixture(scope="module")
def sim_fit(cache_folder):
    data = simulate()
    return data, ml.fit("y ~ x + (1 | g)", data, family="categorical", **SAMPLING)


@pytest.mark.slow
def test_recovers_intercepts_slopes_and_group_sds(sim_fit):
    _, fit = sim_fit
    with warnings.catch_warnings():   # the ESS advice; R-hat is asserted below
        warnings.simplefilter("ignore", ml.errors.ConvergenceWarning)
        table = fit.summary(ci=0.95)
    truth = {}
    for k, c in enumerate(LEVELS[1:]):
        truth.update({f"(Intercept)[{c}]": INTERCEPTS[k], f"x[{c}]": SLOPES[k],
                      f"sd__(Intercept)|g[{c}]": SDS[k]})
    assert list(table.index) == ["(Intercept)[b]", "(Intercept)[c]", "x[b]", "x[c]",
                                 "sd__(Intercept)|g[b]", "sd__(Intercept)|g[c]"]
    assert table.attrs["reference"] == "a" and "reference category 'a'" in repr(fit)
    for name, value in truth.items():
        row = table.loc[name]
        assert row["lower"] <= value <= row["upper"], (name, value, row.to_dict())
    assert table["r_hat"].max() <= 1.01, table["r_hat"].to_dict()
    assert int(fit.idata["sample_stats"]["diverging"].sum()) == 0
    assert list(fit.fixef.index) == list(table.index[:4])
    assert list(fit.ranef["g"].columns) == ["(Intercept)[b]", "(Intercept)[c]"]
    assert list(fit.varcorr["var1"]) == ["(Intercept)[b]", "(Intercept)[c]"]


@pytest.mark.slow
def test_log_likelihood_loo_and_heldout_rows(sim_fit):
    from multilevel.compare.pointwise import heldout_loglik

    data, fit = sim_fit
    assert "log_likelihood" in fit.timings   # numpy's (checked against PyMC above)
    ll = fit.idata["log_likelihood"]["y"].values
    assert ll.shape == (4, 400, len(data)) and np.all(ll < 0)
    np.testing.assert_allclose(heldout_loglik(fit, fit.design.frame.data, fit.design.y), ll,
                               rtol=1e-12)
    elpd = float(ml.compare.loo(fit).elpd.elpd)
    assert np.isfinite(elpd) and elpd > len(data) * np.log(1 / 3)   # beats guessing


@pytest.mark.slow
def test_predictions_are_labelled_probabilities_and_categories(sim_fit):
    data, fit = sim_fit
    mean = fit.predict(data, kind="mean")
    assert mean.index.names == ["row", "category"] and len(mean) == 3 * len(data)
    assert list(mean.index.get_level_values("category")[:3]) == list(LEVELS)
    per_row = mean["estimate"].unstack("category")
    np.testing.assert_allclose(per_row.sum(axis=1), 1.0, rtol=1e-12)
    probs = ml.predict.category_probabilities(fit, data)
    assert list(probs.columns) == list(LEVELS)
    np.testing.assert_allclose(probs.to_numpy(), per_row[list(LEVELS)].to_numpy(), rtol=1e-12)
    shares = data["y"].value_counts(normalize=True)[list(LEVELS)].to_numpy()
    np.testing.assert_allclose(probs.mean().to_numpy(), shares, atol=0.03)
    draws = ml.predict.category_draws(fit, data.head(5), n_draws=50, seed=1)
    assert draws.shape == (50, 5) and set(np.unique(draws.to_numpy())) <= set(LEVELS)
    predictive = fit.predict(data.head(5), kind="predictive", seed=1)
    np.testing.assert_allclose(predictive["estimate"].unstack("category").sum(axis=1), 1.0)
    assert set(np.unique(predictive[["lower", "upper"]].to_numpy())) <= {0.0, 1.0}
    # without group effects and for a level the fit has not seen: the population's
    new = pd.DataFrame({"x": [0.5, 0.5], "g": ["g03", "unseen"]})
    population = ml.predict.category_probabilities(fit, new, group_effects=False)
    seen_and_new = ml.predict.category_probabilities(fit, new)
    np.testing.assert_allclose(seen_and_new.iloc[1], population.iloc[1], rtol=1e-12)
    assert not np.allclose(seen_and_new.iloc[0], population.iloc[0])
    sampled = fit.predict(new, new_groups="sample", seed=2)["estimate"].unstack("category")
    np.testing.assert_allclose(sampled.sum(axis=1), 1.0, rtol=1e-12)
    with pytest.raises(DataError, match="unseen"):
        fit.predict(new, new_groups="error")


@pytest.mark.slow
def test_ppc_bars_icc_and_effects_are_refused(sim_fit):
    from multilevel.plots.draw import ppc_plot

    data, fit = sim_fit
    fig = ppc_plot(fit, n_draws=10)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(LEVELS)
    heights = [p.get_height() for p in ax.patches]   # a bar per category: the observed shares
    np.testing.assert_allclose(heights, data["y"].value_counts(normalize=True)[list(LEVELS)])
    with pytest.raises(FamilyError, match="not defined for a categorical model"):
        ml.icc(fit)
    with pytest.raises(FamilyError, match="category_probabilities"):
        ml.effects.emmeans(fit, "x")


@pytest.mark.slow
def test_report_names_the_reference_and_each_categorys_terms(sim_fit, tmp_path):
    _, fit = sim_fit
    folder = fit.report(tmp_path / "report")
    folder = Path(folder).parent   # report.html's folder
    text = (folder / "report.md").read_text()
    assert "categorical (reference category 'a')" in text
    assert "| sd__(Intercept)\\|g[c] |" in text and "| x[b] |" in text
    assert "groups: family='categorical' has no single fitted value" in text
    assert {"ppc.png", "caterpillar.png"} <= {p.name for p in folder.iterdir()}


@pytest.mark.slow
def test_one_compilation_serves_a_second_data_set_of_the_same_shape(sim_fit):
    _, first = sim_fit
    second = ml.fit("y ~ x + (1 | g)", simulate(seed=4), family="categorical",
                    **{**SAMPLING, "draws": 100, "tune": 100, "chains": 1})
    assert first.timings["compilations"] == 1
    assert second.timings["compilations"] == 0 and second.timings["compile_cache"] == "hit"
    assert not np.allclose(second.fixef, first.fixef, atol=0.05)


@pytest.mark.slow
def test_iris_posterior_means_within_one_sd_of_nnet_multinom():
    data = ml.datasets.load("iris")
    fit = ml.fit(REFERENCE["formula"], data, family="categorical",
                 **{**SAMPLING, "draws": 500, "chains": 2})
    table = fit.summary()
    assert table.attrs["reference"] == REFERENCE["reference"]
    for name, ml_estimate in REFERENCE["estimate"].items():
        row = table.loc[name]
        assert abs(row["estimate"] - ml_estimate) <= row["sd"], (name, ml_estimate, row.to_dict())
        # the posterior SD and the ML standard error describe the same curvature (priors aside)
        assert 0.6 <= row["sd"] / REFERENCE["se"][name] <= 1.2, name
    fitted = ml.predict.category_probabilities(fit).iloc[REFERENCE["fitted_rows"]]
    np.testing.assert_allclose(fitted.to_numpy(), REFERENCE["fitted"], atol=0.05)
