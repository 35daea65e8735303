"""link=, the Gamma family and nAGQ > 1 logLik against glmer (tests/reference/make_realdata.R).

Each model is checked twice: the default optimizer replays R's default glmer() run (its printed
numbers), optimizer="bobyqa" reaches the optimum that glmer with tight controls reaches.
"""

from __future__ import annotations

import numpy as np
import pytest
from realdata_check import check_fit, close

import multilevel as ml
from multilevel.errors import FamilyError
from multilevel.freq.families import Family

GLMER = ["binomial_probit", "binomial_cloglog", "poisson_sqrt", "gamma_log", "cbpp_agq25"]


def fit(r, realdata, **options):
    kw = {"nAGQ": r["nAGQ"]} if "nAGQ" in r else {}
    return ml.fit(r["formula"], realdata[r["data"]], method="ml", family=r["family"], link=r["link"],
                  **kw, **options)


@pytest.mark.parametrize("key", GLMER)
def test_default_fit_replays_glmer(key, realdata_ref, realdata):
    r = realdata_ref[key]
    m = fit(r, realdata)
    check_fit(m, r, loglik=1e-8, fixef=1e-6, se=1e-5, pred=1e-6, vcov=1e-6)
    assert m.link == r["link"] and f"( {r['link']} )" in repr(m)


@pytest.mark.parametrize("key", GLMER)
def test_bobyqa_reaches_the_tight_optimum(key, realdata_ref, realdata):
    """glmer's tight fit stops within 1e-7 of the optimum: ours is never below it."""
    r = realdata_ref[key]
    t = r["tight"]
    m = fit(r, realdata, optimizer="bobyqa")
    assert m.loglik >= t["logLik"] - 1e-9
    check_fit(m, t, loglik=1e-8, fixef=1e-4, se=1e-4, pred=1e-4, vcov=1e-4)


def test_gamma_dispersion_is_glmers(realdata_ref, realdata):
    r = realdata_ref["gamma_log"]
    m = fit(r, realdata)
    assert m.df == 4                               # β (2), θ, and the dispersion, as lme4
    close(m.sigma, r["sigma"], 1e-8, what="sigma")
    assert m.varcorr["grp"].tolist() == ["g", "Residual"]


def test_nagq_loglik_is_lme4s_and_the_whole_one_has_a_name(realdata_ref, realdata):
    r = realdata_ref["cbpp_agq25"]
    m = fit(r, realdata)
    close([m.loglik, m.aic, m.bic], [r["logLik"], r["AIC"], r["BIC"]], 1e-9, what="lme4's logLik")
    close(m.loglik_full, m.loglik + m.saturated_loglik, 1e-12, what="loglik_full")
    laplace = ml.fit(r["formula"], realdata["cbpp"], method="ml", family="binomial")
    # the whole AGQ likelihood is comparable with the Laplace one; lme4's is not
    assert abs(m.loglik_full - laplace.loglik) < 0.5 < abs(m.loglik - laplace.loglik)
    assert laplace.loglik_full == laplace.loglik


@pytest.mark.parametrize("formula, family, link", [
    ("cbind(count, 20) ~ x + (1 | g)", "binomial", "sqrt"), ("count ~ x + (1 | g)", "poisson", "logit"),
    ("ygam ~ x + (1 | g)", "gamma", "probit"), ("yn ~ x + (1 | g)", "gaussian", "logit")])
def test_unknown_link_is_refused(formula, family, link, realdata):
    with pytest.raises(FamilyError, match="not available"):
        ml.fit(formula, realdata["sim"], method="ml", family=family, link=link)


@pytest.mark.parametrize("name, link", [("binomial", "probit"), ("binomial", "cloglog"),
                                        ("poisson", "sqrt"), ("poisson", "identity"),
                                        ("gamma", "inverse"), ("gamma", "identity"), ("gamma", "log")])
def test_score_is_the_derivative_of_the_loglik(name, link):
    """Family.score_weight's score equals the numerical derivative of the log-likelihood."""
    rng = np.random.default_rng(1)
    fam = Family(name, link)
    eta = {"probit": rng.normal(0, 0.5, 6), "cloglog": rng.normal(-1, 0.5, 6),
           "inverse": rng.uniform(0.5, 2, 6)}.get(link, rng.uniform(1, 2, 6))
    n = np.full(6, 5.0) if name == "binomial" else np.ones(6)
    y = np.array([0, 1, 2, 3, 4, 5.0]) if name == "binomial" else rng.uniform(0.5, 4, 6).round(0) + 1
    g, w = fam.score_weight(eta, y, n)
    h = 1e-6
    if name == "gamma":   # the dispersion is a plug-in: compare the deviance's derivative
        num = -(fam.deviance_residuals(eta + h, y, n) - fam.deviance_residuals(eta - h, y, n)) / (4 * h)
    else:
        num = (fam.pointwise_loglik(eta + h, y, n) - fam.pointwise_loglik(eta - h, y, n)) / (2 * h)
    close(g, num, 1e-5, atol=1e-7, what="score")
    assert np.all(w > 0)


