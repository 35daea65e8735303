"""Cases from R emmeans' own tests and vignettes against emmeans 1.8.4-1 on lme4 1.1-31 fits
(table-driven; ``tests/reference/make_emmeans_suite.R`` writes ``emmeans_suite.json``).

Each case names the emmeans file it is ported from (``source``: test-emmeans.R,
test-contrast.R, test-emtrends.R, test-ref_grid.R, test-nested.R, test-transformations.R,
test-cross-adjust.R, the comparisons vignette). emmeans' tests use lm/glm fits of its own
data; the same calls are made here on mixed models of the shipped data: cake (recipe ×
temperature, replicates nested in recipe; and temperature as a covariate), Owls
(unbalanced 2 × 2 with a covariate), sleepstudy with Days as a 10-level factor,
Penicillin, oats (nitrogen as a 4-level factor), cbpp (binomial) and grouse ticks
(Poisson, a factor × covariate interaction), and simulated unbalanced 2 × 3 × 2 data
with a covariate, once complete and once with the a2:b3 cell empty (its column aliased:
emmeans reports the means and contrasts that need it as non-estimable, NA).

What is compared: the marginal means (estimate, SE, df, confidence limits) and the
contrasts (estimate, SE, df, t/z, adjusted p, adjusted limits) for Kenward–Roger (the
default for lmer, as emmeans with pbkrtest), Satterthwaite and asymptotic df; weights
"equal", "proportional", "outer", "cells", "flat"; contrasts pairwise, revpairwise,
trt.vs.ctrl, consec, poly and custom weights; adjustments tukey, dunnettx, mvt, scheffe, holm,
bonferroni, sidak, none; the response scale of GLMMs (means back-transformed, contrasts
as odds ratios / rate ratios, or after ``regrid()`` as differences of probabilities and
rates: ``regrid=True``). ``emtrends`` is the reference of ``ml.slopes`` on the
reference grid (population level, link scale) and ``contrast(..., "revpairwise")`` of
``ml.comparisons`` at the grid.

Tolerances (relative, with an absolute floor of the same size for values near 0): LMM
estimates 1e-6, SEs and limits 1e-5, df 1e-4, statistics 1e-5, p-values 1e-4 (absolute
1e-8); GLMMs 1e-4 throughout (PIRLS at different tolerances on each side).

Not covered:

- ``adjust = "mvt"`` (emmeans' default for consec) to 1e-4 against emmeans' printout:
  emmeans integrates the multivariate t by mvtnorm's randomized quasi-Monte Carlo at its
  default abseps 1e-3, so its p-values vary in the third digit from run to run. The mvt
  cases' p-values are compared to emmeans within 2e-3 and, to 1e-4, to mvtnorm at abseps
  1e-5 on emmeans' own correlations, t ratios and whole df (``mvt_precise`` in the JSON);
  their limits to emmeans' within 5e-3 standard errors.
- the limits of ``adjust = "dunnettx"`` to 1e-5: emmeans solves for its quantile by
  ``uniroot(tol = 5e-4)``, ours to 1e-10, so they are compared to 5e-4 standard errors
  (its p-values, the same function of t, to 1e-4).
- emtrends' own df (Kenward–Roger for lmer): ``ml.slopes`` gives z intervals, so the slope
  cases take emtrends with ``lmer.df = "asymptotic"``.
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.effects.grid import reference_grid

HERE = Path(__file__).parent / "reference"
SUITE = json.loads((HERE / "emmeans_suite.json").read_text())
CASES = {c["id"]: c for c in SUITE["cases"]}


def _data(name: str) -> pd.DataFrame:
    if name in ("sim", "miss"):
        d = pd.read_csv(HERE / f"emmeans_suite_{name}.csv")
        for v in ("a", "b", "c", "g"):
            d[v] = pd.Categorical(d[v], categories=sorted(d[v].unique()))
        return d
    if name == "sleepstudy_fdays":
        d = ml.datasets.load("sleepstudy")
        return d.assign(fDays=pd.Categorical(d["Days"], categories=sorted(d["Days"].unique())))
    return ml.datasets.load(name)


@functools.cache
def fitted(key: str):
    spec = SUITE["models"][key]
    if "family" in spec:   # BOBYQA to the optimum, as the reference (tolPwrss 1e-12)
        return ml.fit(spec["formula"], _data(spec["data"]), family=spec["family"], method="ml",
                      optimizer="bobyqa")
    with warnings.catch_warnings():   # the missing cell's aliased column: lme4's message, tested below
        warnings.filterwarnings("ignore", message="fixed-effect model matrix is rank deficient")
        return ml.fit(spec["formula"], _data(spec["data"]), method="reml")


def numbers(values) -> np.ndarray:
    """jsonlite's na="string": "NA" (non-estimable) -> NaN, "Inf" -> inf."""
    return np.array([np.nan if v == "NA" else float(v) for v in values], dtype=float)


