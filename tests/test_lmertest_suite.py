"""Cases from lmerTest's own test suite against lmerTest 3.1-3's numbers (table-driven).

``tests/reference/make_lmertest_suite.R`` fits the models of lmerTest's tests (each
model names its file in ``source``: test_summary.R, test_anova.R, test_contest1D.R,
test_contestMD.R, test_drop1.R, test_ranova_step.R, test_zerovar.R,
test_compare_sas.R, test_ls_means.R, test_lmerTest_paper.R, zlmerTest_zeroDenom.R)
with lmerTest's data (``ham``, ``carrots``, ``TVbo``, ``potdata``) and lme4's
(``sleepstudy``, ``cake``), and records what those tests check and more:

- ``summary()``'s coefficient table, Satterthwaite and Kenward–Roger
  (:func:`multilevel.inference.coef_table`);
- ``anova()`` of type 1, 2 and 3 with Satterthwaite, Kenward–Roger and ``ddf="lme4"``
  (ours: ``ml.anova(fit, type=1, ddf=None)``, whose F and sums of squares are lme4's
  where lme4's sequence and lmerTest's type I agree: ``LME4_SEQUENCE_DIFFERS``);
- ``contest1D`` / ``contestMD`` (``ml.contest(joint=False / True)``), rank-deficient L
  included, and a non-zero ``rhs``; ``drop1()`` (``ml.drop1``); ``ranova()`` with terms reduced and removed whole
  (``ml.ranova``); ``ls_means()`` and ``ls_means(pairwise=TRUE)``
  (``ml.emmeans(ddf="satterthwaite")``, with ``contrasts="pairwise", adjust="none"``).

The models cover factor-by-numeric interactions, missing cells (rank-deficient X) under
four codings, ``(1 | a:b)`` and ``(1 | a/b)``, a variance estimated as zero, a
between-chamber factor (DenDF 2), models with the intercept alone, ML fits, ``poly()`` in fixed and group terms, ``||`` and lmerTest's rules for
reducing slopes.

Tolerances (relative): estimates, SEs, t, sums of squares and F 1e-5; Satterthwaite's
and Kenward–Roger's df 1e-4 (numerical derivatives in R and here); logLik 1e-7, LRT 1e-4;
p 1e-3 relative (p follows df) with 1e-12 absolute.

Not covered:

- ``contest1D(confint=TRUE)``, ``show_tests``, ``step()``/``get_model`` (backward elimination), ``calcSatterth``
  (lmerTest's legacy spelling of ``contestMD``), ``lmer(devFunOnly=)``, ``update()`` and
  ``as_lmerModLmerTest``: multilevel has no such options or verbs.
- ``ranova`` of carrots' ``(1 | Consumer:Income)`` on all rows: lmerTest refuses it ("number
  of rows in use has changed", the linear model without the term would use the rows with a
  missing Income); ``ml.ranova`` refits on the fit's own rows by design. Compared instead on
  R's complete cases, as the upstream test does.
- Models without fixed effects (``Reaction ~ -1 + (Days | Subject)``): multilevel refuses
  the formula (``test_no_fixed_effects_refused``).
- ``ls_means`` where missing cells make a mean non-estimable: lmerTest's NA is ``ml.emmeans``'
  NaN (cake with missing cells; emmeans' own suite checks the same in test_emmeans_suite.py).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from r_data import csv_with_factors
from scipy import stats

import multilevel as ml

HERE = Path(__file__).parent / "reference"
SUITE = json.loads((HERE / "lmertest_suite.json").read_text())
MODELS = [k for k in SUITE if not k.startswith("_")]
# factor columns of the CSVs written by the R script (levels as read_data.R's fac())
CSV_FACTORS = {
    "ham": ["Consumer", "Product", "Information", "Gender"],
    "carrots": ["Consumer", "Frequency", "Gender", "Age", "Homesize", "Work", "Income", "Product"],
    "tvbo": ["Assessor", "TVset", "Repeat", "Picture"],
    "pot": ["CO2", "chamber", "nutrients"],
    "ssg": ["Subject", "g"],
    "cake3": ["replicate", "recipe", "temperature"],
    "cake4": ["replicate", "recipe", "temperature"],
    "dd": ["a", "b", "f"],
    "seed101": ["TM", "dorp"],
}
TOL = {"estimate": 1e-5, "std_error": 1e-5, "t_value": 1e-5, "df": 1e-4, "Sum Sq": 1e-5, "Mean Sq": 1e-5,
       "F": 1e-5, "NumDF": 0, "DenDF": 1e-4, "lower": 1e-5, "upper": 1e-5, "npar": 0, "Df": 0,
       "logLik": 1e-7, "AIC": 1e-7, "LRT": 1e-4}
P_RTOL, P_ATOL = 1e-3, 1e-12
# lme4 fits these (no fixed effects: X has no columns); multilevel refuses such a formula
# with a FormulaError (a documented limit of the formula layer)
NO_FIXEF = {"no_fixef", "only_group_intercept"}
# lme4's anova() (lmerTest's ddf="lme4") takes its sequential sums of squares from lme4's
# RX (Cholesky of X'V⁻¹X); lmerTest's type I hypotheses, and ours with ddf=None, come from
# X'X. With an intercept and balanced data these agree; without an intercept they do not
# (carrots: sens2's F 0.0122 in lme4, 56.54 in lmerTest, as upstream's test_compare_sas.R
# remarks). There ours is checked against lmerTest's type I F instead.
LME4_SEQUENCE_DIFFERS = {"quad_no_intercept", "carrots_no_intercept"}
# pbkrtest's DenDF for CO2 (a between-chamber factor, 4 chambers in 2 groups: exactly 2)
# is 1.99927: its rho is the ratio 0/0 of two rounding residues ((1 - A2/q) / V1 with
# V1 = 2e-13, just above .divZero's 1e-14). Ours is 2 to 1e-14; checked against 2 and
# against lmerTest's Satterthwaite p for that row (the same F on 2 df).
KR_ROUNDING = {("pot_zero_denominator", "anova3_kr"): {"DenDF": [2.0, 10.0, 10.0],
                                                       "p": [0.0224955602, None, None]}}
# Gender is constant within Consumer: (0 + Gender | Consumer) lies on a ridge (lme4's θ and
# ours differ, the likelihood agrees); the deviance's Hessian has a negative eigenvalue
# (lme4 warns at the fit, we at the Satterthwaite df) and the df still agree.
WARNS = {("carrots_factor_slope", "anova3"): ml.errors.ConvergenceWarning}
# lmerTest's ls_means are NA for means that the missing cells leave non-estimable; ml.emmeans
# (src/multilevel/effects/, not this suite's to change) evaluates them with the aliased
# coefficients at 0 and reports numbers.
T_COLS = ["estimate", "std_error", "df", "t_value", "p"]
_FITS: dict = {}


def data_for(name: str) -> pd.DataFrame:
    if name == "carrots_cc":
        return data_for("carrots").dropna().reset_index(drop=True)
    if name in CSV_FACTORS:
        return csv_with_factors(HERE / f"lmertest_suite_{name}.csv", CSV_FACTORS[name])
    return ml.datasets.load(name)


def fit_case(key: str):
    if key not in _FITS:
        r = SUITE[key]
        with warnings.catch_warnings():
            # singular fits, rank-deficient X, rows with missing values: as lme4 says them
            warnings.simplefilter("ignore")
            _FITS[key] = ml.fit(r["formula"], data_for(r["data"]), method="reml" if r["reml"] else "ml")
    return _FITS[key]


def close(ours: pd.DataFrame, ref: dict, what: str, atol: float = 0.0):
    for col, theirs in ref.items():
        if col in ("rows", "L", "joint", "ddf", "rhs"):
            continue
        theirs = np.array([np.nan if v is None else v for v in theirs], dtype=float)
        got = np.asarray(ours[col], dtype=float)
        assert got.shape == theirs.shape, f"{what} {col}: {got.shape} rows vs lmerTest {theirs.shape}"
        if col == "p":
            rtol, atol = P_RTOL, P_ATOL
        else:
            rtol = TOL[col]
        ok = (np.abs(got - theirs) <= rtol * np.abs(theirs) + atol) | (np.isnan(got) & np.isnan(theirs))
        assert np.all(ok), f"{what} {col}: ours {got} vs lmerTest {theirs}"


CHECKS = [(k, c) for k in MODELS for c in SUITE[k].get("checks", {})]
CONTESTS = [(k, c) for k in MODELS for c in SUITE[k].get("contests", {})]
DDF = {"Satterthwaite": "satterthwaite", "Kenward-Roger": "kenward-roger"}


def table_for(fit, check: str) -> pd.DataFrame:
    ddf = "kenward-roger" if check.endswith("_kr") else "satterthwaite"
    if check.startswith("coef"):
        return ml.inference.coef_table(fit, ddf=ddf)
    if check.startswith("anova"):
        if check.endswith("_lme4"):   # lme4's sequential table: ours without df
            return ml.anova(fit, type=1, ddf=None)
        return ml.anova(fit, type=int(check[5]), ddf=ddf)
    if check.startswith("drop1"):
        return ml.drop1(fit, ddf=ddf)
    if check.startswith("ranova"):
        return ml.ranova(fit, reduce_terms=check == "ranova")
    if check.startswith("pairwise:"):
        factor = check.split(":", 1)[1]
        table = ml.emmeans(fit, factor, ddf="satterthwaite", contrasts="pairwise", adjust="none")["contrasts"]
        return table.rename(columns={"statistic": "t_value", "p_value": "p"})
    if check.startswith("lsmeans:"):
        factor = check.split(":", 1)[1]
        table = ml.emmeans(fit, factor, ddf="satterthwaite")
        table.index = [f"{factor}{level}" for level in table[factor]]
        table["t_value"] = table["estimate"] / table["std_error"]
        table["p"] = 2 * stats.t.sf(np.abs(table["t_value"]), table["df"])
        return table
    raise KeyError(check)


@pytest.mark.parametrize("key", [k for k in MODELS if k not in NO_FIXEF])
def test_fit_matches(key):
    """The model itself (fixed effects and REML/ML criterion) as lmer's, before any test."""
    r, fit = SUITE[key], fit_case(key)
    assert list(fit.fixef.index) == list(r["fixef"]), "fixed-effect names"
    ref = np.array(list(r["fixef"].values()))
    # atol: a coefficient that is 0 but for rounding (dd's a2:b2 is 1e-14 in both)
    close(pd.DataFrame({"estimate": fit.fixef.to_numpy()}), {"estimate": ref}, f"{key} fixef",
          atol=1e-9 * np.abs(ref).max())
    assert fit.loglik == pytest.approx(r["logLik"], rel=1e-7)


