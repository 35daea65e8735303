"""Differential tests of the inference verbs against R on simulated, unbalanced data.

``tests/reference/make_inference_differential.R`` simulates (``set.seed(20261204)``) 222
rows in 18 groups of 3 to 22 rows: factors ``A`` (levels ``lo``/``mid``/``hi`` drawn
50/30/20 %, so R's level order ``hi lo mid`` is not their order of appearance) and ``B``
(``ctl``/``trt``, 60/40 %), a crossed factor ``h``, a numeric ``x`` and a numeric code
``dose`` (1, 2, 10), prior weights ``w``, an exposure ``expo`` and counts ``cnt``, six NA
responses and four NA ``x`` (``u.csv``); the same rows without the ``hi:trt`` cell
(``um.csv``: a rank-deficient ``A * B``) and the rows with ``x`` present (``ux.csv``: R's
``poly()`` refuses NA). The CSVs are read here as they are: text columns are passed as
Python strings, which must be factors as lme4's formula handling makes them (levels in
C-locale order), and a logical column (``flag``) is R's logical factor. Models (REML
unless said; ``MODELS`` in the JSON): factor x factor ``y ~ A * B + x + (1 | g)`` (also by
ML and on the missing cell), factor x numeric ``y ~ A * x + B + (x | g)`` (a correlated
block) and its ``(x || g)`` form, crossed ``(1 | g) + (1 | h)`` (REML and ML), nested
``(1 | g/h)``, no intercept, ``A * B + A:x`` on the missing cell, ``poly(x, 2) * B``,
``ns(x, df = 3)``, ``scale(x) * A``, ``factor(dose)``, ``flag * x``, prior weights, an
``offset(2 * x)``, a variance near the boundary (group SD 0.2 against 1: θ = 0.106, the
profile's lower limit 0), Bernoulli GLMMs (glmer's ``binomial`` of a 0/1 response:
``family="bernoulli"`` here; ``A + x``, ``A * B``, ``(x | g)``), a Poisson GLMM with
``offset(log(expo))``, and ``y ~ B + (B | g)``, whose profile intervals reach the bounds.
GLMMs are fitted to the optimum on both sides (glmer with bobyqa and ``tolPwrss = 1e-12``;
``optimizer="bobyqa"`` here).

Compared, each with the R function it is checked against:

- lmerTest 3.1-3: ``summary()`` (Satterthwaite, Kenward-Roger:
  :func:`multilevel.inference.coef_table`), ``anova()`` types 1, 2, 3 with both df methods,
  ``drop1()`` with both, ``ranova()`` (terms reduced; and whole for the ``(x | g)`` model);
- pbkrtest 0.5.2: ``KRmodcomp(large, L)`` and ``KRmodcomp(large, small)`` against
  ``ml.contest(fit, L, ddf="kenward-roger")`` with the L of the restriction (pbkrtest's
  scaled F test);
- lme4 1.1-31: ``confint(method = "Wald")`` and ``confint(method = "profile")`` at levels 0.9
  and 0.95 (``ml.confint``) on the correlated block, its diagonal form, the near-boundary
  model, ML fits (crossed, nested) and the GLMM;
- emmeans 1.8.4-1: means over a factor, ``by =``, ``at =`` numeric values and a factor
  level, ``weights = "proportional" / "cells" / "outer"``, Kenward-Roger (emmeans' default
  for lmer) and Satterthwaite df, pairwise / revpairwise / trt.vs.ctrl contrasts with
  tukey, holm, dunnettx, bonferroni, sidak and no adjustment, the missing cell
  (non-estimable: NaN), ``type = "response"`` on the GLMMs (probabilities, rates, odds and
  rate ratios), ``regrid()``, and offsets;
- performance 0.10.2: ``r2_nakagawa()`` and ``icc()``.

Defects these cases found (fixed): type II ``anova`` of ``scale(x) * A`` tested ``A`` as type
III does (R keeps ``scale(x)`` as a matrix, which lmerTest's containment does not count as
a covariate); ``poly()``, ``bs()``, ``ns()`` fitted their basis on the complete rows, not on
R's rows before ``na.omit`` (coefficients 1-3 % off with NA responses); ``ml.emmeans`` left
a formula's offset out of the means (emmeans adds its mean over the data: a Poisson rate at
the geometric-mean exposure) and labelled contrasts of numeric levels ``1 - 2`` where
emmeans writes ``dose1 - dose2``; the profile ``confint`` of ``y ~ B + (B | g)`` raised a raw
``ValueError`` (its nuisance optimization stalled at a correlation of ±1; lme4: slope SD
[0, 0.854], correlation [-1, 1]); ``ml.emmeans`` took ``at={"x": nan}`` silently and raised
pandas' ``ValueError`` for a variable both in ``specs`` and ``by``; ``ml.emmeans`` of an ML
LMM raised a ``SpecError`` (Kenward-Roger needs REML) where emmeans reports means with
pbkrtest's REML-refit adjusted covariance and df from both fits.

Tolerances per quantity (``TOL``: relative, with an absolute floor where a value can be
0): estimates, SEs, t, F, sums of squares and Wald limits 1e-5; df 1e-3 relative; p 1e-4
absolute; profile limits 1e-3 relative plus 1e-3 of the interval's half-width (lme4
interpolates a spline through its profile; ours solves for the crossing: the GLMM's limits
differ by up to 2e-4 there, a limit near 0 has no relative precision); logLik/LRT 1e-6;
GLMM quantities 1e-4; emmeans' dunnettx limits 5e-4 standard errors (emmeans'
``uniroot(tol = 5e-4)`` for the quantile).

Not covered:

- ``KRmodcomp`` between two fitted models (``KRmodcomp(large, small)``): multilevel has
  no such verb (``ml.anova(large, small)`` is lme4's likelihood-ratio test); the same test
  is made with ``ml.contest`` and the L that restricts ``large`` to ``small``, and pbkrtest's
  model form is checked to give the same F as its L form.
- ``poly(x, 2)`` with NA in ``x``: R refuses it ("missing values are not allowed in
  'poly'"); multilevel fits it on the rows with ``x`` present (not compared).
- The profiles of the GLMM and the ``(x | g)`` model at level 0.9 (5 s and 1.4 s here, over
  the CI budget; their Wald limits at 0.9 and profiles at 0.95 are compared).
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

HERE = Path(__file__).parent / "reference" / "inference_differential"
REF = json.loads((HERE / "inference_differential.json").read_text())
MODELS = REF["models"]
TOL = {"estimate": 1e-5, "std_error": 1e-5, "t_value": 1e-5, "statistic": 1e-5, "df": 1e-3,
       "Sum Sq": 1e-5, "Mean Sq": 1e-5, "F": 1e-5, "NumDF": 0, "DenDF": 1e-3, "npar": 0, "Df": 0,
       "logLik": 1e-6, "AIC": 1e-6, "LRT": 1e-6, "lower": 1e-5, "upper": 1e-5}
P_ATOL = 1e-4
PROFILE_TOL = 1e-3
GLMM_TOL = 1e-4


@functools.cache
def data(name: str) -> pd.DataFrame:
    """The CSV as pandas reads it: text columns stay Python strings (lme4 makes them factors)."""
    return pd.read_csv(HERE / f"{name}.csv")


@functools.cache
def fitted(key: str):
    spec = MODELS[key]["spec"]
    family = spec["family"]   # glmer's binomial of a 0/1 response: single trials, as here
    with warnings.catch_warnings():
        # NA rows dropped, the missing cell's aliased column, a singular refit: lme4 says them too
        warnings.simplefilter("ignore")
        if family != "gaussian":
            # to the optimum, as the reference (glmer with bobyqa, tolPwrss 1e-12)
            return ml.fit(spec["formula"], data(spec["data"]), method="ml", family=family,
                          optimizer="bobyqa")
        return ml.fit(spec["formula"], data(spec["data"]), method="reml" if spec["reml"] else "ml",
                      weights=spec.get("weights"))


def _arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def close(got, theirs, rtol: float, atol: float, what: str) -> None:
    got, theirs = np.asarray(got, dtype=float), _arr(theirs)
    assert got.shape == theirs.shape, f"{what}: {got.shape} vs R {theirs.shape}"
    ok = (np.abs(got - theirs) <= rtol * np.abs(theirs) + atol) | (np.isnan(got) & np.isnan(theirs))
    assert np.all(ok), f"{what}: ours {got} vs R {theirs}"


def listed(values) -> list:
    """jsonlite's auto_unbox writes a one-row column as a scalar."""
    return values if isinstance(values, list) else [values]


