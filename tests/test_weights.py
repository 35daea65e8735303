"""Prior weights (lme4's weights=): gaussian residual variance σ²/w, binomial proportion and
trials (references: tests/reference/make_realdata.R)."""

from __future__ import annotations

import pytest
from realdata_check import check_fit, close

import multilevel as ml
from multilevel.errors import DataError, FamilyError


@pytest.mark.parametrize("key", ["lmm_weights", "lmm_weights_ml"])
def test_weighted_lmm_matches_lmer(key, realdata_ref, realdata):
    r = realdata_ref[key]
    m = ml.fit(r["formula"], realdata[r["data"]], method=r["method"], weights=r["weights"])
    check_fit(m, r, se=1e-5, vcov=1e-5)
    if r["method"] == "reml":
        close(m.reml_criterion, r["REMLcrit"], 1e-6, what="REML criterion")
    close(m.deviance, r["deviance"], 1e-6, what="deviance")


def test_weights_change_the_fit(realdata):
    sim = realdata["sim"]
    a = ml.fit("yn ~ x + (1 | g)", sim, method="reml")
    b = ml.fit("yn ~ x + (1 | g)", sim, method="reml", weights="w")
    assert abs(a.reml_criterion - b.reml_criterion) > 1
    unit = ml.fit("yn ~ x + (1 | g)", sim.assign(one=1.0), method="reml", weights="one")
    close(unit.reml_criterion, a.reml_criterion, 1e-12, what="unit weights")


@pytest.mark.parametrize("optimizer, entry", [("glmer", None), ("bobyqa", "tight")])
def test_binomial_proportion_and_weights_matches_glmer(optimizer, entry, realdata_ref, realdata):
    r = realdata_ref["binomial_weights"]
    ref = r if entry is None else r[entry]
    m = ml.fit(r["formula"], realdata["cbpp"], method="ml", family="binomial", weights="size",
               optimizer=optimizer)
    check_fit(m, ref, pred=1e-6 if entry is None else 1e-5)
    cb = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", realdata["cbpp"],
                method="ml", family="binomial", optimizer=optimizer)
    close(m.loglik, cb.loglik, 1e-12, what="equal to cbind")
    close(m.fixef, cb.fixef, 1e-10, what="equal to cbind")


def test_bad_weights_are_refused(realdata):
    sim = realdata["sim"]
    with pytest.raises(DataError, match="'nope' is not in the data"):
        ml.fit("yn ~ x + (1 | g)", sim, method="reml", weights="nope")
    with pytest.raises(DataError, match="non-negative"):
        ml.fit("yn ~ x + (1 | g)", sim.assign(w=-sim["w"]), method="reml", weights="w")
    with pytest.raises(DataError, match="zero weight"):
        ml.fit("yn ~ x + (1 | g)", sim.assign(w=0.0), method="reml", weights="w")
    with pytest.raises(FamilyError, match="trials already"):
        ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", realdata["cbpp"],
               method="ml", family="binomial", weights="size")
    with pytest.raises(DataError, match="whole numbers"):
        ml.fit("prop ~ period + (1 | herd)", realdata["cbpp"].assign(size=realdata["cbpp"]["size"] + 0.5),
               method="ml", family="binomial", weights="size")


def test_models_with_different_weights_are_not_compared(realdata):
    sim = realdata["sim"]
    a = ml.fit("yn ~ 1 + (1 | g)", sim, method="ml", weights="w")
    b = ml.fit("yn ~ x + (1 | g)", sim, method="ml")
    with pytest.raises(ml.errors.ComparisonError, match="prior weights"):
        ml.lrt(a, b)
    with pytest.raises(ml.errors.ComparisonError, match="prior weights"):
        ml.compare({"a": a, "b": b})
    c = ml.fit("yn ~ x + (1 | g)", sim, method="ml", weights="w")
    result = ml.lrt(a, c)
    close(result.chisq, 2 * (c.loglik - a.loglik), 1e-12, what="weighted LRT")


def test_printed_scaled_residuals_are_pearson(realdata):
    """lme4 prints residuals(type = "pearson", scaled = TRUE): quantiles from R."""
    m = ml.fit("yn ~ x + (1 | g)", realdata["sim"], method="reml", weights="w")
    assert " -2.4249  -0.5481  -0.0101   0.5509   2.7795" in repr(m)


def test_poisson_prior_weights_match_glmer(realdata_ref, realdata):
    r = realdata_ref["poisson_weights"]
    m = ml.fit(r["formula"], realdata["sim"], method="ml", family="poisson", weights="w")
    check_fit(m, r, loglik=1e-9, fixef=1e-6, se=1e-5)


def test_bernoulli_weights_point_to_binomial(realdata):
    data = realdata["sim"].assign(y01=(realdata["sim"]["count"] > 2).astype(int))
    with pytest.raises(FamilyError, match="family='binomial'"):
        ml.fit("y01 ~ x + (1 | g)", data, method="ml", family="bernoulli", weights="w")