@pytest.mark.parametrize("key,check", [(k, c) for k, c in CHECKS if k not in NO_FIXEF])
def test_table(key, check):
    ref = dict(SUITE[key]["checks"][check])
    fit = fit_case(key)
    if key in LME4_SEQUENCE_DIFFERS and check == "anova1_lme4":
        ref = {col: SUITE[key]["checks"]["anova1"][col] for col in ("rows", "Sum Sq", "Mean Sq", "NumDF", "F")}
    for col, values in KR_ROUNDING.get((key, check), {}).items():
        ref[col] = [v if new is None else new for v, new in zip(ref[col], values)]
    if (key, check) in WARNS:
        with pytest.warns(WARNS[key, check]):
            table = table_for(fit, check)
    else:
        table = table_for(fit, check)
    rows = [] if ref["rows"] is None else list(ref["rows"])
    if not check.startswith(("coef", "lsmeans", "pairwise")):
        assert list(table.index) == rows, f"{key} {check}: rows"
    else:
        assert len(table) == len(rows), f"{key} {check}: rows"
    close(table, ref, f"{key} {check}")


@pytest.mark.parametrize("key,name", CONTESTS)
def test_contest(key, name):
    ref = SUITE[key]["contests"][name]
    table = ml.contest(fit_case(key), np.asarray(ref["L"], dtype=float), ddf=DDF[ref["ddf"]],
                       joint=ref["joint"], rhs=np.asarray(ref["rhs"], dtype=float))
    close(table, ref, f"{key} {name}")


