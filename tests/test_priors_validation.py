"""Prior parameters are checked against the PyMC distribution's signature (issue 18), and the
report's prior table shows exactly the prior the model was built with. Nothing is sampled."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

import multilevel as ml
from multilevel.errors import PriorError
from multilevel.priors import Prior, from_spec


@pytest.fixture(scope="module")
def sleep():
    return ml.datasets.load("sleepstudy")


def _build(data, priors, formula="Reaction ~ Days + (1 | Subject)"):
    from multilevel.bayes import build_model

    return build_model(formula, data, priors=priors)


# ------------------------------------------------------------------ the constructor

@pytest.mark.parametrize("dist, args, match", [
    ("Normal", dict(mean=100, sd=0.001), r"Normal has no parameter\(s\) 'mean', 'sd'.*mu, sigma, tau"),
    ("HalfNormal", dict(scale=3), r"'scale'.*sigma, tau"),
    ("StudentT", dict(nu=3, mu=0, sd=2), r"'sd'.*nu, mu, sigma, lam"),
    ("Normal", dict(mu="zero", sigma=1), r"mu='zero' must be a number.*mu, sigma, tau"),
    ("Normal", dict(mu=0, sigma="10"), r"sigma='10' must be a number"),
    ("Normal", dict(mu=0, sigma=True), r"sigma=True must be a number"),
    ("Normal", dict(mu=0, sigma=[1, "a"]), r"must be a number"),
    ("Normal", dict(mu=np.nan, sigma=1), r"must be finite"),
    ("Normal", dict(mu=0, sigma=-2), r"sigma=-2 must be positive"),
    ("Laplace", dict(mu=0), r"Laplace needs the parameter\(s\) 'b'"),
    ("Gamma", dict(alpha=2), r"PyMC cannot make Gamma"),
    ("HalfNormal", dict(sigma=1, tau=2), r"Can't pass both tau and sigma"),
    ("Nromal", dict(mu=0), r"not a PyMC distribution.*Did you mean 'Normal'"),
    ("Model", {}, r"not a PyMC distribution"),
])
def test_bad_parameters_are_a_prior_error_listing_valid_names(dist, args, match):
    with pytest.raises(PriorError, match=match):
        Prior(dist, **args)


def test_nested_priors_are_validated():
    with pytest.raises(PriorError, match=r"HalfNormal has no parameter\(s\) 'sd'"):
        Prior("Normal", mu=0, sigma=Prior("HalfNormal", sd=2))
    ok = Prior("Normal", mu=0, sigma=Prior("HalfNormal", sigma=2))
    assert ok.args["sigma"].args == {"sigma": 2}


def test_valid_priors_are_unchanged():
    p = Prior("StudentT", nu=3, mu=0, sigma=2.5)
    assert repr(p) == "Prior('StudentT', nu=3, mu=0, sigma=2.5)"
    assert Prior("Normal", mu=[0.0, 1.0], sigma=np.array([1.0, 2.0])).args["mu"] == [0.0, 1.0]


def test_bambi_priors_given_directly_are_validated(sleep):
    import bambi as bmb

    with pytest.raises(PriorError, match=r"'Days'.*Normal has no parameter\(s\) 'mean'"):
        _build(sleep, {"Days": bmb.Prior("Normal", mean=100, sd=0.001)})
    with pytest.raises(PriorError, match=r"sigma: HalfNormal has no parameter"):
        _build(sleep, {"1|Subject": bmb.Prior("Normal", mu=0, sigma=bmb.Prior("HalfNormal", sd=3))})


def test_the_fit_refuses_before_sampling(sleep):
    import bambi as bmb

    # a bambi.Prior is not checked when made; ml.fit checks it before building the sampler
    with pytest.raises(PriorError, match=r"'mean', 'sd'"):
        ml.fit("Reaction ~ Days + (1 | Subject)", sleep,
               priors={"Days": bmb.Prior("Normal", mean=100, sd=0.001)},
               draws=10, tune=10, chains=1, progress=False)


# ------------------------------------------------------------------ spec tables

@pytest.mark.parametrize("table, match", [
    ({"terms": {"Days": {"dist": "Normal", "mean": 100, "sd": 0.001}}},
     r"\[priors.terms\] Days: Normal has no parameter\(s\) 'mean', 'sd'"),
    ({"terms": {"Days": {"dist": "Normal", "mu": "0", "sigma": 1}}}, r"mu='0' must be a number"),
    ({"terms": {"1|Subject": {"dist": "Normal", "mu": 0, "sigma": {"dist": "HalfNormal", "sd": 2}}}},
     r"1\|Subject.sigma: HalfNormal has no parameter"),
    ({"terms": {"Days": {"dist": 5}}}, r"PyMC name"),
])
def test_spec_prior_tables_are_validated(table, match):
    with pytest.raises(PriorError, match=match):
        from_spec(table)


def test_deeply_nested_spec_prior_is_refused():
    inner = {"dist": "HalfNormal", "sigma": 1}
    for _ in range(40):
        inner = {"dist": "Normal", "mu": 0, "sigma": inner}
    with pytest.raises(PriorError, match="nest more than"):
        from_spec({"terms": {"Days": inner}})


# ------------------------------------------------------------------ what is fitted

def test_the_report_shows_the_prior_that_is_built(sleep):
    from multilevel.report import prior_table

    built = _build(sleep, {"Days": Prior("Normal", mu=5, sigma=2),
                           "sigma": Prior("HalfStudentT", nu=4, sigma=40)})
    table = prior_table(SimpleNamespace(built=built, design=built.design)).set_index("parameter")
    assert table.loc["Days", "prior"] == "Normal(mu: 5, sigma: 2)"
    assert table.loc["sigma", "prior"] == "HalfStudentT(nu: 4, sigma: 40)"
    import pymc as pm

    days = pm.draw(built.pymc["Days"], draws=40_000, random_seed=1)
    assert days.mean() == pytest.approx(5, abs=0.05) and days.std() == pytest.approx(2, abs=0.05)
    sigma = pm.draw(built.pymc["sigma"], draws=40_000, random_seed=2)
    assert np.median(sigma) == pytest.approx(40 * stats.t.ppf(0.75, 4), rel=0.03)


def test_the_report_writes_out_pymc_defaults(sleep):
    from multilevel.report import prior_table

    built = _build(sleep, {"Days": Prior("Normal", mu=3)})  # PyMC's sigma defaults to 1
    table = prior_table(SimpleNamespace(built=built, design=built.design)).set_index("parameter")
    assert table.loc["Days", "prior"] == "Normal(mu: 3, sigma: 1)"
    import pymc as pm

    days = pm.draw(built.pymc["Days"], draws=40_000, random_seed=3)
    assert days.std() == pytest.approx(1, abs=0.03)


def test_per_term_slope_prior_beside_a_preset_is_refused(sleep):
    with pytest.raises(PriorError, match=r"preset .* 'Days' would not be used"):
        _build(sleep, {"common": ml.priors.ridge(1.0), "Days": Prior("Normal", mu=0, sigma=1)})


def test_correlated_block_prior_with_a_mean_is_refused(sleep):
    # the block is MvNormal(0, LL'): a non-zero mean would be shown but not fitted
    prior = Prior("Normal", mu=5, sigma=Prior("HalfNormal", sigma=20))
    with pytest.raises(PriorError, match="correlated block"):
        _build(sleep, {"Days|Subject": prior}, "Reaction ~ Days + (Days | Subject)")
    ok = Prior("Normal", mu=0, sigma=Prior("HalfNormal", sigma=20))
    _build(sleep, {"Days|Subject": ok}, "Reaction ~ Days + (Days | Subject)")


@pytest.mark.parametrize("family, key", [("gaussian", "nu"), ("gaussian", "alpha"), ("poisson", "sigma")])
def test_prior_for_a_parameter_the_family_lacks_is_refused(sleep, family, key):
    from multilevel.bayes import build_model

    data = sleep.assign(c=(sleep["Reaction"] // 10).astype(int))
    formula = ("Reaction" if family == "gaussian" else "c") + " ~ Days + (1 | Subject)"
    with pytest.raises(PriorError, match=rf"has no parameter '{key}'"):
        build_model(formula, data, family=family, priors={key: Prior("HalfNormal", sigma=3)})


@pytest.mark.parametrize("value", ["2", True, float("inf"), float("nan"), -1.0, [1.0]])
def test_preset_scales_must_be_positive_finite_numbers(value):
    with pytest.raises(PriorError, match="positive finite number"):
        ml.priors.ridge(value)
    with pytest.raises(PriorError, match="positive finite number"):
        from_spec({"preset": "lasso", "scale": value})


# ------------------------------------------- issue 25: one parameter name everywhere

@pytest.mark.parametrize("formula, family, listed", [
    ("Reaction ~ Days + (Days | Subject)", "gaussian",
     "(Intercept), Days, sd__(Intercept)|Subject, sd__Days|Subject, sigma."),
    ("c ~ Days + (1 | Subject)", "poisson", "(Intercept), Days, sd__(Intercept)|Subject."),
    ("Reaction ~ Days + (1 | Subject)", "t", "(Intercept), Days, sd__(Intercept)|Subject, sigma, nu."),
])
def test_unknown_prior_name_lists_exactly_the_models_parameters(sleep, formula, family, listed):
    """The summary's names, the intercept once, only the family's own auxiliary parameters."""
    from multilevel.bayes import build_model

    data = sleep.assign(c=(sleep["Reaction"] // 10).astype(int))
    with pytest.raises(PriorError) as err:
        build_model(formula, data, family=family, priors={"Dayz": Prior("Normal", mu=0, sigma=1)})
    message = str(err.value)
    assert f"Parameters of this model: {listed}" in message
    names = message.split("Parameters of this model: ")[1].split(". ")[0].rstrip(".").split(", ")
    assert names.count("(Intercept)") == 1 and "Intercept" not in names
    assert "alpha" not in names and ("nu" in names) is (family == "t")


def test_prior_on_a_summary_sd_name_is_the_prior_of_that_sd(sleep):
    from multilevel.report.content import prior_table

    formula = "Reaction ~ Days + (Days | Subject)"
    built = _build(sleep, {"sd__Days|Subject": Prior("HalfNormal", sigma=7),
                           "(Intercept)": Prior("Normal", mu=250, sigma=30)}, formula)
    table = prior_table(SimpleNamespace(built=built, design=built.design)).set_index("parameter")
    assert table.loc["sd__Days|Subject", "prior"] == "HalfNormal(sigma: 7)"
    assert table.loc["(Intercept)", "prior"] == "Normal(mu: 250, sigma: 30)"
    term = built.bambi.conditional_parameters[built.bambi.family.likelihood.parent]
    assert term.group_specific_terms["Days|Subject"].prior.args["sigma"].args == {"sigma": 7}
    # Bambi's term name still takes the term's whole prior; both at once is refused
    with pytest.raises(PriorError, match="same parameter"):
        _build(sleep, {"sd__Days|Subject": Prior("HalfNormal", sigma=7),
                       "Days|Subject": Prior("Normal", mu=0, sigma=Prior("HalfNormal", sigma=7))},
               formula)
    with pytest.raises(PriorError, match="same parameter"):
        _build(sleep, {"Intercept": 1.0, "(Intercept)": 2.0})
