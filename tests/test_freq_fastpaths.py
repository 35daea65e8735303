"""The REML/ML speed paths give the general path's criteria (issue 24).

The augmented-system deviances (:mod:`multilevel.freq.augmented`), glmer's dense PIRLS
steps and the moment start for large scalar-term designs are checked against the
general path (:func:`~multilevel.freq.deviance.solve_pls`, the block factorization) at
several θ, and the fitted criteria against those of the code before them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.blas import single_blas_thread
from multilevel.formula import build_design, model_frame, parse_formula
from multilevel.freq.augmented import DenseDeviance, ScalarSchurDeviance, fast_path
from multilevel.freq.deviance import criterion, make_deviance
from multilevel.freq.glmm import LaplaceProblem
from multilevel.freq.layout import Layout
from multilevel.freq.optimize import moment_start


def design_of(formula: str, data, **frame_options):
    parsed = parse_formula(formula)
    return build_design(parsed, model_frame(parsed, data, **frame_options))


@pytest.fixture(scope="module")
def insteval_8000():
    return ml.datasets.load("InstEval").iloc[:8000]


@pytest.fixture
def one_blas_thread():
    with single_blas_thread():
        yield


def random_thetas(design, k: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    lower = design.theta_lower()
    out = [design.theta_start(), np.where(np.isfinite(lower), 0.0, 0.0)]
    for _ in range(k):
        draw = rng.normal(scale=0.8, size=lower.size)
        out.append(np.where(np.isfinite(lower), np.abs(draw), draw))
    return out


def relative_gap(fast, general, thetas) -> float:
    return max(abs(fast(th) - general(th)) / abs(general(th)) for th in thetas)


@pytest.mark.parametrize("formula,data,weights", [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", None),
    ("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", "sleepstudy", None),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", None),
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "w"),
])
@pytest.mark.parametrize("reml", [True, False])
def test_dense_augmented_deviance_equals_the_general_path(formula, data, weights, reml):
    frame = ml.datasets.load(data)
    if weights:
        frame = frame.assign(w=np.linspace(0.5, 2.0, len(frame)))
    design = design_of(formula, frame, weights=weights)
    fast, general = make_deviance(design, reml=reml), make_deviance(design, reml=reml, solver="block")
    layout = Layout.from_design(design)
    assert isinstance(fast_path(layout, layout.crossproducts(layout.weights)), DenseDeviance)
    assert relative_gap(fast, general, random_thetas(design)) < 1e-11


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.usefixtures("one_blas_thread")
def test_scalar_schur_deviance_equals_the_general_path(insteval_8000, reml):
    for formula in ("y ~ service + (1|s) + (1|d) + (1|dept)", "y ~ 1 + (1|s) + (1|d)"):
        design = design_of(formula, insteval_8000.iloc[:3000])
        layout = Layout.from_design(design)
        schur = ScalarSchurDeviance(layout, layout.crossproducts())
        general = make_deviance(design, reml=reml, solver="block")

        def fast(theta):
            return criterion(*schur.terms(theta)[:2], 0.0, schur.terms(theta)[2], layout.n, layout.p, reml)

        assert relative_gap(fast, general, random_thetas(design, k=3)) < 1e-11


def test_auto_picks_the_fast_paths_only_where_they_apply(insteval_8000):
    def path(formula, data, solver="auto"):
        layout = Layout.from_design(design_of(formula, data))
        return type(fast_path(layout, layout.crossproducts(), solver)).__name__

    assert path("diameter ~ 1 + (1 | plate) + (1 | sample)", ml.datasets.load("Penicillin")) == "DenseDeviance"
    assert path("diameter ~ 1 + (1 | plate) + (1 | sample)", ml.datasets.load("Penicillin"), "block") == "NoneType"
    assert path("y ~ service + (1|s) + (1|d) + (1|dept)", insteval_8000) == "ScalarSchurDeviance"
    assert path("y ~ service + (1 + service | d) + (1 | s)", insteval_8000) == "NoneType"  # vector term


# Criteria of the code before the fast paths (commit f0cd169), rounded nowhere.
BEFORE = [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "reml", "gaussian", 1743.6282719584906),
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "ml", "gaussian", 1751.9393444631978),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", "reml", "gaussian", 330.8605889910863),
    ("y ~ service + (1|s) + (1|d) + (1|dept)", "InstEval_8000", "reml", "gaussian", 26467.223084177647),
    ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "ml", "binomial",
     184.05313277894942),
    ("TICKS ~ YEAR + (1|INDEX) + (1|BROOD) + (1|LOCATION)", "grouseticks", "ml", "poisson",
     1815.2845173485027),
]


@pytest.mark.parametrize("formula,data,method,family,criterion", BEFORE)
def test_fitted_criteria_unchanged(formula, data, method, family, criterion, insteval_8000):
    frame = insteval_8000 if data == "InstEval_8000" else ml.datasets.load(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.fit(formula, frame, method=method, family=family)
    ours = m.reml_criterion if m.reml_criterion is not None else -2 * m.loglik
    assert ours == pytest.approx(criterion, rel=1e-9, abs=0)


def test_moment_start_is_near_the_optimum_and_reaches_the_same_criterion(insteval_8000):
    design = design_of("y ~ service + (1|s) + (1|d) + (1|dept)", insteval_8000)
    start = moment_start(design)
    m = ml.fit("y ~ service + (1|s) + (1|d) + (1|dept)", insteval_8000, method="reml")
    np.testing.assert_allclose(start, m.theta.to_numpy(), atol=0.05)   # a start, not an estimate
    from multilevel.freq.optimize import minimize_theta

    with single_blas_thread():   # as the fit runs it (two BLAS threads on a shared machine crawl)
        lme4_start = minimize_theta(make_deviance(design), design.theta_start(), design.theta_lower())
    assert m.reml_criterion == pytest.approx(lme4_start.deviance, rel=1e-12)
    assert m.opt.evaluations < lme4_start.evaluations
    # small designs and vector terms keep lme4's start (and its optimizer path)
    assert moment_start(design_of("diameter ~ 1 + (1 | plate) + (1 | sample)",
                                  ml.datasets.load("Penicillin"))) is None
    assert moment_start(design_of("y ~ service + (1 + service | d) + (1 | s)", insteval_8000)) is None


@pytest.mark.parametrize("joint", [True, False])
def test_glmer_dense_pirls_equals_the_block_path(joint):
    design = design_of("cbind(incidence, size - incidence) ~ period + (1 | herd)", ml.datasets.load("cbpp"),
                       family="binomial")
    dense = LaplaceProblem(design, "binomial")
    general = LaplaceProblem(design, "binomial", solver="block")
    assert dense.Zd is not None and general.Zd is None
    lp0 = dense.family.start(dense.y, dense.n)
    beta = None if joint else np.array([-1.4, -1.0, -1.1, -1.6])
    for theta in ([0.64], [0.2], [1.5], [0.0]):
        a = dense.glmer_pirls(theta, lp0, beta)
        b = general.glmer_pirls(theta, lp0, beta)
        assert a.deviance == pytest.approx(b.deviance, rel=1e-11)
        np.testing.assert_allclose(a.u, b.u, rtol=1e-8, atol=1e-10)
        if joint:
            np.testing.assert_allclose(a.beta, b.beta, rtol=1e-8)
            np.testing.assert_allclose(a.RXtRX, b.RXtRX, rtol=1e-9, atol=1e-12 * np.abs(b.RXtRX).max())


def test_glmer_scalar_schur_pirls_equals_the_block_path():
    design = design_of("TICKS ~ YEAR + (1|INDEX) + (1|BROOD) + (1|LOCATION)", ml.datasets.load("grouseticks"),
                       family="poisson")
    fast = LaplaceProblem(design, "poisson")
    general = LaplaceProblem(design, "poisson", solver="block")
    assert fast.Zd is None and fast.schur is not None and general.schur is None
    lp0 = fast.family.start(fast.y, fast.n)
    for beta in (None, np.array([0.5, 1.2, -1.0])):
        for theta in ([0.5, 1.0, 0.7], [0.0, 0.3, 1.2], [1.0, 1.0, 1.0]):
            with single_blas_thread():
                a, b = fast.glmer_pirls(theta, lp0, beta), general.glmer_pirls(theta, lp0, beta)
            assert a.deviance == pytest.approx(b.deviance, rel=1e-12)
            np.testing.assert_allclose(a.u, b.u, rtol=1e-8, atol=1e-11)
            if beta is None:
                np.testing.assert_allclose(a.beta, b.beta, rtol=1e-9)
                np.testing.assert_allclose(a.RXtRX, b.RXtRX, rtol=1e-9, atol=1e-12 * np.abs(b.RXtRX).max())


def test_glmer_scalar_schur_pirls_with_nothing_left_but_z():
    """(x || g): the second term (slope) has g's levels too, so both blocks are eliminated in
    closed form and a β-fixed step has no dense unknowns left."""
    rng = np.random.default_rng(0)
    g = rng.integers(0, 120, 2000)
    x = rng.normal(size=2000)
    yb = (rng.random(2000) < 1 / (1 + np.exp(-(0.3 * x + rng.normal(size=120)[g])))).astype(int)
    design = design_of("yb ~ x + (x || g)", pd.DataFrame({"yb": yb, "x": x, "g": g}), family="bernoulli")
    fast, general = LaplaceProblem(design, "bernoulli"), LaplaceProblem(design, "bernoulli", solver="block")
    assert fast.schur is not None and fast.schur.n2 == 120
    lp0 = fast.family.start(fast.y, fast.n)
    with single_blas_thread():
        for beta in (None, np.array([0.1, 0.3])):
            a, b = fast.glmer_pirls([0.8, 0.4], lp0, beta), general.glmer_pirls([0.8, 0.4], lp0, beta)
            assert a.deviance == pytest.approx(b.deviance, rel=1e-12)
            np.testing.assert_allclose(a.u, b.u, rtol=1e-8, atol=1e-11)