@pytest.mark.parametrize("key", sorted(NO_FIXEF))
def test_no_fixed_effects_refused(key):
    """test_summary.R, test_anova.R, test_drop1.R, test_ranova_step.R fit ``y ~ -1 + (...)``
    (lmerTest's tables then have no rows); multilevel refuses the formula, naming it."""
    r = SUITE[key]
    with pytest.raises(ml.errors.FormulaError, match="no columns"):
        ml.fit(r["formula"], data_for(r["data"]), method="reml")


def test_lme4_sequence_does_differ():
    """The premise of LME4_SEQUENCE_DIFFERS: lme4's and lmerTest's first F really differ."""
    for key in LME4_SEQUENCE_DIFFERS:
        lme4_f = SUITE[key]["checks"]["anova1_lme4"]["F"][0]
        ours = ml.anova(fit_case(key), type=1, ddf=None)["F"].iloc[0]
        assert abs(ours - lme4_f) > 1e-3 * abs(lme4_f)


def test_bad_input_raises_package_errors():
    """test_contest1D.R, test_contestMD.R, test_anova.R, test_summary.R: assertError cases."""
    fm = fit_case("quad_split")   # three fixed effects
    for L in ([0, 1, 1, 1], [0, 1], np.ones((2, 2)), np.zeros((0, 3))):
        with pytest.raises(ml.errors.SpecError):
            ml.contest(fm, L, joint=False)
        with pytest.raises(ml.errors.SpecError):
            ml.contest(fm, L)
    with pytest.raises(ml.errors.SpecError, match="ddf="):
        ml.contest(fm, [0, 1, 0], ddf="sat")
    with pytest.raises(ml.errors.SpecError, match="type="):
        ml.anova(fm, type=0)
    # Kenward-Roger needs a REML fit (pbkrtest; lmerTest's anova errors)
    with pytest.raises(ml.errors.SpecError, match="REML"):
        ml.anova(fit_case("cake_ml"), ddf="kenward-roger")


