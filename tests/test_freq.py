"""The ML/REML engine's behaviour beyond the reference numbers (tests/test_freq_reference.py):
the deviance function, the factorization backends, warnings and errors, printing,
likelihood-ratio tests, and the light import path."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel as ml
from multilevel.errors import ComparisonError, DataError, FamilyError, SpecError
from multilevel.formula import build_design, model_frame, parse_formula
from multilevel.freq import make_deviance
from multilevel.freq.factor import DENSE_SCHUR_MAX, cholmod_available

SS_RS = "Reaction ~ Days + (Days | Subject)"
BACKENDS = ["block", "splu"] + (["cholmod"] if cholmod_available() else [])


def design_of(formula, data):
    parsed = parse_formula(formula)
    return build_design(parsed, model_frame(parsed, ml.datasets.load(data) if isinstance(data, str) else data))


@pytest.fixture(scope="module")
def ss_reml():
    return ml.fit(SS_RS, "sleepstudy", method="reml")


@pytest.mark.parametrize("formula, data", [
    (SS_RS, "sleepstudy"),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin"),
    ("strength ~ 1 + (1 | batch/cask)", "Pastes"),
    ("y ~ service + (1 + service | s) + (1 | d)", ml.datasets.load("InstEval").iloc[:3000]),
])
@pytest.mark.parametrize("backend", BACKENDS)
def test_backends_agree(formula, data, backend):
    """Every factorization gives the same deviance (block is the reference) at random θ."""
    design = design_of(formula, data)
    rng = np.random.default_rng(7)
    reference = make_deviance(design, reml=True, solver="block")
    dev = make_deviance(design, reml=True, solver=backend)
    lower = design.theta_lower()
    for _ in range(3):
        theta = np.where(np.isfinite(lower), rng.uniform(0, 2, lower.size), rng.normal(0, 0.5, lower.size))
        assert dev(theta) == pytest.approx(reference(theta), rel=1e-11)


def test_sparse_backend_fits_and_condvar_like_block():
    data = "Penicillin"
    formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"
    block = ml.fit(formula, data, method="reml", solver="block")
    sparse = ml.fit(formula, data, method="reml", solver="splu")
    assert sparse.reml_criterion == pytest.approx(block.reml_criterion, rel=1e-12)
    for name, cv in block.ranef_condvar().items():
        np.testing.assert_allclose(sparse.ranef_condvar()[name], cv, rtol=1e-6)
    assert DENSE_SCHUR_MAX >= 1000  # auto keeps InstEval (1142 Schur columns) on the block path


def test_auto_solver_goes_sparse_only_for_nested_rest_terms():
    """Classes in schools in districts: the Schur complement (2,100 columns) has ~3 nonzeros
    per column and stays sparse; two crossed factors fill it in and stay on the block path."""
    from multilevel.freq.factor import SMALL_SCHUR, choose_solver
    from multilevel.freq.layout import Layout

    rng = np.random.default_rng(5)
    cls = np.repeat(np.arange(6000), 2)
    sch = (np.arange(6000) % 2000)[cls]
    nested = pd.DataFrame({"y": rng.normal(size=cls.size), "cls": cls, "sch": sch,
                           "dis": (np.arange(2000) % 100)[sch]})
    layout = Layout.from_design(design_of("y ~ 1 + (1|cls) + (1|sch) + (1|dis)", nested))
    assert layout.Q2 > SMALL_SCHUR and layout.schur_degree < 5
    assert choose_solver(layout) == ("cholmod" if cholmod_available() else "splu")
    crossed = pd.DataFrame({"y": rng.normal(size=12000), "a": np.repeat(np.arange(3000), 4),
                            "b": rng.integers(0, 1600, 12000)})
    layout = Layout.from_design(design_of("y ~ 1 + (1|a) + (1|b)", crossed))
    assert layout.Q2 > SMALL_SCHUR and choose_solver(layout) == "block"


def test_unknown_solver_and_option_are_errors():
    with pytest.raises(SpecError, match="solver='qr' is not valid"):
        ml.fit(SS_RS, "sleepstudy", method="reml", solver="qr")
    with pytest.raises(SpecError, match=r"Unknown option\(s\) \['optimiser'\]"):
        ml.fit(SS_RS, "sleepstudy", method="reml", optimiser="bobyqa")
    with pytest.raises(SpecError, match="nAGQ applies to GLMMs"):
        ml.fit(SS_RS, "sleepstudy", method="ml", nAGQ=5)


def test_deviance_function_profiles_theta(ss_reml):
    dev = ss_reml.deviance_function()
    theta = ss_reml.theta.to_numpy()
    assert dev(theta) == pytest.approx(ss_reml.reml_criterion, rel=1e-12)
    for step in (1e-3, -1e-3):  # the optimum: any move raises the criterion
        assert dev(theta + step) > dev(theta)


def test_fit_result_contract(ss_reml):
    m = ss_reml
    assert m.method == "reml" and m.family == "gaussian" and m.formula == SS_RS
    assert m.converged and "evaluations" in m.optimizer_message
    assert m.vcov.shape == (2, 2) and np.allclose(np.sqrt(np.diag(m.vcov)), m.se)
    cov = m.covariance()["Subject"]
    vc = m.varcorr
    assert cov[0, 0] == pytest.approx(vc["vcov"][0]) and cov[0, 1] == pytest.approx(vc["vcov"][2])
    assert m.ranef["Subject"].shape == (18, 2)
    assert m.ranef_condvar()["Subject"].shape == (18, 2, 2)
    refit = m.refit_ml()
    assert m.df_resid == 180 - 6 and refit.method == "ml" and m.refit_ml() is refit
    assert refit.refit_ml() is refit
    table = m.summary(ci=0.95, ddf=None)          # lme4's table: no df, normal intervals
    assert list(table.columns) == ["estimate", "std_error", "t_value", "lower", "upper"]
    z = stats.norm.ppf(0.975)
    assert table["upper"].iloc[1] == pytest.approx(m.fixef.iloc[1] + z * m.se.iloc[1])
    table = m.summary(ci=0.95)                    # lmerTest's default: Satterthwaite df and p
    assert list(table.columns) == ["estimate", "std_error", "df", "t_value", "p", "lower", "upper"]
    t = stats.t.ppf(0.975, table["df"].iloc[1])
    assert table["upper"].iloc[1] == pytest.approx(m.fixef.iloc[1] + t * m.se.iloc[1])


def test_printed_summary_is_lme4_like(ss_reml):
    text = repr(ss_reml)
    for piece in ["Linear mixed model fit by REML", "REML criterion at convergence: 1743.6",
                  "Scaled residuals:", "Random effects:", "Subject  (Intercept)", "Residual",
                  "Number of obs: 180, groups:  Subject, 18", "Fixed effects:", "Corr"]:
        assert piece in text, piece
    ml_fit = ss_reml.refit_ml()
    assert "AIC" in repr(ml_fit) and "df.resid" in repr(ml_fit)


def test_predict_arguments(ss_reml):
    with pytest.raises(DataError, match="new_groups='new'"):
        ss_reml.predict(new_groups="new")
    with pytest.raises(DataError, match="type='probability'"):
        ss_reml.predict(type="probability")
    link = ss_reml.predict()["estimate"]
    np.testing.assert_allclose(ss_reml.predict(type="response")["estimate"], link)
    with pytest.raises(DataError, match="newdata lacks column 'Days'"):
        ss_reml.predict(pd.DataFrame({"Subject": ["308"]}))


def test_singular_fit_warns_with_the_term():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"y": rng.normal(size=60), "g": np.repeat(list("abcdef"), 10)})
    with pytest.warns(ml.errors.SingularFitWarning, match=r"g: \(Intercept\)"):
        m = ml.fit("y ~ 1 + (1 | g)", frame, method="reml")
    assert m.singular and m.theta.iloc[0] == 0.0
    assert "boundary (singular) fit: g: (Intercept)" in repr(m)


def test_rank_deficient_columns_dropped_with_message():
    data = ml.datasets.load("sleepstudy").assign(Days2=lambda d: 2 * d["Days"])
    with pytest.warns(UserWarning, match="rank deficient so dropping 1 column"):
        m = ml.fit("Reaction ~ Days + Days2 + (1 | Subject)", data, method="reml")
    assert m.fixef.index.tolist() == ["(Intercept)", "Days"]
    assert "dropping 1 column(s): Days2" in repr(m)


def test_non_convergence_is_reported():
    with pytest.warns(ml.errors.ConvergenceWarning, match="did not converge: maximum number of evaluations"):
        m = ml.fit(SS_RS, "sleepstudy", method="reml", maxeval=5)
    assert not m.converged and "optimizer did not converge" in repr(m)


def test_reml_for_a_glmm_is_refused():
    with pytest.raises(FamilyError, match="REML is defined for gaussian models only"):
        ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
               family="binomial", method="reml")
    with pytest.raises(FamilyError, match="'t' is available with method='bayes'"):
        ml.fit(SS_RS, "sleepstudy", family="t", method="ml")


# ------------------------------------------------------------------------- LRT
def test_lrt_boundary_mixture():
    m1 = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="ml")
    m2 = ml.fit(SS_RS, "sleepstudy", method="ml")
    res = ml.lrt(m1, m2)
    assert res.p_boundary == pytest.approx(0.5 * res.p + 0.5 * stats.chi2.sf(res.chisq, 1))
    assert res.p_boundary < res.p and "p_boundary" in res.table and "boundary" in repr(res)
    ols = ml.fit("Reaction ~ Days", "sleepstudy", method="ml")
    res0 = ml.lrt(ols, m1)
    assert res0.df == 1 and res0.p_boundary == pytest.approx(res0.p / 2)
    # the order of the arguments does not matter: anova() sorts by npar
    assert ml.lrt(m2, m1).chisq == pytest.approx(res.chisq)
    # adding a correlation only: not a boundary
    uncorr = ml.fit("Reaction ~ Days + (Days || Subject)", "sleepstudy", method="ml")
    assert ml.lrt(uncorr, m2).p_boundary is None


def test_lrt_errors():
    data = ml.datasets.load("sleepstudy")
    m1 = ml.fit("Reaction ~ Days + (1 | Subject)", data, method="ml")
    other = ml.fit("Reaction ~ Days + (1 | Subject)", data.iloc[:170], method="ml")
    with pytest.raises(ComparisonError, match="different rows"):
        ml.lrt(m1, other)
    same = ml.lrt(m1, m1)   # lme4's anova(m1, m1): Chisq 0, Df 0, no p-value
    assert (same.chisq, same.df) == (0.0, 0) and np.isnan(same.p)
    assert "the same number of parameters (4)" in same.notes[-1]
    shifted = ml.fit("I(Reaction + 1) ~ Days + (Days | Subject)", data, method="ml")
    with pytest.raises(ComparisonError, match="different responses"):
        ml.lrt(m1, shifted)
    fixed = ml.fit("Reaction ~ 1 + (Days | Subject)", data, method="ml")
    with pytest.raises(ComparisonError, match=r"not nested: fixed effect\(s\) Days"):
        ml.lrt(m1, fixed)
    cake = ml.datasets.load("cake")
    with warnings.catch_warnings():  # recipe's variance is estimated as 0 (singular)
        warnings.simplefilter("ignore", ml.errors.SingularFitWarning)
        a = ml.fit("angle ~ temp + (1 | recipe)", cake, method="ml")
        b = ml.fit("angle ~ temp + (1 | replicate) + (1 | recipe:replicate)", cake, method="ml")
    with pytest.raises(ComparisonError, match=r"\(1 \| recipe\) is not within a term"):
        ml.lrt(a, b)
    cbpp = ml.datasets.load("cbpp")
    binom = ml.fit("cbind(incidence, size - incidence) ~ 1 + (1 | herd)", cbpp, family="binomial",
                   method="ml")
    pois = ml.fit("incidence ~ period + (1 | herd)", cbpp, family="poisson", method="ml")
    with pytest.raises(ComparisonError, match="different families"):
        ml.lrt(binom, pois)
    with pytest.raises(ComparisonError, match="frequentist fits"):
        ml.lrt(m1, object())


def test_reml_path_does_not_import_pymc():
    code = ("import sys, multilevel as ml; ml.fit('Reaction ~ Days + (Days | Subject)', 'sleepstudy', "
            "method='reml'); ml.fit('cbind(incidence, size - incidence) ~ period + (1 | herd)', 'cbpp', "
            "family='binomial', method='ml'); ml.fit('mpg ~ wt', 'mtcars', method='ml'); "
            "print(sorted(m for m in ('pymc', 'bambi', 'arviz', 'pytensor') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_inside_the_deviance_reaches_the_caller_as_itself(error):
    # Ctrl-C arrives as a KeyboardInterrupt raised inside the deviance, whichever evaluation
    # it hits; raised across nlopt's C frames it came back as a SystemError on some of them
    from multilevel.freq.optimize import bobyqa

    evaluations = bobyqa(lambda x: float((x[0] - 0.3) ** 2 + 1), np.array([1.0]),
                         np.array([0.0])).evaluations
    for stop_at in range(1, evaluations + 1):
        count = [0]

        def deviance(x):
            count[0] += 1
            if count[0] == stop_at:
                raise error()
            return float((x[0] - 0.3) ** 2 + 1)

        with pytest.raises(error):
            bobyqa(deviance, np.array([1.0]), np.array([0.0]))
        assert count[0] == stop_at
