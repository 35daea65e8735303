"""ml.predictions / comparisons / slopes on REML/ML fits against an independent delta-method
computation with analytic Jacobians (1e-6), and against emmeans where the two agree
(a balanced design averaged at the population level)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import multilevel as ml
from multilevel.effects import comparisons, datagrid, predictions, slopes
from multilevel.errors import DataError

HERE = Path(__file__).parent
REF = json.loads((HERE / "reference" / "effects.json").read_text())
TOL = 1e-6


@pytest.fixture(scope="module")
def bern():
    """A bernoulli GLMM with two numeric predictors and a random slope."""
    data = pd.read_csv(HERE / "reference" / "slopes.csv")
    data["g"] = data["g"].astype("category")
    return ml.fit("yb ~ x + z + (x | g)", data, family="bernoulli", method="ml")


@pytest.fixture(scope="module")
def cbpp():
    return ml.fit(REF["cbpp"]["formula"], "cbpp", family="binomial", method="ml", optimizer="bobyqa")


@pytest.fixture(scope="module")
def cake():
    return ml.fit(REF["cake"]["formula"], "cake", method="reml")


def parts(fit, data, group_effects=True):
    """X and the group part of η, computed without multilevel.effects."""
    X = fit.design.spec.fixed_X(data)
    eta = fit.linear_predictor(data, group_effects=group_effects)
    return X, eta - X @ fit.fixef.to_numpy()


def delta(J, V):
    return np.sqrt(np.einsum("ij,jk,ik->i", J, V, J))


def close(ours, theirs, tol=TOL):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=tol, atol=tol * 1e-3)


def by_groups(values, keys):
    """Row means of ``values`` (rows x p or rows) within sorted groups of ``keys``."""
    keys = np.asarray(keys).astype(str)
    return np.array([values[keys == k].mean(axis=0) for k in sorted(set(keys))])


@pytest.mark.parametrize("group_effects", [True, False])
def test_predictions_by_group(cbpp, group_effects):
    data = cbpp.design.frame.data
    X, o = parts(cbpp, data, group_effects)
    p = special.expit(X @ cbpp.fixef.to_numpy() + o)
    est = by_groups(p, data["period"])
    J = by_groups(p[:, None] * (1 - p[:, None]) * X, data["period"])
    out = predictions(cbpp, by="period", group_effects=group_effects)
    assert out["period"].astype(str).tolist() == ["1", "2", "3", "4"]
    close(out["estimate"], est)
    close(out["std_error"], delta(J, cbpp.vcov.to_numpy()))
    z = stats.norm.ppf(0.975)
    close(out["lower"], est - z * out["std_error"])
    close(out["p_value"], 2 * stats.norm.sf(est / out["std_error"]))


def test_unit_level_predictions_on_a_grid(cbpp):
    grid = datagrid(cbpp, period=["1", "4"], herd=["1", "7"])
    assert len(grid) == 4
    out = predictions(cbpp, newdata=grid)
    X, o = parts(cbpp, grid)
    eta = X @ cbpp.fixef.to_numpy() + o
    close(out["estimate"], special.expit(eta))
    link = predictions(cbpp, newdata=grid, type="link")
    close(link["std_error"], delta(X, cbpp.vcov.to_numpy()))


@pytest.mark.parametrize("comparison", ["difference", "ratio", "lnor", "ratioavg"])
def test_factor_comparisons(cbpp, comparison):
    data = cbpp.design.frame.data.reset_index(drop=True)
    beta, V = cbpp.fixef.to_numpy(), cbpp.vcov.to_numpy()
    out = comparisons(cbpp, "period", comparison=comparison, by=True)
    assert out["contrast"].tolist() == ["2 - 1", "3 - 1", "4 - 1"]
    for row, level in zip(out.itertuples(), ["2", "3", "4"]):
        lo, hi = data.copy(), data.copy()
        lo["period"] = pd.Categorical(["1"] * len(data), categories=data["period"].cat.categories)
        hi["period"] = pd.Categorical([level] * len(data), categories=data["period"].cat.categories)
        (Xl, ol), (Xh, oh) = parts(cbpp, lo), parts(cbpp, hi)
        pl, ph = special.expit(Xl @ beta + ol), special.expit(Xh @ beta + oh)
        dl, dh = (pl * (1 - pl))[:, None] * Xl, (ph * (1 - ph))[:, None] * Xh
        if comparison == "difference":
            est, J = np.mean(ph - pl), (dh - dl).mean(0)
        elif comparison == "ratio":
            est, J = np.mean(ph / pl), ((dh * pl[:, None] - dl * ph[:, None]) / pl[:, None] ** 2).mean(0)
        elif comparison == "lnor":
            est, J = np.mean(special.logit(ph) - special.logit(pl)), (Xh - Xl).mean(0)
        else:
            est = ph.mean() / pl.mean()
            J = (dh.mean(0) * pl.mean() - dl.mean(0) * ph.mean()) / pl.mean() ** 2
        close(row.estimate, est)
        close(row.std_error, delta(J[None], V)[0])


@pytest.mark.parametrize("numderiv", ["fdforward", "fdcenter"])
def test_slopes_by_group_against_analytic_jacobian(bern, numderiv):
    data = bern.design.frame.data.reset_index(drop=True)
    beta, V = bern.fixef.to_numpy(), bern.vcov.to_numpy()
    eps = 1e-4 * (data["x"].max() - data["x"].min())
    lo, hi = data.copy(), data.copy()
    if numderiv == "fdforward":
        hi["x"] = data["x"] + eps
    else:
        lo["x"], hi["x"] = data["x"] - eps / 2, data["x"] + eps / 2
    (Xl, ol), (Xh, oh) = parts(bern, lo), parts(bern, hi)
    pl, ph = special.expit(Xl @ beta + ol), special.expit(Xh @ beta + oh)
    unit = (ph - pl) / eps
    J = ((ph * (1 - ph))[:, None] * Xh - (pl * (1 - pl))[:, None] * Xl) / eps
    keys = np.where(data["z"] > 0, "pos", "neg")
    out = slopes(bern, "x", by="zpos", newdata=data.assign(zpos=keys), numderiv=numderiv)
    close(out["estimate"], by_groups(unit, keys))
    close(out["std_error"], delta(by_groups(J, keys), V))
    # and the derivative itself: dp/dx = p(1 - p)(β_x + b_x), to the finite difference's accuracy
    X, o = parts(bern, data)
    p = special.expit(X @ beta + o)
    slope_re = bern.ranef["g"]["x"].to_numpy()[bern.design.reterms[0].codes]
    exact = by_groups(p * (1 - p) * (beta[1] + slope_re), keys)
    close(out["estimate"], exact, tol=1e-3 if numderiv == "fdforward" else 1e-6)


def test_elasticity(bern):
    data = bern.design.frame.data.reset_index(drop=True)
    d = slopes(bern, "z", by=True, slope="dydx", newdata=data.iloc[:5])
    unit = slopes(bern, "z", newdata=data.iloc[:5], slope="eyex")
    pred = predictions(bern, newdata=data.iloc[:5])
    dydx = slopes(bern, "z", newdata=data.iloc[:5])
    close(unit["estimate"], dydx["estimate"] * data["z"].iloc[:5].to_numpy() / pred["estimate"], tol=1e-4)
    close(d["estimate"], dydx["estimate"].mean())


def test_lmm_averages_equal_emmeans_on_a_balanced_design(cake):
    """Averaging the population-level predictions of the balanced cake data by recipe gives
    emmeans' marginal means (asymptotic SEs, from R)."""
    out = predictions(cake, by="recipe", group_effects=False)
    ref = REF["cake"]["asymptotic"]["recipe"]
    close(out["estimate"], ref["estimate"], 1e-8)
    close(out["std_error"], ref["SE"], 1e-6)
    diff = comparisons(cake, {"recipe": "pairwise"}, by=True, group_effects=False)
    pair = REF["cake"]["asymptotic"]["recipe_pairwise_none"]
    # emmeans' "A - B" is our "B - A" with the sign flipped
    close(-diff["estimate"], pair["estimate"], 1e-8)
    close(diff["std_error"], pair["SE"], 1e-6)