def test_zero_variance_term_changes_nothing():
    """test_zerovar.R: a grouping factor with variance 0 leaves summary and anova as without it."""
    with_g, without = fit_case("zero_variance"), fit_case("slopes")
    assert with_g.varcorr.set_index("grp").loc["g", "sdcor"] == pytest.approx(0, abs=1e-4)
    for ours, theirs in ((ml.inference.coef_table(with_g), ml.inference.coef_table(without)),
                         (ml.anova(with_g), ml.anova(without))):
        np.testing.assert_allclose(ours.to_numpy(float), theirs.to_numpy(float), rtol=1e-4)


def test_contest_rhs():
    """test_contest1D.R / test_contestMD.R: t² of the 1-D test is the F of the same row;
    a non-zero rhs raises F here; rhs with rank-deficient L warns; bad rhs is refused."""
    fm = fit_case("slopes")
    one = ml.contest(fm, [[0, 1]], joint=False, rhs=10)
    joint = ml.contest(fm, [[0, 1]], rhs=10)
    assert one["t_value"].iloc[0] ** 2 == pytest.approx(joint["F"].iloc[0], rel=1e-6)
    cake = fit_case("cake_temp")
    L = np.eye(6)[1:3]
    assert ml.contest(cake, L, rhs=[2, 2])["F"].iloc[0] > ml.contest(cake, L)["F"].iloc[0]
    L2 = np.vstack([L, L[0] + L[1]])
    ml.contest(cake, L2, rhs=0)   # no warning (warnings are errors here)
    with pytest.warns(UserWarning, match="rank deficient"):
        ml.contest(cake, L2, rhs=[2, 2, 2])
    with pytest.raises(ml.errors.SpecError, match="rhs"):
        ml.contest(cake, L, rhs=[1, 2, 3])
    with pytest.raises(ml.errors.SpecError, match="rhs"):
        ml.contest(cake, L, rhs=[np.nan, 1])
