"""``ml.emtrends`` against emmeans 1.8.4-1's ``emtrends`` on lme4 1.1-31 and lm fits
(table-driven; ``tests/reference/make_emtrends.R`` writes ``emtrends.json``).

Cases: one overall trend (``~ 1``) with Kenward–Roger and Satterthwaite df; trends per
level of a factor with pairwise (Tukey), trt.vs.ctrl (Holm), consec and revpairwise
contrasts; a trend through ``poly(temp, 2)`` at two values of the variable (``at``, the
variable a ``by`` dimension) and at its mean; ``log(temp)``; ``I(x^2)``; ``delta_var``;
``weights="proportional"``; a Poisson GLMM through ``scale(HEIGHT)`` (z); and an lm
(residual df). emmeans' trend is a difference quotient with step 0.001 × the range: for
terms not linear in the variable the reference is that quotient, which ours equals.

Tolerances as tests/test_emmeans_suite.py: LMM estimates 1e-6, SEs and limits 1e-5, df
1e-4, statistics 1e-5, p-values 1e-4 (absolute floor 1e-8); the GLMM 1e-4 (its p-values 3e-4: at t = 3.9 a
relative error of 6e-6 in the statistic, PIRLS' on either side, moves p by 1e-4).
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_emmeans_suite import OURS, _data, close, label

import multilevel as ml
from multilevel.errors import DataError

HERE = Path(__file__).parent / "reference"
SUITE = json.loads((HERE / "emtrends.json").read_text())


@functools.cache
def fitted(key: str):
    spec = SUITE["models"][key]
    if "family" in spec:   # BOBYQA to the optimum, as the reference (tolPwrss 1e-12)
        return ml.fit(spec["formula"], _data(spec["data"]), family=spec["family"], method="ml",
                      optimizer="bobyqa")
    return ml.fit(spec["formula"], _data(spec["data"]), method="reml")


def tolerances(model: str) -> dict:
    if "family" in SUITE["models"][model]:   # a small p moves by ~|t| x the statistic's error
        return dict.fromkeys(("estimate", "SE", "df", "lower", "upper", "stat"), 1e-4) | {"p_value": 3e-4}
    return {"estimate": 1e-6, "SE": 1e-5, "df": 1e-4, "lower": 1e-5, "upper": 1e-5, "stat": 1e-5,
            "p_value": 1e-4}


def check(table, ref, tol, what, cols):
    for c in cols:
        close(table[OURS[c]], ref[c], tol[c], f"{what} {c}", 1e-8 if c == "p_value" else None)


def test_fits_match():
    for key, spec in SUITE["models"].items():
        tol = 1e-4 if "family" in spec else 1e-6
        np.testing.assert_allclose(fitted(key).fixef.to_numpy(), spec["fixef"], rtol=tol, atol=tol, err_msg=key)


@pytest.mark.parametrize("case", SUITE["cases"], ids=[c["id"] for c in SUITE["cases"]])
def test_emtrends_case(case):
    fit = fitted(case["model"])
    tol = tolerances(case["model"])
    kw = dict(case["call"])
    if "at" in kw:
        kw["at"] = {k: list(v) if isinstance(v, list) else [v] for k, v in kw["at"].items()}
    out = ml.emtrends(fit, **kw)
    trends = out["emtrends"] if isinstance(out, dict) else out
    ref = case["trends"]
    assert trends.attrs["trend"] == kw["var"]
    for col in trends.columns:   # the labels: spec and by columns, in emmeans' order
        if col in ref and col not in OURS.values():
            theirs = ref[col] if isinstance(ref[col], list) else [ref[col]]
            if isinstance(theirs[0], str):
                assert trends[col].astype(str).tolist() == theirs, col
            else:
                np.testing.assert_allclose(trends[col].astype(float), theirs, err_msg=col)
    ref = {k: (v if isinstance(v, list) else [v]) for k, v in ref.items()}
    check(trends, ref, tol, f"{case['id']} trends", ("estimate", "SE", "df", "lower", "upper", "stat", "p_value"))
    if "contrasts" not in case:
        assert not isinstance(out, dict)
        return
    con, ref = out["contrasts"], case["contrasts"]
    ref = {k: (v if isinstance(v, list) else [v]) for k, v in ref.items()}
    names = [c for c in ref if c not in OURS and c != "contrast"] + list(trends.columns)
    assert [label(t, names) for t in con["contrast"]] == [label(t, names) for t in ref["contrast"]]
    assert con.attrs["adjust"] == case["adjust"]
    assert con.attrs["trend"] == kw["var"]
    check(con, ref, tol, f"{case['id']} contrasts", ("estimate", "SE", "df", "stat", "p_value", "lower", "upper"))


def test_a_linear_term_gives_its_coefficient_whatever_the_step():
    """In ``Reaction ~ Days + ...`` the trend is the Days coefficient exactly, at any
    step and any value of Days: the difference quotient of a linear column."""
    fit = fitted("sleep")
    for step in (1e-3, 0.5, -2.0):
        t = ml.emtrends(fit, "1", var="Days", delta_var=step, at={"Days": [0.0, 9.0]})
        assert t["estimate"].iloc[0] == pytest.approx(fit.fixef["Days"], rel=1e-9)
        assert t["std_error"].iloc[0] == pytest.approx(fit.se["Days"], rel=1e-8)


@pytest.mark.slow
def test_bayes_trends_are_the_draws_difference_quotients(bayes_ss_slopes):
    """A BayesFit's trends: per draw, the same rows applied to the fixed effects, then
    summarized (median and equal-tailed interval); no df or p."""
    fit = bayes_ss_slopes
    t = ml.emtrends(fit, "1", var="Days")
    draws = fit.fixef_draws()["Days"].to_numpy()
    assert t["estimate"].iloc[0] == pytest.approx(np.median(draws), rel=1e-9)
    assert t["lower"].iloc[0] == pytest.approx(np.quantile(draws, 0.025), rel=1e-9)
    assert "p_value" not in t.columns


@pytest.mark.parametrize("kwargs, message", [
    ({"var": "recipe"}, "is a factor"),
    ({"var": "Reaction"}, "not a fixed-effect predictor"),
    ({"var": "nope"}, "not a fixed-effect predictor"),
    ({"var": 3}, "var must be the name"),
    ({"var": "temp", "delta_var": 0}, "delta_var must be a finite nonzero"),
    ({"var": "temp", "delta_var": float("nan")}, "delta_var must be a finite nonzero"),
    ({"var": "temp", "delta_var": "1"}, "delta_var must be a finite nonzero"),
    ({"var": "temp", "contrasts": "nonsense"}, "nonsense"),
    ({"var": "temp", "adjust": "nonsense"}, "adjust='nonsense' is not valid"),
])
def test_bad_arguments_name_what_to_do(kwargs, message):
    fit = fitted("cake_temp")
    specs = kwargs.pop("specs", "recipe")
    with pytest.raises(DataError, match=message):
        ml.emtrends(fit, specs, **kwargs)


def test_a_constant_variable_has_no_default_step():
    data = ml.datasets.load("sleepstudy").assign(k=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ml.fit("Reaction ~ Days + k + (1 | Subject)", data, method="reml")
    with pytest.raises(DataError, match="pass delta_var"):
        ml.emtrends(fit, "1", var="k")
