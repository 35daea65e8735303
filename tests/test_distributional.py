"""Distributional regression: formulas for auxiliary parameters (``["y ~ x", "sigma ~ g"]``).

Fast checks read the formulas, build (not sample) models and refuse what cannot be fitted;
sampled checks (module fixtures, 4 chains x 1000 draws) recover two residual SDs (1 and 3)
and the zero-inflation of a Poisson from simulated data, with LOO preferring the
heteroscedastic model, and compare the numpy log-likelihood with PyMC's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, FamilyError, FitError, FormulaError, PriorError, SpecError
from multilevel.formula.distributional import split_formulas

# 40 groups: the intercept and the group SD mix slowly with fewer (R-hat 1.01-1.03 at 15-20
# groups, 4 x 500 draws); sampling is cheap next to the compilation
DRAWS = dict(draws=1000, tune=1000, chains=4, seed=20261203, progress=False)
TINY = dict(draws=40, tune=40, chains=2, seed=11, progress=False, check=False)
SD_A, SD_B = 1.0, 3.0
ZIP = {"(Intercept)": 1.0, "x": 0.5, "sd": 0.5, "psi_(Intercept)": 0.8, "psi_x": -1.2}


def _heteroscedastic(n: int = 400, sites: int = 40, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    grp = np.where(np.arange(n) % 2 == 0, "a", "b")
    site = rng.integers(0, sites, n)
    x = rng.normal(size=n)
    u = rng.normal(0, 1.0, sites)
    y = 2.0 + 0.5 * x + u[site] + rng.normal(size=n) * np.where(grp == "b", SD_B, SD_A)
    return pd.DataFrame({"y": y, "x": x, "grp": grp, "site": [f"s{s}" for s in site]})


def _zero_inflated(n: int = 600, sites: int = 40, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    site = rng.integers(0, sites, n)
    x = rng.normal(size=n)
    u = rng.normal(0, ZIP["sd"], sites)
    mu = np.exp(ZIP["(Intercept)"] + ZIP["x"] * x + u[site])
    psi = 1 / (1 + np.exp(-(ZIP["psi_(Intercept)"] + ZIP["psi_x"] * x)))   # P(count component)
    count = np.where(rng.random(n) < psi, rng.poisson(mu), 0)
    return pd.DataFrame({"count": count, "x": x, "site": [f"s{s}" for s in site]})


HET = ["y ~ x + (1 | site)", "sigma ~ 0 + grp"]
ZIP_FORMULA = ["count ~ x + (1 | site)", "psi ~ x"]


# ------------------------------------------------------------------- reading formulas
@pytest.mark.parametrize("formula, family, match", [
    (["y ~ x", "psi ~ x"], "gaussian", r"'psi' is not an auxiliary parameter of family 'gaussian'; "
                                       r"its auxiliary parameters are: sigma\."),
    (["y ~ x", "sigma ~ x"], "zero_inflated_negativebinomial",
     r"family 'zero_inflated_negativebinomial'; its auxiliary parameters are: alpha, psi\."),
    (["y ~ x", "sigma ~ x"], "poisson", r"family 'poisson'; it has no auxiliary parameter"),
    (["y ~ x", "sigma ~ x", "sigma ~ z"], "gaussian", r"'sigma' has two formulas"),
    (["y ~ x", "sigma ~ y"], "gaussian", r"uses the response 'y' as a predictor"),
    (["y ~ x", "sigma ~ x + offset(z)"], "gaussian", r"offset\(\) terms are taken in the response"),
    (["y ~ x", "sigma ~ ar(time = t, gr = g)"], "gaussian", r"belongs in the response's formula"),
    (["y ~ x", "~ x"], "gaussian", r"'<parameter> ~ terms'"),
    (["y ~ x", 3], "gaussian", r"must be a string; got 3"),
    ([], "gaussian", r"non-empty list"),
])
def test_bad_formula_lists_are_refused(formula, family, match):
    with pytest.raises(FormulaError, match=match):
        split_formulas(formula, family)


def test_aux_formulas_are_read_as_lme4_syntax():
    f = split_formulas(["y ~ x + (1 | g)", "sigma ~ x + (x || g) + (1 | a/b)"], "t")
    [aux] = f.aux
    assert aux.param == "sigma" and aux.parsed.fixed == "x"
    assert [(b.expr, b.group) for b in aux.parsed.bars] == [
        ("1", "g"), ("0 + x", "g"), ("1", "a"), ("1", "b:a")]
    assert f.as_given() == ["y ~ x + (1 | g)", "sigma ~ x + (x || g) + (1 | a/b)"]
    assert split_formulas("y ~ x", "gaussian").as_given() == "y ~ x"


@pytest.mark.parametrize("method", ["reml", "ml"])
def test_lme4_methods_refuse_a_list(method):
    with pytest.raises(FormulaError, match=r"lme4 has no distributional models.*method='bayes'"):
        ml.fit(HET, _heteroscedastic(), method=method)


def test_a_list_of_one_is_the_formula():
    data = _heteroscedastic()
    a = ml.fit(["y ~ x"], data, method="ml")
    b = ml.fit("y ~ x", data, method="ml")
    assert a.loglik == pytest.approx(b.loglik, rel=1e-12)


# -------------------------------------------------------------------- building
@pytest.fixture(scope="module")
def built_het():
    from multilevel.bayes.model import build_model

    return build_model(["y ~ x + (1 | site)", "sigma ~ grp + (x | site)"], _heteroscedastic())


def test_built_model_has_bambis_distributional_terms(built_het):
    from multilevel.bayes.names import summary_names

    assert built_het.formula == ["y ~ x + (1 | site)", "sigma ~ grp + (x | site)"]
    [part] = built_het.aux
    assert part.param == "sigma" and part.link == "log" and part.names() == ["sigma_(Intercept)",
                                                                            "sigma_grpb"]
    # the aux block is correlated (LKJ) with names of its own, apart from the mean's terms
    assert {"sigma_Intercept", "sigma_grp", "chol|sigma_site", "corr|sigma_site",
            "sigma_1|site", "sigma_x|site"} <= set(built_het.pymc.named_vars)
    names = summary_names(built_het)
    assert names["sigma_Intercept"] == ["sigma_(Intercept)"]
    assert names["sigma_grp"] == ["sigma_grpb"]
    assert names["sigma_1|site_sigma"] == ["sd__sigma_(Intercept)|site"]
    assert names["corr|sigma_site"] == ["cor__sigma_(Intercept).sigma_x|site"]
    assert "sigma" not in names   # a parameter with a formula is not one number


def test_priors_of_aux_terms_by_their_summary_names():
    from multilevel.bayes.model import build_model

    data = _heteroscedastic()
    built = build_model(["y ~ x + (1 | site)", "sigma ~ grp + (1 | site)"], data, priors={
        "sigma_(Intercept)": ml.priors.Prior("Normal", mu=0.5, sigma=2),
        "sigma_grp": ml.priors.Prior("Normal", mu=0, sigma=0.5),
        "sd__sigma_(Intercept)|site": ml.priors.Prior("HalfNormal", sigma=0.3),
        "x": ml.priors.Prior("Normal", mu=0, sigma=10)})
    component = built.bambi.conditional_parameters["sigma"]
    assert component.intercept_term.prior.args == {"mu": 0.5, "sigma": 2}
    assert component.common_terms["grp"].prior.args == {"mu": 0, "sigma": 0.5}
    assert component.group_specific_terms["1|site"].prior.args["sigma"].args == {"sigma": 0.3}
    with pytest.raises(PriorError, match=r"'sigma' has a formula of its own.*terms \('sigma_grp'\)"):
        build_model(HET, data, priors={"sigma": ml.priors.Prior("HalfNormal", sigma=1)})
    with pytest.raises(PriorError, match=r"No parameter 'sigma_z' .* its parameters are sigma_\(Intercept\), sigma_grp\."):
        build_model(["y ~ x", "sigma ~ grp"], data, priors={"sigma_z": 1.0})


def test_what_a_sigma_formula_cannot_go_with():
    data = _heteroscedastic().assign(w=1.0, t=lambda d: np.arange(len(d)) % 10)
    with pytest.raises(FamilyError, match="weights= with a formula for sigma"):
        ml.fit(HET, data, weights="w", **TINY)
    with pytest.raises(FormulaError, match="correlated residuals' likelihood takes one residual SD"):
        ml.fit(["y ~ x + ar(time = t, gr = site)", "sigma ~ grp"], data, **TINY)
    with pytest.raises(FitError, match="sampler='marginal'"):
        ml.fit(HET, data, sampler="marginal", **TINY)


def test_spec_takes_a_list_of_formulas(tmp_path):
    from multilevel.spec import load_spec, parse_spec

    spec = parse_spec({"data": "sleepstudy", "formula": ["Reaction ~ Days + (1 | Subject)",
                                                         "sigma ~ Days"]})
    assert spec.formula == ["Reaction ~ Days + (1 | Subject)", "sigma ~ Days"]
    (tmp_path / "m.toml").write_text('data = "sleepstudy"\n'
                                     'formula = ["Reaction ~ Days + (1 | Subject)", "sigma ~ Days"]\n')
    assert load_spec(tmp_path / "m.toml").formula == spec.formula
    with pytest.raises(SpecError, match="lme4's method 'reml' has no distributional models"):
        parse_spec({"data": "sleepstudy", "method": "reml",
                    "formula": ["Reaction ~ Days", "sigma ~ Days"]})
    with pytest.raises(FormulaError, match="'nu' is not an auxiliary parameter"):
        parse_spec({"data": "sleepstudy", "formula": ["Reaction ~ Days", "nu ~ Days"]})
    with pytest.raises(SpecError, match="a string or a list of strings"):
        parse_spec({"data": "sleepstudy", "formula": ["Reaction ~ Days", 1]})


# ------------------------------------------------------------- sampled: sigma ~ grp
@pytest.fixture(scope="module")
def het_data():
    return _heteroscedastic()


@pytest.fixture(scope="module")
def het_fit(het_data):
    return ml.fit(HET, het_data, **DRAWS)


@pytest.fixture(scope="module")
def constant_fit(het_data):
    return ml.fit(HET[0], het_data, **DRAWS)


@pytest.mark.slow
def test_recovers_both_residual_sds(het_fit):
    table = het_fit.summary()
    for row, truth in (("sigma_grpa", SD_A), ("sigma_grpb", SD_B)):   # log σ per group
        lo, hi = np.exp(table.loc[row, ["lower", "upper"]].to_numpy(dtype=float))
        assert lo < truth < hi, (row, lo, hi)
    assert table.loc["x", "lower"] < 0.5 < table.loc["x", "upper"]
    assert table["r_hat"].max() <= 1.01
    assert int(het_fit.idata.sample_stats["diverging"].sum()) == 0
    assert "sigma" not in table.index
    with pytest.raises(FitError, match="fit.auxiliary_draws"):
        het_fit.sigma
    sigma = het_fit.auxiliary_draws("sigma").mean(axis=0)
    grp = het_fit.design.frame.data["grp"].to_numpy()
    assert sigma[grp == "a"] == pytest.approx(np.full((grp == "a").sum(), sigma[grp == "a"][0]))
    assert 2.4 < sigma[grp == "b"][0] < 3.6 and 0.8 < sigma[grp == "a"][0] < 1.2


@pytest.mark.slow
def test_loo_prefers_the_heteroscedastic_model(het_fit, constant_fit):
    result = ml.compare({"sigma ~ grp": het_fit, "constant sigma": constant_fit})
    table = result.table
    assert table.loc["sigma ~ grp", "rank"] == 0 and table.loc["sigma ~ grp", "weight"] > 0.99
    diff = table.loc["constant sigma", "elpd_diff"]   # ~ -110 ± 12
    assert -diff > 4 * table.loc["constant sigma", "dse"]
    # lme4 has no distributional models: no ML numbers for it, and a note that says why
    assert np.isnan(table.loc["sigma ~ grp", "logLik"])
    assert any("sigma ~ grp: no maximum-likelihood fit" in note and "lme4 has no distributional"
               in note for note in result.notes)


@pytest.mark.slow
def test_predictions_use_each_rows_sigma(het_fit):
    new = pd.DataFrame({"x": [0.0, 0.0], "grp": ["a", "b"], "site": ["s1", "s1"]})
    mean = het_fit.predict(new)
    assert mean["estimate"].iloc[0] == pytest.approx(mean["estimate"].iloc[1], rel=1e-12)
    draws = het_fit.predict(new, kind="predictive", seed=1)
    ratio = draws["sd"].iloc[1] / draws["sd"].iloc[0]
    assert 2.3 < ratio < 3.9   # the residual SDs 3 and 1 (plus the shared parameter uncertainty)
    with pytest.raises(DataError, match=r"lacks column\(s\) \['grp'\] used by 'sigma ~ 0 \+ grp'"):
        het_fit.predict(new.drop(columns="grp"))


@pytest.mark.slow
# the models of the fixtures above: their compiled code comes from the cache (a model with
# a group term in the auxiliary formula compiles for 60-80 s on the project machine; its
# structure is checked by test_built_model_has_bambis_distributional_terms)
@pytest.mark.parametrize("formula, make, family", [
    (HET, _heteroscedastic, "gaussian"),
    (ZIP_FORMULA, _zero_inflated, "zero_inflated_poisson"),
])
def test_numpy_log_likelihood_equals_pymc(formula, make, family, monkeypatch):
    from multilevel.bayes import loglik

    data = make()
    fit = ml.fit(formula, data, family=family, **TINY)
    assert "log_likelihood" in fit.timings      # computed by multilevel.bayes.loglik
    monkeypatch.setattr(loglik, "supports", lambda built: False)
    reference = ml.fit(formula, data, family=family, **TINY)   # same draws, PyMC's
    assert "log_likelihood" not in reference.timings
    [name] = list(reference.idata["log_likelihood"].data_vars)
    np.testing.assert_allclose(fit.idata["log_likelihood"][name].values,
                               reference.idata["log_likelihood"][name].values, rtol=1e-9, atol=1e-11)
    assert fit.timings.get("compile_cache") in (None, "hit", "miss", "generic")
    if "compile_cache" in reference.timings:    # nutpie: the same model compiled once
        assert reference.timings["compile_cache"] in ("hit", "generic")


# ------------------------------------------------------------ sampled: psi ~ x
@pytest.fixture(scope="module")
def zip_fit():
    return ml.fit(ZIP_FORMULA, _zero_inflated(), family="zero_inflated_poisson", **DRAWS)


@pytest.mark.slow
def test_zero_inflated_poisson_recovers_psi_of_x(zip_fit):
    table, wide = zip_fit.summary(), zip_fit.summary(ci=0.99)
    truth = {**ZIP, "sd__(Intercept)|site": ZIP["sd"]}
    truth.pop("sd")
    # 5 parameters: a 95 % interval misses by chance now and then (this data's x: a scipy ML
    # fit gives 0.594), so every truth inside its 99 % interval, at most one outside its 95 %
    misses = [row for row, value in truth.items()
              if not table.loc[row, "lower"] < value < table.loc[row, "upper"]]
    assert len(misses) <= 1, table.loc[misses]
    for row, value in truth.items():
        assert wide.loc[row, "lower"] < value < wide.loc[row, "upper"], (row, wide.loc[row])
    assert {"psi_(Intercept)", "psi_x"}.isdisjoint(misses)
    assert table["r_hat"].max() <= 1.01
    assert int(zip_fit.idata.sample_stats["diverging"].sum()) == 0
    # the mean of a zero-inflated count: ψᵢ μᵢ with each row's ψ
    new = pd.DataFrame({"x": [-1.0, 1.0], "site": ["new", "new"]})
    mean = zip_fit.predict(new)["estimate"].to_numpy()
    draws = zip_fit.fixef_draws()
    mu = np.exp(draws["(Intercept)"].to_numpy()[:, None] + draws["x"].to_numpy()[:, None] * new["x"].to_numpy())
    psi = zip_fit.auxiliary_draws("psi", new)
    np.testing.assert_allclose(mean, (psi * mu).mean(axis=0), rtol=1e-10)


@pytest.mark.slow
def test_cli_fits_a_spec_with_a_list_of_formulas(tmp_path, capsys, het_data):
    from multilevel.cli import main

    het_data.to_csv(tmp_path / "het.csv", index=False)   # the fixture's model: cached compile
    (tmp_path / "het.toml").write_text(
        'data = "het.csv"\nformula = ["y ~ x + (1 | site)", "sigma ~ 0 + grp"]\n'
        "[sampling]\ndraws = 100\ntune = 100\nchains = 2\nseed = 1\n")
    out = tmp_path / "run"
    assert main(["fit", str(tmp_path / "het.toml"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "formula of sigma  sigma ~ 0 + grp" in printed and "sigma_grpb" in printed
    assert 'formula = ["y ~ x + (1 | site)", "sigma ~ 0 + grp"]' in (out / "spec.toml").read_text()
    report = (out / "report.md").read_text()
    assert "| sigma_grpa, sigma_grpb | Normal(mu: 0, sigma: 1) |" in report   # one factor term
    again = ml.load_run(out)
    assert again.formula == ["y ~ x + (1 | site)", "sigma ~ 0 + grp"]
    assert {"sigma_grpa", "sigma_grpb"} <= set(again.summary_draws.data_vars)   # 100 draws: no summary()
