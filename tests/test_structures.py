"""Structured group-effect covariances: lme4 2.0's us/diag/cs/ar1 and glmmTMB's toep.

Parsing and its errors (including the former residual spellings), the φ → θ map, REML and
ML fits against glmmTMB 1.1.5 (tests/reference/make_structures.R), and ml.lrt's nesting.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import ComparisonError, FormulaError, SpecError
from multilevel.formula import parse_formula
from multilevel.formula.structures import (
    correlation, cs_lower, pacf_from_toeplitz, toeplitz_from_pacf,
)

REFERENCE = json.loads((Path(__file__).parent / "reference" / "structures.json").read_text())
CASES = sorted(k for k in REFERENCE if not k.startswith("_"))

# --------------------------------------------------------------------------- parsing

PARSED = [
    ("y ~ x + us(x | g)", "1 + x", "us", False),
    ("y ~ diag(x + z | g)", "1 + x + z", "diag", False),
    ("y ~ diag(x | g, hom = TRUE)", "1 + x", "diag", True),
    ("y ~ cs(0 + f | g)", "0 + f", "cs", False),
    ("y ~ cs(x | g, hom = TRUE)", "1 + x", "cs", True),
    ("y ~ ar1(0 + f | g)", "0 + f", "ar1", True),
    ("y ~ ar1(0 + f | g, hom = FALSE)", "0 + f", "ar1", False),
    ("y ~ toep(0 + f | g)", "0 + f", "toep", False),
]


@pytest.mark.parametrize("formula, expr, kind, hom", PARSED)
def test_structured_terms_parse(formula, expr, kind, hom):
    (bar,) = parse_formula(formula).bars
    assert (bar.expr, bar.group, bar.structure.kind, bar.structure.hom) == (expr, "g", kind, hom)


def test_structured_term_with_nested_groups_expands_each():
    bars = parse_formula("y ~ cs(0 + f | a/b)").bars
    assert [(b.group, b.structure.kind) for b in bars] == [("a", "cs"), ("b:a", "cs")]


RESIDUAL = [
    ("y ~ x + ar(time = t, gr = g)", ("ar1", "t", "g")),
    ("y ~ x + ar(time = t, gr = g, p = 1)", ("ar1", "t", "g")),
    ("y ~ x + ar(t, g)", ("ar1", "t", "g")),
    ("y ~ x + cosy(gr = g)", ("cs", None, "g")),
    ("y ~ x + (1 | h) + cosy(g)", ("cs", None, "g")),
]


@pytest.mark.parametrize("formula, expected", RESIDUAL)
def test_residual_structures_in_brms_spelling(formula, expected):
    res = parse_formula(formula).residuals
    assert (res.kind, res.time, res.group) == expected


ERRORS = [
    # the former residual spellings say what to write now
    ("y ~ x + cs(1 | g)", r"cosy\(gr = g\).*\(1 \| g\)|\(1 \| g\).*cosy\(gr = g\)"),
    ("y ~ x + ar1(t | g)", r"ar\(time = t, gr = g\)"),
    ("y ~ x + ar1(1 + t | g)", r"ar1\(0 \+ f \| g\)"),
    ("y ~ x + toep(f | g)", r"toep\(0 \+ f \| g\)"),
    ("y ~ x + ar1(0 + f + h | g)", "one factor"),
    ("y ~ diag(x || g)", r"written diag\(x \| g\)"),
    ("y ~ us(x | g, hom = TRUE)", "no hom argument"),
    ("y ~ cs(x | g, hom = maybe)", "hom must be TRUE or FALSE"),
    ("y ~ cs(x | g, rho = 0.5)", "unknown argument"),
    ("y ~ cs(x)", "with a bar"),
    ("y ~ x - cs(x | g)", "cannot be subtracted"),
    ("y ~ ar(time = t, gr = g, p = 2)", "p = 1"),
    ("y ~ ar(time = t)", "gr = must name one column"),
    ("y ~ cosy(gr = g, time = t)", "unknown or repeated"),
    ("y ~ ar(time = t, gr = g) + cosy(gr = g)", "Only one residual structure"),
    ("y ~ x - cosy(gr = g)", "cannot be subtracted"),
]


@pytest.mark.parametrize("formula, message", ERRORS)
def test_bad_structured_terms_are_formula_errors(formula, message):
    with pytest.raises(FormulaError, match=message):
        parse_formula(formula)


def test_one_column_structure_is_refused_with_the_plain_spelling():
    with pytest.raises(FormulaError, match=r"needs two or more.*\(x \| g\)"):
        ml.fit("y ~ arm + cs(0 + rep | subject)", "visits", method="reml")


def test_structured_glmm_says_where_it_is_available():
    data = ml.datasets.load("visits").assign(hi=lambda d: (d.y > 11).astype(int))
    with pytest.raises(SpecError, match="method='bayes'"):
        ml.fit("hi ~ arm + cs(0 + visit | subject)", data, method="ml", family="bernoulli")


# ------------------------------------------------------------------ parameter maps


def test_toeplitz_pacf_map_is_a_bijection_onto_positive_definite_matrices():
    rng = np.random.default_rng(1)
    for q in (2, 3, 5, 8):
        pacf = rng.uniform(-0.95, 0.95, q - 1)
        r = toeplitz_from_pacf(pacf)
        assert np.linalg.eigvalsh(correlation("toep", q, r)).min() > 0
        np.testing.assert_allclose(pacf_from_toeplitz(r), pacf, atol=1e-12)
    # an AR(1) process has partial autocorrelations (ρ, 0, 0, ...)
    np.testing.assert_allclose(toeplitz_from_pacf(np.array([0.5, 0.0, 0.0])), [0.5, 0.25, 0.125])


def test_cs_lower_bound_is_where_the_matrix_stops_being_positive_definite():
    for q in (3, 4, 6):
        lo = cs_lower(q)
        assert np.linalg.eigvalsh(correlation("cs", q, lo + 1e-6)).min() > 0
        assert np.linalg.eigvalsh(correlation("cs", q, lo - 1e-6)).min() < 0


# ------------------------------------------------------------- glmmTMB references

# per-quantity tolerances: logLik relative, fixed effects relative to max(1, |value|), SDs
# and correlations absolute (the covariance parameters are less sharply determined)
TOL = {"logLik": 1e-5, "fixef": 1e-4, "sd": 2e-3, "corr": 2e-3}
# oats' ar1 and toep ML fits have a correlation near 1: glmmTMB stops short (convergence
# code 1 for ar1) with fixed effects 1e-4 off the GLS cell means, while ours reaches a
# higher logLik; there the fixed effects are compared at 1e-3 and the SDs at 2e-2
LOOSE = {"oats_ar1_ml": {"fixef": 1e-3, "sd": 2e-2, "corr": 1e-2},
         "oats_toep_ml": {"fixef": 1e-3, "sd": 2e-2, "corr": 1e-2},
         # one SD at glmmTMB's log-scale edge (2.5e-7), ours exactly 0
         "cs_slope_reml": {"sd": 2e-3}, "cs_slope_ml": {"sd": 2e-3}}


@pytest.fixture(scope="module")
def fits():
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the singular oats fits warn, as they should
        for key in CASES:
            ref = REFERENCE[key]
            out[key] = ml.fit(ref["formula"], ref["data"], method=ref["method"])
    return out


@pytest.mark.parametrize("key", CASES)
def test_structured_fit_matches_glmmtmb(fits, key):
    ref, fit = REFERENCE[key], fits[key]
    tol = {**TOL, **LOOSE.get(key, {})}
    assert fit.loglik == pytest.approx(ref["logLik"], rel=tol["logLik"])
    assert fit.loglik >= ref["logLik"] - 1e-6 * abs(ref["logLik"])   # never below glmmTMB's optimum
    assert fit.df == ref["df"]
    ours = fit.fixef.to_numpy()
    theirs = np.array(list(ref["fixef"].values()))
    assert np.max(np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs))) < tol["fixef"]
    cov = fit.covariance()
    for term in ref["terms"]:
        sd = np.sqrt(np.diag(cov[term["group"]]))
        np.testing.assert_allclose(sd, term["sd"], atol=tol["sd"] * max(1.0, max(term["sd"])))
        if isinstance(term["corr"], list) and np.ndim(term["corr"]) == 2:
            keep = np.asarray(term["sd"]) > 1e-4   # correlations of a zero SD are undefined
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = cov[term["group"]] / np.outer(sd, sd)
            np.testing.assert_allclose(corr[np.ix_(keep, keep)], np.asarray(term["corr"])[np.ix_(keep, keep)],
                                       atol=tol["corr"])


def test_structure_table_reports_the_parameters(fits):
    table = fits["toep_reml"].structures
    assert table["parameter"].tolist() == ["sd(visitv1)", "sd(visitv2)", "sd(visitv3)", "sd(visitv4)",
                                           "rho1", "rho2", "rho3"]
    corr = REFERENCE["toep_reml"]["terms"][0]["corr"]
    np.testing.assert_allclose(table["estimate"].iloc[4:], [corr[1][0], corr[2][0], corr[3][0]], atol=2e-3)
    cs = fits["cs_hom_ml"].structures
    assert cs["parameter"].tolist() == ["sd", "rho"] and (cs["structure"] == "cs(hom = TRUE)").all()
    assert fits["us_reml"].structures.empty


def test_varcorr_lists_the_whole_structured_matrix(fits):
    vc = fits["ar1_reml"].varcorr
    rows = vc[vc.grp == "subject"]
    assert len(rows) == 4 + 6
    corr = rows.dropna(subset=["var2"]).set_index(["var1", "var2"])["sdcor"]
    rho = corr[("visitv1", "visitv2")]
    assert corr[("visitv1", "visitv3")] == pytest.approx(rho ** 2)
    assert corr[("visitv1", "visitv4")] == pytest.approx(rho ** 3)


def test_us_term_is_lme4s_unstructured_block(fits):
    plain = ml.fit("y ~ arm + visit + (0 + visit | subject)", "visits", method="reml")
    assert plain.loglik == pytest.approx(fits["us_reml"].loglik, rel=1e-10)
    assert plain.df == fits["us_reml"].df


def test_correlation_at_its_bound_is_reported_singular(fits):
    assert fits["oats_ar1_ml"].singular
    assert "correlation" in fits["oats_ar1_ml"].singular_terms()[0]
    assert not fits["toep_reml"].singular


def test_convergence_check_uses_the_structure_parameters(fits):
    from multilevel.diagnostics.convergence import check_convergence

    report = check_convergence(fits["cs_reml"])
    assert report.ok, report.problems
    assert "subject.rho" in report.gradient.index


# ----------------------------------------------------------------------- nesting

def test_lrt_says_a_structure_is_nested_in_us(fits):
    res = ml.lrt(fits["cs_reml"], fits["us_reml"])
    assert res.df == 5
    assert res.chisq == pytest.approx(2 * (REFERENCE["us_ml"]["logLik"] - REFERENCE["cs_ml"]["logLik"]), rel=1e-5)
    assert any("cs(0 + visit | subject) is nested in us(0 + visit | subject)" in n for n in res.notes)
    res = ml.lrt(fits["ar1_reml"], fits["toep_reml"])
    assert res.df == 5 and any("nested" in n for n in res.notes)
    res = ml.lrt(fits["cs_hom_reml"], fits["cs_reml"])
    assert res.df == 3


def test_lrt_refuses_structures_that_are_not_nested(fits):
    with pytest.raises(ComparisonError, match="not a restriction"):
        ml.lrt(fits["ar1_reml"], fits["cs_reml"])


def test_theta_based_inference_is_refused_for_structured_fits(fits):
    from multilevel.inference import confint

    fit = fits["cs_reml"]
    for method in ("profile", "boot"):
        with pytest.raises(SpecError, match="structured group-effect terms"):
            confint(fit, method=method)
    wald = confint(fit, method="wald")
    assert np.isfinite(wald.loc["armtreated", ["lower", "upper"]].astype(float)).all()


# ------------------------------------------------------ identities between spellings

def _two_visits():
    data = ml.datasets.load("visits")
    data = data[data.visit.isin(["v1", "v2"])].copy()
    data["visit"] = data["visit"].cat.remove_unused_categories()
    return data


IDENTITIES = [
    # a 2x2 cs block is the unstructured block (one correlation either way)
    ("y ~ arm + visit + cs(0 + visit | subject)", "y ~ arm + visit + (0 + visit | subject)", _two_visits),
    # heterogeneous diag is lme4's || (one independent term per column)
    ("y ~ arm + diag(1 + t | subject)", "y ~ arm + (1 + t || subject)",
     lambda: ml.datasets.load("visits").assign(t=lambda d: d.visit.cat.codes.astype(float))),
    # toep of two columns is the unstructured block
    ("y ~ arm + visit + toep(0 + visit | subject)", "y ~ arm + visit + (0 + visit | subject)", _two_visits),
]


@pytest.mark.parametrize("structured, plain, data", IDENTITIES)
def test_structure_equals_its_plain_spelling(structured, plain, data):
    frame = data()
    a, b = ml.fit(structured, frame, method="reml"), ml.fit(plain, frame, method="reml")
    assert a.loglik == pytest.approx(b.loglik, rel=1e-9)
    assert a.df == b.df
    # the two optimizer paths (φ for the structure, θ from a moment start for the plain
    # term) stop at the same criterion to 1e-9; β̂ is flat there to ~1e-6
    np.testing.assert_allclose(a.fixef, b.fixef, rtol=1e-5)


def test_heterogeneous_ar1_extends_the_homogeneous_one(fits):
    het = ml.fit("y ~ arm + visit + ar1(0 + visit | subject, hom = FALSE)", "visits", method="ml")
    assert het.df == fits["ar1_ml"].df + 3
    assert het.loglik >= fits["ar1_ml"].loglik - 1e-8
    res = ml.lrt(fits["ar1_ml"], het)
    assert res.df == 3 and any("ar1(hom = TRUE) is a restriction of ar1" in n for n in res.notes)


def test_printed_fit_names_the_structure(fits):
    text = repr(fits["cs_hom_reml"])
    assert "(cs(hom = TRUE))" in text and "Formula: y ~ arm + visit + cs(0 + visit | subject, hom = TRUE)" in text
    assert "(toep)" in repr(fits["toep_reml"]) and "(us)" not in repr(fits["us_reml"])