def close(ours, theirs, tol, what, floor=None):
    theirs = numbers(theirs)
    ours = np.asarray(ours, dtype=float)
    assert ours.shape == theirs.shape, f"{what}: {ours.shape} rows vs emmeans' {theirs.shape}"
    floor = tol if floor is None else floor
    same = (np.isnan(ours) & np.isnan(theirs)) | (np.isinf(ours) & np.isinf(theirs) & (ours == theirs))
    with np.errstate(invalid="ignore"):
        ok = same | (np.abs(ours - theirs) <= np.maximum(tol * np.abs(theirs), floor))
    assert ok.all(), f"{what}: ours {ours[~ok]} vs emmeans {theirs[~ok]} (rows {np.flatnonzero(~ok)})"


def tolerances(case) -> dict:
    if "family" in SUITE["models"][case["model"]]:
        return dict.fromkeys(("estimate", "SE", "df", "lower", "upper", "stat"), 1e-4) | {"p_value": 1e-4}
    return {"estimate": 1e-6, "SE": 1e-5, "df": 1e-4, "lower": 1e-5, "upper": 1e-5, "stat": 1e-5,
            "p_value": 1e-4}


OURS = {"estimate": "estimate", "SE": "std_error", "df": "df", "lower": "lower", "upper": "upper",
        "stat": "statistic", "p_value": "p_value"}


def check(table: pd.DataFrame, ref: dict, tol: dict, what: str, cols):
    for c in cols:
        floor = 1e-8 if c == "p_value" else None
        close(table[OURS[c]], ref[c], tol[c], f"{what} {c}", floor)


def label(text: str, names) -> str:
    """emmeans prefixes numeric-looking levels with the factor's name in contrast labels
    ("period1 - period2"); ours are the levels alone."""
    for name in names:
        text = re.sub(rf"(?<![\w.]){re.escape(name)}(?=[-\d.])", "", text)
    return text


def call_kwargs(case) -> dict:
    kw = dict(case["call"])
    if isinstance(kw.get("contrasts"), dict):
        kw["contrasts"] = {k: list(v) for k, v in kw["contrasts"].items()}
    return kw


def test_fixed_effects_match():
    """The fits themselves agree with lme4 before any marginal mean is compared."""
    for key, spec in SUITE["models"].items():
        fit = fitted(key)
        tol = 1e-4 if "family" in spec else 1e-5
        np.testing.assert_allclose(fit.fixef.to_numpy(), spec["fixef"], rtol=tol, atol=tol, err_msg=key)
        assert len(fit.design.dropped_columns) == spec["dropped"], key


EMM = [c["id"] for c in SUITE["cases"] if c.get("kind") is None]


@pytest.mark.parametrize("case_id", EMM)
def test_emmeans_case(case_id):
    case = CASES[case_id]
    fit = fitted(case["model"])
    tol = tolerances(case)
    out = ml.emmeans(fit, **call_kwargs(case))
    means = out["emmeans"] if isinstance(out, dict) else out
    ref = case["emmeans"]
    for col in means.columns:
        if col in ref and col not in OURS.values():
            theirs = ref[col]
            if isinstance(theirs[0], str):
                assert means[col].astype(str).tolist() == theirs, col
            else:
                np.testing.assert_allclose(means[col].astype(float), theirs, err_msg=col)
    check(means, ref, tol, f"{case_id} means", ("estimate", "SE", "df", "lower", "upper"))
    if "contrasts" not in case:
        return
    con, ref = out["contrasts"], case["contrasts"]
    names = [c for c in ref if c not in OURS and c != "contrast"] + list(means.columns)
    assert [label(t, names) for t in con["contrast"]] == [label(t, names) for t in ref["contrast"]]
    assert con.attrs["adjust"] == case["adjust"]
    limits = ("lower", "upper")
    if case["adjust"] == "mvt":
        _check_mvt(con, case)
        return
    if case["adjust"] == "dunnettx":
        # emmeans finds the dunnettx quantile by uniroot(tol = 5e-4), ours to 1e-10: the
        # limits may differ by 5e-4 standard errors (the p-values are the same function)
        limits = ()
        for c in ("lower", "upper"):
            np.testing.assert_array_less(np.abs(con[c] - numbers(ref[c])), 5e-4 * numbers(ref["SE"]) + 1e-9)
    check(con, ref, tol, f"{case_id} contrasts", ("estimate", "SE", "df", "stat", "p_value") + limits)


