"""lme4's ``fitted()``, ``residuals(type, scaled)`` and ``coef()`` (and R's for ``lm``/``glm``).

References: ``tests/reference/accessors.json`` from ``make_accessors.R`` (R 4.2.2, lme4
1.1-31): a correlated and an uncorrelated slope, a slope without its fixed effect (its
coefficient counts the fixed effect as 0, first), prior weights (Pearson residuals
√w (y − μ)), nested factors, a binomial and a Poisson GLMM with every residual type, an
``lm`` and a binomial ``glm``. Tolerances: lme4's optimum to ~1e-5 on these scales.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import SpecError

REF = json.loads((Path(__file__).parent / "reference" / "accessors.json").read_text())


@pytest.fixture(scope="module")
def fits():
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, ref in REF.items():
            data, options = ml.datasets.load(ref["data"]), {}
            if ref.get("weights"):
                data = data.assign(w=np.resize([1, 2, 0.5], len(data)))
                options["weights"] = "w"
            family = ref["family"]
            method = "reml" if family == "gaussian" else "ml"
            out[key] = ml.fit(ref["formula"], data, family=family, method=method, **options)
    return out


@pytest.mark.parametrize("key", sorted(REF))
def test_fitted_and_residuals_match_r(fits, key):
    ref, fit = REF[key], fits[key]
    np.testing.assert_allclose(fit.fitted(), ref["fitted"], rtol=1e-6, atol=1e-4)
    for kind, values in ref["residuals"].items():
        np.testing.assert_allclose(fit.residuals(kind), values, rtol=1e-5, atol=1e-4, err_msg=kind)
    default = next(iter(ref["residuals"]))   # R's default type first
    np.testing.assert_allclose(fit.residuals(), ref["residuals"][default], rtol=1e-5, atol=1e-4)
    if "scaled" in ref:
        np.testing.assert_allclose(fit.residuals(scaled=True), ref["scaled"], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("key", sorted(k for k in REF if "levels" in next(iter(REF[k]["coef"].values()))
                                       if isinstance(next(iter(REF[k]["coef"].values())), dict)))
def test_coef_matches_lme4(fits, key):
    ours = fits[key].coef()
    assert list(ours) == list(REF[key]["coef"])
    for group, ref in REF[key]["coef"].items():
        columns = ref["columns"] if isinstance(ref["columns"], list) else [ref["columns"]]
        table = ours[group]
        assert list(table.columns) == columns
        assert sorted(table.index) == sorted(ref["levels"])
        expected = np.array(ref["values"], dtype=float).reshape(len(columns), -1).T
        np.testing.assert_allclose(table.loc[ref["levels"], columns], expected, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("key", ["lm", "glm"])
def test_coef_of_a_model_without_groups_is_its_coefficients(fits, key):
    ref = REF[key]["coef"]
    assert list(fits[key].coef().index) == ref["names"]
    np.testing.assert_allclose(fits[key].coef(), ref["values"], rtol=1e-6)


def test_residuals_are_indexed_like_the_fitted_rows_and_types_are_checked(fits):
    fit = fits["slopes"]
    pd.testing.assert_index_equal(fit.residuals().index, fit.design.frame.data.index)
    np.testing.assert_allclose(fit.fitted() + fit.residuals(), fit.design.y)
    with pytest.raises(SpecError, match="'partial' is not a residual type"):
        fit.residuals("partial")


def test_bayesian_coef_is_fixef_plus_ranef_per_draw(bayes_ss_slopes):
    fit = bayes_ss_slopes
    means = fit.coef()["Subject"]
    expected = fit.ranef["Subject"][["(Intercept)", "Days"]] + fit.fixef[["(Intercept)", "Days"]]
    pd.testing.assert_frame_equal(means, expected, check_names=False, rtol=1e-10)
    summary = fit.coef(ci=0.9)["Subject"]
    assert list(summary.columns.get_level_values(0).unique()) == ["(Intercept)", "Days"]
    assert list(summary["Days"].columns) == ["estimate", "sd", "lower", "upper"]
    np.testing.assert_allclose(summary["Days"]["estimate"], means["Days"])
    draws = fit.fixef_draws()["Days"].to_numpy() + fit.ranef_draws()["Subject"][:, 0, 1]
    assert summary["Days"]["upper"].iloc[0] == pytest.approx(np.quantile(draws, 0.95))
    assert (summary["Days"]["sd"] > 0).all()