def compare_table(table: pd.DataFrame, ref: dict, what: str) -> None:
    for col, theirs in ref.items():
        if col == "rows":
            continue
        if col in ("p", "p_value"):
            close(table[col], listed(theirs), 0.0, P_ATOL, f"{what} {col}")
        else:
            close(table[col], listed(theirs), TOL[col], TOL[col] * 1e-3, f"{what} {col}")


# ---- the fits themselves -------------------------------------------------------------------


@pytest.mark.parametrize("key", list(MODELS))
def test_fit_matches(key):
    r, fit = MODELS[key], fitted(key)
    assert list(fit.fixef.index) == list(r["fixef"]), "fixed-effect names and order (R's factor levels)"
    ref = np.array(list(r["fixef"].values()))
    tol = GLMM_TOL if r["spec"]["family"] != "gaussian" else 1e-6
    close(fit.fixef.to_numpy(), ref, tol, tol * np.abs(ref).max(), f"{key} fixef")
    assert fit.nobs == r["nobs"]
    assert fit.loglik == pytest.approx(r["logLik"], rel=1e-7 if tol < GLMM_TOL else 1e-6)


def test_strings_are_factors_as_categoricals():
    """Text columns give the fit that pandas categoricals in R's level order give."""
    d = data("u").copy()
    for v in ("g", "A", "B"):
        d[v] = pd.Categorical(d[v], categories=sorted(d[v].dropna().unique()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cat = ml.fit(MODELS["fxf"]["spec"]["formula"], d, method="reml")
    pd.testing.assert_series_equal(cat.fixef, fitted("fxf").fixef, rtol=1e-9)


# ---- lmerTest: summary, anova, drop1, ranova ---------------------------------------------------

CHECKS = [(k, c) for k in MODELS for c in MODELS[k]["checks"]]


def table_for(fit, check: str) -> pd.DataFrame:
    ddf = "kenward-roger" if check.endswith("_kr") else "satterthwaite"
    if check.startswith("coef"):
        return ml.inference.coef_table(fit, ddf=ddf)
    if check.startswith("anova"):
        return ml.anova(fit, type=int(check[5]), ddf=ddf)
    if check.startswith("drop1"):
        return ml.drop1(fit, ddf=ddf)
    if check.startswith("ranova"):
        return ml.ranova(fit, reduce_terms=check == "ranova")
    raise KeyError(check)


@pytest.mark.parametrize("key,check", CHECKS)
def test_lmertest_table(key, check):
    ref = MODELS[key]["checks"][check]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # ranova's singular refits
        table = table_for(fitted(key), check)
    assert list(table.index) == listed(ref["rows"]), f"{key} {check}: rows"
    compare_table(table, ref, f"{key} {check}")


# ---- pbkrtest: KRmodcomp ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(REF["krmodcomp"]))
def test_krmodcomp(name):
    ref = REF["krmodcomp"][name]
    fit = fitted(ref["model"])
    names = list(fit.fixef.index)
    if ref["L"] is None:   # KRmodcomp(large, small): here the L that deletes A:B from fxf
        L = np.eye(len(names))[[i for i, n in enumerate(names) if ":" in n]]
        assert ref["F"] == pytest.approx(REF["krmodcomp"]["fxf_AB"]["F"], rel=1e-9)
    else:
        L = np.asarray(ref["L"], dtype=float)
        assert [names[i] for i in np.flatnonzero(L.any(axis=0))] == ref["columns"]
    table = ml.contest(fit, L, ddf="kenward-roger")
    close(table["F"], [ref["F"]], TOL["F"], 0, f"{name} F")
    close(table["NumDF"], [ref["NumDF"]], 0, 0, f"{name} NumDF")
    close(table["DenDF"], [ref["DenDF"]], TOL["DenDF"], 0, f"{name} DenDF")
    close(table["p"], [ref["p"]], 0, P_ATOL, f"{name} p")


# ---- lme4: confint -------------------------------------------------------------------------------


# the GLMM's profile costs 5 s a level here, the (x | g) model's 1.4 s: at 0.95 only
SLOW_PROFILES = {"glmm_0.9", "fxn_0.9"}
CONFINT = [(k, m) for k in REF["confint"] for m in ("wald", "profile") if not (k in SLOW_PROFILES and m == "profile")]


@pytest.mark.parametrize("key,method", CONFINT)
def test_confint(key, method):
    ref = REF["confint"][key]
    fit = fitted(ref["model"])
    glmm = MODELS[ref["model"]]["spec"]["family"] != "gaussian"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the profile's boundary notes, as lme4's
        ci = ml.confint(fit, method=method, level=ref["level"])
    theirs = ref[method]
    assert list(ci.index) == theirs["rows"]
    tol = PROFILE_TOL if method == "profile" else (GLMM_TOL if glmm else TOL["lower"])
    # the absolute part in units of the interval's half-width (a limit near 0 has no
    # relative precision: glmm's Amid lower bound -0.0555, half-width 0.64)
    width = np.abs(_arr(theirs["upper"]) - _arr(theirs["lower"])) / 2
    for col in ("lower", "upper"):
        close(ci[col], theirs[col], tol, tol * np.nan_to_num(width), f"{key} {method} {col}")


# ---- emmeans ---------------------------------------------------------------------------------------

EMM = {
    "fxf_A": {"specs": "A"},
    "fxf_A_sat": {"specs": "A", "ddf": "satterthwaite"},
    "fxf_A_by_B": {"specs": "A", "by": "B"},
    "fxf_A_prop": {"specs": "A", "weights": "proportional"},
    "fxn_A_at_x": {"specs": "A", "at": {"x": [3, 7]}, "by": "x"},
    "crossed_B_at": {"specs": "B", "at": {"x": 6.5}, "ddf": "satterthwaite"},
    "miss_B_by_A": {"specs": "B", "by": "A"},
    "glmm_A_response": {"specs": "A", "type": "response"},
    "glmm_A_link": {"specs": "A"},
    "fxf_A_pairwise_tukey": {"specs": "A", "contrasts": "pairwise", "adjust": "tukey"},
    "fxf_A_pairwise_holm": {"specs": "A", "contrasts": "pairwise", "adjust": "holm"},
    "fxf_A_trt_dunnettx": {"specs": "A", "contrasts": "trt.vs.ctrl", "adjust": "dunnettx"},
    "fxf_A_trt_bonf": {"specs": "A", "contrasts": "trt.vs.ctrl", "adjust": "bonferroni"},
    "fxf_AB_pairwise_tukey": {"specs": "A", "by": "B", "contrasts": "pairwise", "adjust": "tukey"},
    "fxn_x_revpairwise_sidak": {"specs": "A", "at": {"x": [3, 7]}, "by": "x", "contrasts": "revpairwise",
                                    "adjust": "sidak"},
    "crossed_B_pairwise": {"specs": "B", "at": {"x": 6.5}, "ddf": "satterthwaite", "contrasts": "pairwise",
                               "adjust": "none"},
    "miss_B_by_A_pairwise": {"specs": "B", "by": "A", "contrasts": "pairwise", "adjust": "none"},
    "glmm_A_pairwise_response": {"specs": "A", "type": "response", "contrasts": "pairwise", "adjust": "tukey"},
    "glmm_A_trt_response": {"specs": "A", "type": "response", "contrasts": "trt.vs.ctrl", "adjust": "holm"},
    "noint_A": {"specs": "A"},
    "poly_B_at_x": {"specs": "B", "at": {"x": [4, 6]}, "by": "x"},
    "scaled_A_at_x": {"specs": "A", "at": {"x": [3, 7]}, "by": "x"},
    "dose": {"specs": "dose"},
    "dose_pairwise": {"specs": "dose", "contrasts": "pairwise", "adjust": "tukey"},
    "flag": {"specs": "flag"},
    "nested_A": {"specs": "A"},
    "miss_fxn_A_by_B": {"specs": "A", "by": "B"},
    "fxf_A_at_B": {"specs": "A", "at": {"B": "trt"}},
    "miss_A": {"specs": "A"},
    "miss_A_cells": {"specs": "A", "weights": "cells"},
    "miss_A_outer": {"specs": "A", "weights": "outer"},
    "glmm_A_regrid": {"specs": "A", "type": "response", "regrid": True, "contrasts": "pairwise", "adjust": "holm"},
    "fxf_ml_A": {"specs": "A"},
    "fxf_ml_A_pairwise": {"specs": "A", "contrasts": "pairwise", "adjust": "tukey"},
    "weighted_A": {"specs": "A"},
    "offset_lmm_x": {"specs": "x", "at": {"x": [3, 7]}},
    "offset_lmm_x_pairwise": {"specs": "x", "at": {"x": [3, 7]}, "contrasts": "pairwise", "adjust": "none"},
    "poisson_offset_A": {"specs": "A", "type": "response"},
    "poisson_offset_pairwise": {"specs": "A", "type": "response", "contrasts": "pairwise", "adjust": "tukey"},
    "glmm_ab_response": {"specs": "A", "by": "B", "type": "response"},
    "glmm_ab_pairwise": {"specs": "A", "by": "B", "type": "response", "contrasts": "pairwise", "adjust": "tukey"},
}


NUMERIC = ("estimate", "std_error", "df", "lower", "upper", "statistic", "p_value")


@pytest.mark.parametrize("name", list(EMM))
def test_emmeans(name):
    ref = REF["emmeans"][name]
    args = dict(EMM[name])
    fit = fitted(ref["model"])
    glmm = MODELS[ref["model"]]["spec"]["family"] != "gaussian"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # non-estimable means of the missing cell
        out = ml.emmeans(fit, args.pop("specs"), **args)
    contrasts = "contrasts" in args
    table = (out["contrasts"] if contrasts else out).reset_index(drop=True)
    # one-row tables: jsonlite's auto_unbox wrote scalars
    theirs = {k: listed(v) for k, v in ref["table"].items()}
    if glmm:   # asymptotic: emmeans' df Inf (JSON null)
        assert np.all(np.isinf(table["df"]))
        theirs.pop("df")
    for col in [c for c in list(theirs) if c not in NUMERIC]:   # labels: contrast, A, B, x
        got = [f"{float(v):g}" if col == "x" else str(v) for v in table[col]]
        assert got == list(theirs.pop(col)), f"{name} {col}"
    if not contrasts:
        theirs.pop("statistic"), theirs.pop("p_value")
    for col, values in theirs.items():
        if col == "p_value":
            close(table[col], values, 0, P_ATOL, f"{name} {col}")
            continue
        rtol = GLMM_TOL if glmm else TOL[col]
        atol = rtol * 1e-2
        if "dunnettx" in name and col in ("lower", "upper"):   # emmeans' uniroot(tol = 5e-4)
            atol = 5e-4 * float(np.nanmax(table["std_error"]))
        close(table[col], values, rtol, atol, f"{name} {col}")


# ---- performance ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(REF["performance"]))
def test_performance(key):
    ref = REF["performance"][key]
    fit = fitted(key)
    tol = GLMM_TOL if MODELS[key]["spec"]["family"] != "gaussian" else 1e-5
    r2 = ml.r2(fit)
    close([r2["marginal"], r2["conditional"]], [ref["R2_marginal"], ref["R2_conditional"]], tol, 0,
          f"{key} r2_nakagawa")
    icc = ml.icc(fit)
    close([icc.adjusted, icc.conditional], [ref["ICC_adjusted"], ref["ICC_conditional"]], tol, 0,
          f"{key} icc")


# ---- hostile inputs --------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,match", [
    ({"specs": "A", "at": {"x": np.nan}}, "finite"),
    ({"specs": "A", "at": {"x": [3.0, np.inf]}}, "finite"),
    ({"specs": "A", "by": "A"}, "'A' is named twice"),
    ({"specs": "~ A | B", "by": "B"}, "'B' is named twice"),
])
def test_emmeans_refuses_by_name(kwargs, match):
    """A grid at NaN/inf gave NaN means silently; a variable both a spec and a by variable
    raised pandas' ValueError. Both are the package's DataError, naming the variable."""
    with pytest.raises(ml.errors.DataError, match=match):
        ml.emmeans(fitted("fxf"), **kwargs)