def test_lmm_slope_is_the_coefficient():
    m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    out = slopes(m, "Days", by=True, group_effects=False)
    close(out["estimate"], m.fixef["Days"])
    # the SE's Jacobian is a central difference (step 1e-6 |β|) of a forward difference
    # quotient (step 1e-4 × the range): its rounding is ~1e-6 relative, and moves with
    # the CPU's SIMD paths (1.04e-6 on an AVX-512 machine)
    close(out["std_error"], m.se["Days"], tol=1e-5)
    step = comparisons(m, {"Days": 2}, by=True)
    close(step["estimate"], 2 * m.fixef["Days"])


def test_datagrid_defaults(cake):
    grid = datagrid(cake, temperature=["175", "225"])
    assert list(grid.columns) == ["recipe", "temperature", "replicate"]
    assert grid["recipe"].astype(str).tolist() == ["A", "A"]  # balanced: the first most frequent
    assert isinstance(grid["temperature"].dtype, pd.CategoricalDtype)
    m = ml.fit("angle ~ temp + (1 | replicate)", "cake", method="reml")
    assert datagrid(m)["temp"].iloc[0] == pytest.approx(cake.design.frame.data["temperature"].astype(int).mean())


@pytest.mark.parametrize("call, match", [
    (lambda f: datagrid(f, nope=1), "nope"),
    (lambda f: datagrid(f, recipe="Z"), "level"),
    (lambda f: predictions(f, by="nope"), "nope"),
    (lambda f: predictions(f, type="prob"), "type"),
    (lambda f: predictions(f, ci=95), "ci"),
    (lambda f: comparisons(f, "angle"), "angle"),
    (lambda f: comparisons(f, "recipe", comparison="odds"), "comparison"),
    (lambda f: comparisons(f, {"recipe": "all"}), "recipe"),
    (lambda f: slopes(f, "recipe"), "factor"),
    (lambda f: predictions(f, newdata={"recipe": "A"}), "DataFrame"),
])
def test_bad_input(cake, call, match):
    with pytest.raises(DataError, match=match):
        call(cake)
