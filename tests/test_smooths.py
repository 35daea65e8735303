"""Penalized smooths s(x) as mixed-model terms (issue 21), against mgcv's gamm.

References: tests/reference/make_smooths.R → smooths.json (mgcv 1.8-41 gamm, REML).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, FormulaError
from multilevel.formula import parse_formula
from multilevel.formula.smooths import CRBasis, build_smooth, parse_smooth

REF = json.loads((Path(__file__).parent / "reference" / "smooths.json").read_text())

# key: (formula, data set, smooth's variable)
CASES = {
    "mcycle_cr": ('accel ~ s(times, bs = "cr")', "mcycle", "times"),
    "mcycle_tp": ("accel ~ s(times)", "mcycle", "times"),
    "grouseticks_cr": ('log1p(TICKS) ~ s(HEIGHT, bs = "cr") + (1 | BROOD)', "grouseticks", "HEIGHT"),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def fitted(request):
    formula, data, var = CASES[request.param]
    return request.param, ml.fit(formula, data, method="reml"), var


def test_reml_equals_gamm(fitted):
    """σ, the smoothing variance (on mgcv's penalty scale), the group variance, the REML
    log-likelihood, fitted values and predictions on new x (beyond the data too) at 1e-4."""
    key, fit, var = fitted
    ref = REF[key]
    vc = fit.varcorr.set_index("grp")["vcov"]
    assert fit.sigma == pytest.approx(ref["sigma"], rel=1e-6)
    assert fit.loglik == pytest.approx(ref["reml_loglik"], rel=1e-8)
    assert vc[f"s({var})"] == pytest.approx(ref["smooth_variance"], rel=1e-4)
    if "group_variance" in ref:
        assert vc["BROOD"] == pytest.approx(ref["group_variance"], rel=1e-4)
    scale = np.abs(ref["fitted"]).max()
    np.testing.assert_allclose(fit.predict(group_effects=False)["estimate"], ref["fitted"],
                               atol=1e-4 * scale)
    new = pd.DataFrame({var: ref["grid"]})
    np.testing.assert_allclose(fit.predict(new, group_effects=False)["estimate"], ref["predicted"],
                               atol=1e-4 * scale)


def test_cr_basis_is_mgcvs():
    """Values at the knots are the coefficients (a cardinal basis), f'' = 0 at the ends
    and linear beyond them; the penalty annihilates exactly the linear functions."""
    x = np.linspace(0.0, 10.0, 101)
    basis, S = CRBasis.construct(x, 6)
    np.testing.assert_allclose(basis.matrix(basis.knots), np.eye(6), atol=1e-12)
    w = np.linalg.eigvalsh(S)
    assert np.sum(np.abs(w) < 1e-9 * w.max()) == 2
    np.testing.assert_allclose(S @ np.ones(6), 0, atol=1e-10)
    np.testing.assert_allclose(S @ basis.knots, 0, atol=1e-9)
    beta = np.random.default_rng(1).standard_normal(6)
    out = basis.matrix(np.array([-2.0, -1.0, 0.0])) @ beta
    assert out[1] - out[0] == pytest.approx(out[2] - out[1], rel=1e-10)


def test_smooth_parts_and_names():
    d = ml.datasets.load("mcycle")
    sm = build_smooth(parse_smooth("s(times, k = 8)"), d)
    Xf, Xr = sm.fixed_matrix(d), sm.random_matrix(d)
    assert Xf.shape == (133, 1) and Xr.shape == (133, 6)
    np.testing.assert_allclose(Xf.mean(0), 0, atol=1e-10)   # the sum-to-zero constraint
    np.testing.assert_allclose(Xr.mean(0), 0, atol=1e-10)
    assert sm.fixed_names == ["s(times)Fx1"]


def test_parsing_and_errors():
    f = parse_formula('y ~ x + s(z, k = 12, bs = "cr") + (1 | g)')
    assert f.fixed == "x" and [(s.var, s.k, s.bs) for s in f.smooths] == [("z", 12, "cr")]
    assert parse_formula("y ~ (1 | s)").bars[0].group == "s"     # a column called s stays a group
    for bad, message in (("y ~ s(x, bs = 'ps')", "not available"), ("y ~ s(x, z)", "second variable"),
                         ("y ~ s(x, k = 2)", "at least 3"), ("y ~ s(log(x))", "one column"),
                         ("y ~ s(x, m = 2)", "unknown argument")):
        with pytest.raises(FormulaError, match=message):
            parse_formula(bad)
    d = pd.DataFrame({"y": np.arange(6.0), "x": [1.0, 2, 3, 1, 2, 3]})
    with pytest.raises(DataError, match="distinct values"):
        ml.fit("y ~ s(x)", d, method="reml")
    d["x"] = list("abcabc")
    with pytest.raises(DataError, match="numeric"):
        ml.fit("y ~ s(x)", d, method="reml")


def test_curve_and_band_equal_plot_gam(fitted):
    """ml.plots.smooth_curve: the smooth's centred contribution and its SE equal mgcv's
    predict(type = "terms", se.fit = TRUE) (the band plot.gam draws)."""
    key, fit, var = fitted
    ref = REF[key]
    curve = ml.plots.smooth_curve(fit, f"s({var})", x=ref["grid"], ci=0.95)
    scale = np.abs(ref["term_fit"]).max()
    np.testing.assert_allclose(curve["estimate"], ref["term_fit"], atol=1e-4 * scale)
    se = (curve["upper"] - curve["estimate"]) / 1.959963984540054
    np.testing.assert_allclose(se, ref["term_se"], rtol=1e-4)


def test_smooth_plot_draws():
    fit = ml.fit('accel ~ s(times, bs = "cr")', "mcycle", method="reml")
    fig = ml.plots.smooth(fit)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "times" and ax.get_ylabel() == "s(times)"
    assert len(ax.collections) == 2          # the band and the partial residuals
    with pytest.raises(DataError, match="no smooth"):
        ml.plots.smooth(ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml"))


@pytest.fixture(scope="module")
def bayes_smooth():
    rng = np.random.default_rng(7)
    x = np.sort(rng.uniform(0, 1, 200))
    data = pd.DataFrame({"x": x, "y": np.sin(2 * np.pi * x) + 0.3 * rng.standard_normal(200)})
    fit = ml.fit('y ~ s(x, bs = "cr")', data, draws=1500, tune=700, chains=2, seed=3, target_accept=0.95,
                 progress=False)
    return fit, data


@pytest.mark.slow
def test_bayes_smooth_covers_the_truth(bayes_smooth):
    """The smooth's 95 % band covers the true function (centred over the data, as the
    smooth is) at >= 90 % of 50 grid points (0.92 with this seed); R-hat <= 1.01; σ covered."""
    fit, data = bayes_smooth
    table = fit.summary(ci=0.95)
    assert table["r_hat"].max() <= 1.01
    assert table.loc["sigma", "lower"] < 0.3 < table.loc["sigma", "upper"]
    grid = np.linspace(0, 1, 50)
    truth = np.sin(2 * np.pi * grid) - np.sin(2 * np.pi * data["x"]).mean()
    curve = ml.plots.smooth_curve(fit, "s(x)", x=grid)
    covered = np.mean((curve["lower"] <= truth) & (truth <= curve["upper"]))
    assert covered >= 0.9
    # predictions on new x include the smooth (with or without group effects: it has none)
    pred = fit.predict(pd.DataFrame({"x": grid}))["estimate"].to_numpy()
    assert np.max(np.abs(pred - np.sin(2 * np.pi * grid))) < 0.25
    assert "log_likelihood" in fit.idata.children
    from multilevel.report.content import prior_table

    priors = prior_table(fit).set_index("parameter")["prior"]
    assert priors["sd__s(x)|s(x)"].startswith("HalfStudentT(nu: 3")


def test_report_draws_the_smooth(tmp_path):
    fit = ml.fit('accel ~ s(times, bs = "cr")', "mcycle", method="reml")
    fit.report(tmp_path / "report")
    assert (tmp_path / "report" / "smooth-times.png").exists()
    assert "s(times)" in (tmp_path / "report" / "report.md").read_text()
