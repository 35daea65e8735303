"""The engines on lme4 references they were not developed against (tests/reference/lme4_extra.json,
made by tests/reference/make_lme4_extra.R with R's lme4 1.1-31)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import multilevel as ml

EXTRA = json.loads((Path(__file__).parent / "reference" / "lme4_extra.json").read_text())
LMM = {"penicillin_reml": "Penicillin", "penicillin_ml": "Penicillin", "cake_reml": "cake",
       "ss_days_factor_ri": "sleepstudy"}
GLMM = {"grouseticks_poisson": "grouseticks", "cbpp_null": "cbpp"}


def _rel(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


@pytest.mark.parametrize("key", sorted(LMM))
def test_lmm_extra(key):
    r = EXTRA[key]
    m = ml.fit(r["formula"], LMM[key], method="reml" if r["REML"] else "ml")
    for ours, theirs in [(m.loglik, r["logLik"]), (m.aic, r["AIC"]), (m.bic, r["BIC"])]:
        assert _rel(ours, theirs) < 1e-6
    for name, value in r["fixef"].items():
        assert _rel(m.fixef[name], value) < 1e-5, name
        assert _rel(m.se[name], r["fixef_se"][name]) < 1e-5, name
    for ours, row in zip(m.varcorr.itertuples(), r["varcorr"]):
        assert ours.grp == row["grp"]
        assert _rel(ours.vcov, row["vcov"]) < 1e-4


@pytest.mark.parametrize("key", sorted(GLMM))
def test_glmm_extra(key):
    r = EXTRA[key]
    family = r["family"]
    m = ml.fit(r["formula"], GLMM[key], family=family, method="ml")
    for ours, theirs in [(m.loglik, r["logLik"]), (m.aic, r["AIC"]), (m.bic, r["BIC"])]:
        assert _rel(ours, theirs) < 1e-5
    for name, value in r["theta"].items():
        assert _rel(m.theta[name], value) < 1e-3
    for name, value in r["fixef"].items():  # see tests/test_glmm.py for the 1e-3
        assert abs(m.fixef[name] - value) < 1e-3 * max(1.0, abs(value)), name


def test_lm_extra():
    r = EXTRA["lm_mtcars"]
    m = ml.fit(r["formula"], "mtcars", method="ml")
    for ours, theirs in [(m.loglik, r["logLik"]), (m.aic, r["AIC"]), (m.bic, r["BIC"]),
                         (m.sigma, r["sigma"])]:
        assert _rel(ours, theirs) < 1e-10
    for name, value in r["fixef"].items():
        assert _rel(m.fixef[name], value) < 1e-10
        assert _rel(m.se[name], r["fixef_se"][name]) < 1e-10