def _check_mvt(con: pd.DataFrame, case: dict) -> None:
    """adjust="mvt": the p-values against mvtnorm at abseps 1e-5 on emmeans' own
    correlation matrix, t ratios and whole df (1e-4 absolute; ours are accurate to ~2e-5)
    and against emmeans' printed ones within mvtnorm's default abseps (2e-3); the limits
    against emmeans'."""
    ref, precise = case["contrasts"], case["mvt_precise"]
    tol = tolerances(case)
    check(con, ref, tol, f"{case['id']} contrasts", ("estimate", "SE", "df", "stat"))
    np.testing.assert_allclose(con["p_value"], numbers(precise["p_value"]), atol=1e-4, err_msg="p vs precise")
    np.testing.assert_allclose(con["p_value"], numbers(ref["p_value"]), atol=2e-3, err_msg="p vs emmeans")
    # the limits: emmeans' qmvt (ptol 1e-3 on a randomized integral) within 5e-3 SE; our
    # critical value itself is checked against Tukey's exact range in test_multiplicity.py
    est, se = numbers(ref["estimate"]), numbers(ref["SE"])
    ratio = case["call"].get("type") == "response" and case["model"] in ("cbpp", "ticks")
    for c in ("lower", "upper"):
        ours, theirs = con[c].to_numpy(), numbers(ref[c])
        if ratio:   # odds or rate ratios: limits back-transformed from the log scale
            ours, theirs, scale = np.log(ours), np.log(theirs), se / est
        else:
            scale = se
        np.testing.assert_allclose(ours, theirs, atol=5e-3 * scale.max(), err_msg=f"{c} vs emmeans")


@pytest.mark.parametrize("case_id", [c["id"] for c in SUITE["cases"] if c.get("kind") == "slopes"])
def test_slopes_against_emtrends(case_id):
    case = CASES[case_id]
    fit = fitted(case["model"])
    tol = tolerances(case)
    grid = reference_grid(fit)
    out = ml.slopes(fit, newdata=grid, group_effects=False, type="link", **case["call"])
    by = case["call"]["by"]
    assert out[by].astype(str).tolist() == case["emmeans"][by]
    # the slope is a forward difference of a linear predictor (exact up to rounding)
    check(out, case["emmeans"], tol | {"estimate": 1e-6, "SE": 1e-5}, case_id, ("estimate", "SE", "lower", "upper"))


@pytest.mark.parametrize("case_id", [c["id"] for c in SUITE["cases"] if c.get("kind") == "comparisons"])
def test_comparisons_against_contrasts(case_id):
    case = CASES[case_id]
    fit = fitted(case["model"])
    out = ml.comparisons(fit, newdata=reference_grid(fit), by=True, group_effects=False, type="link",
                         **case["call"])
    assert out["contrast"].tolist() == case["emmeans"]["contrast"]
    check(out, case["emmeans"], tolerances(case), case_id, ("estimate", "SE", "stat", "p_value", "lower", "upper"))


def test_unknown_weights_are_refused_by_name():
    from multilevel.errors import DataError

    with pytest.raises(DataError, match="weights='counts'"):
        ml.emmeans(fitted("owls"), "FoodTreatment", weights="counts")


def test_poly_coefficients_are_the_classical_integers():
    from multilevel.effects.emm import poly_contrasts

    got = dict(poly_contrasts(4))
    assert got["linear"].tolist() == [-3, -1, 1, 3]
    assert got["quadratic"].tolist() == [1, -1, -1, 1]
    assert got["cubic"].tolist() == [-1, 3, -3, 1]


def test_regrid_needs_the_response_scale():
    from multilevel.errors import DataError

    with pytest.raises(DataError, match="regrid"):
        ml.emmeans(fitted("cbpp"), "period", regrid=True)
