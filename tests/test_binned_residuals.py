"""``ml.binned_residuals`` against performance 0.10.2's ``binned_residuals`` on glm and
glmer fits of 0/1 responses (``tests/reference/make_binned_residuals.R`` writes
``binned_residuals.json``): binned by the fitted probabilities (default √n bins, and a
given count) and by a predictor, for two GLMs, a simulated Bernoulli GLMM (900 rows, 40
groups) and VerbAgg's 7,584 rows with crossed subject and item effects (binned by Anger:
its fitted probabilities tie across respondents, and a tie at a break that the two
optimizers order differently in the 7th decimal moves a row between bins). Every bin's
mean fitted value, mean residual, count, range, bounds and verdict, and the share of
bins inside.

Tolerances: GLMs 1e-6 (R's IRLS stops at a relative change of 1e-8); the GLMM 1e-5 (its
fitted probabilities agree with lme4's to ~1e-7), and the bins hold the same rows.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, FamilyError

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "binned_residuals.json").read_text())


@functools.cache
def fitted(name: str):
    spec = REF["models"][name]
    data = (pd.read_csv(HERE / spec["data"]) if spec["data"].endswith(".csv")
            else ml.datasets.load(spec["data"]))
    if name == "verbagg":
        data = data.assign(y=(data["r2"] == "Y").astype(int))
    kw = {"optimizer": "bobyqa"} if "(" in spec["formula"] else {}   # GLMMs: to the optimum
    return ml.fit(spec["formula"], data, family="bernoulli", method="ml", **kw)


@pytest.mark.parametrize("case", REF["cases"], ids=[c["id"] for c in REF["cases"]])
def test_binned_residuals_as_performance(case):
    args = case["args"] or {}   # jsonlite writes an empty list for R's list()
    table = ml.binned_residuals(fitted(case["model"]), **args)
    ref = case["table"]
    tol = 1e-6 if case["model"].startswith("cars") else 1e-5
    assert len(table) == len(ref["xbar"])
    np.testing.assert_array_equal(table["n"], ref["n"])
    for col in ("xbar", "ybar", "x_lo", "x_hi", "se", "ci_low", "ci_high"):
        np.testing.assert_allclose(table[col], ref[col], rtol=tol, atol=tol, err_msg=col)
    assert table["inside"].tolist() == ref["inside"]
    assert table.attrs["share_inside"] == pytest.approx(case["share_inside"])


def test_refusals_name_the_fix():
    counts = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
                    family="binomial", method="ml")
    with pytest.raises(FamilyError, match="one trial per row"):
        ml.binned_residuals(counts)
    with pytest.raises(FamilyError, match="0/1 response"):
        ml.binned_residuals(ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml"))
    with pytest.raises(DataError, match="takes a fit from ml.fit"):
        ml.binned_residuals(None)
    cars = fitted("cars")
    with pytest.raises(DataError, match="not a column"):
        ml.binned_residuals(cars, term="nope")
    with pytest.raises(DataError, match="n_bins"):
        ml.binned_residuals(cars, n_bins=0)


def test_a_well_specified_model_has_most_bins_inside():
    """Simulated from the fitted model's own form: about 95 % of bins inside."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=4000)
    data = pd.DataFrame({"x": x, "y": rng.binomial(1, 1 / (1 + np.exp(-(0.3 + 1.2 * x))))})
    table = ml.binned_residuals(ml.fit("y ~ x", data, family="bernoulli", method="ml"))
    assert len(table) == 63 and table.attrs["share_inside"] >= 0.85


@pytest.mark.slow
def test_a_bayesian_fit_is_binned_by_its_posterior_mean_probability(bayes_small):
    data = pd.read_csv(HERE / "binned_residuals_sim.csv")
    fit = ml.fit("y ~ x + (1 | g)", data, family="bernoulli", **{**bayes_small, "draws": 500, "tune": 500})
    table = ml.binned_residuals(fit, n_bins=12)
    p = fit.fitted()["estimate"].to_numpy()
    assert table["n"].sum() == len(data) and len(table) == 12
    order = np.argsort(p, kind="stable")
    first = order[: table["n"].iloc[0]]
    assert table["xbar"].iloc[0] == pytest.approx(p[first].mean())
    assert table["ybar"].iloc[0] == pytest.approx((data["y"].to_numpy()[first] - p[first]).mean())
    assert table.attrs["share_inside"] >= 0.75