@pytest.fixture(scope="module")
def nb_fit():
    return ml.fit("TICKS ~ YEAR + (1 | BROOD)", "grouseticks", method="ml", family="negativebinomial")


def test_glmer_nb(nb_fit, realdata_ref):
    """θ as glmer.nb (R stops its search at log θ ± 5e-5 with default inner glmer fits: our
    logLik is 1e-3 above R's, at the optimum; fixed effects and SEs agree to 1e-4)."""
    r = realdata_ref["glmer_nb"]
    m = nb_fit
    close(m.nb_theta, r["theta_nb"], 1e-4, what="theta")
    assert m.df == r["df"] == 5
    assert r["logLik"] <= m.loglik <= r["logLik"] + 2e-3
    close([m.aic, m.bic], [r["AIC"], r["BIC"]], 2e-6, what="AIC/BIC")
    close(m.fixef[list(r["fixef"])], list(r["fixef"].values()), 1e-3, atol=1e-4, what="fixef")
    close(m.se[list(r["fixef"])], list(r["fixef_se"].values()), 1e-4, what="SE")
    close(m.varcorr["vcov"], r["varcorr"]["vcov"], 1e-3, what="vcov")
    close(m.predict(group_effects=False)["estimate"], r["predict_link_fixed"], 1e-4, atol=1e-4,
          what="predict re.form=NA")
    assert "Negative Binomial(3.303)" in repr(m)


def test_theta_ml_is_mass(nb_fit):
    """theta.ml with the means fixed is a root of the profile score."""
    from scipy import special

    from multilevel.freq.negbin import theta_ml

    y = nb_fit.design.y
    mu = np.exp(nb_fit.eta)
    th = theta_ml(y, mu, np.ones_like(y))
    score = np.sum(special.digamma(th + y) - special.digamma(th) + np.log(th) + 1
                   - np.log(th + mu) - (y + th) / (mu + th))
    assert abs(score) < 1e-6


def test_spec_keys_link_and_weights_reach_the_fit(tmp_path, capsys, realdata_ref):
    """models/cbpp-probit-weights.toml: link and weights from the spec through the CLI."""
    from pathlib import Path

    from multilevel.cli import main
    from multilevel.spec import load_spec, parse_spec

    path = Path(__file__).parents[1] / "models" / "cbpp-probit-weights.toml"
    spec = load_spec(path)
    assert spec.fit_kwargs() == {"method": "ml", "family": "binomial", "na": "drop",
                                 "weights": "size", "link": "probit"}
    m = ml.fit(spec.formula, spec.load_data(), **spec.fit_kwargs())
    close(m.loglik, realdata_ref["binomial_probit"]["logLik"], 1e-8, what="spec fit")
    assert main(["fit", str(path), "--out", str(tmp_path / "run")]) == 0
    report = (tmp_path / "run" / "report.md").read_text()
    assert "- link: probit" in report and "- weights: size" in report
    with pytest.raises(FamilyError, match="not available"):
        parse_spec({"data": "cbpp", "formula": "y ~ x", "family": "poisson", "link": "probit"})


def test_gamma_default_link_is_rs_inverse(realdata_ref, realdata):
    """glmer(family = Gamma): R's default inverse link, replayed to 2e-8 of logLik."""
    r = realdata_ref["gamma_inverse"]
    m = ml.fit(r["formula"], realdata["sim"], method="ml", family="gamma")
    assert m.link == "inverse"
    check_fit(m, r, loglik=1e-7, fixef=1e-5, se=1e-4, pred=1e-4, vcov=1e-4)


def test_models_with_different_links_get_no_lrt(realdata):
    cbpp = realdata["cbpp"]
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    null = ml.fit("cbind(incidence, size - incidence) ~ 1 + (1 | herd)", cbpp, method="ml",
                  family="binomial")
    probit = ml.fit(formula, cbpp, method="ml", family="binomial", link="probit")
    with pytest.raises(ml.errors.ComparisonError, match="different links"):
        ml.lrt(null, probit)
    cmp = ml.compare({"null": null, "probit": probit})
    assert cmp.table["AIC"].notna().all() and cmp.table["Chisq"].isna().all()
    assert any("different links (logit vs probit)" in n for n in cmp.notes)


def test_gamma_inverse_link_bobyqa_gets_near_the_optimum(realdata_ref, realdata):
    """Known limit: with Gamma's inverse link optimizer="bobyqa" ends within 1e-3 of glmer's
    tight logLik (BOBYQA's trust region leaves the link's range; stage 2 is restarted)."""
    r = realdata_ref["gamma_inverse"]["tight"]
    m = ml.fit("ygam ~ x + (1 | g)", realdata["sim"], method="ml", family="gamma", optimizer="bobyqa")
    assert abs(m.loglik - r["logLik"]) < 1e-3
    close(m.fixef, list(r["fixef"].values()), 5e-3, what="fixef")
