"""``fit.hatvalues()`` and ``fit.cooks_distance()`` against lme4 1.1-31's ``hatvalues`` and
``cooks.distance`` (and R's for ``lm``): a random slope (REML and ML), crossed and nested
factors, prior weights (``tests/reference/make_leverage.R``).

Tolerances: 1e-5 relative (atol 1e-8) for both; they depend on θ̂, which lme4 (bobyqa,
rhoend 1e-12) and we find to ~1e-7. The trace of the hat matrix is the model's effective
number of parameters, between rank X and rank X + the number of group effects.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import FamilyError

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "leverage.json").read_text())


def _fit(case: dict):
    data = (pd.read_csv(HERE / "inverse_gaussian.csv") if case["data"] == "inverse_gaussian"
            else ml.datasets.load(case["data"]))
    return ml.fit(case["formula"], data, method="reml" if case["reml"] else "ml",
                  weights=case.get("weights"))


@pytest.fixture(scope="module")
def fits() -> dict:
    return {key: _fit(case) for key, case in REF.items()}


@pytest.mark.parametrize("key", list(REF))
def test_hat_values_and_cooks_distance_match_r(fits, key):
    fit, ref = fits[key], REF[key]
    hat = fit.hatvalues()
    assert hat.index.equals(fit.design.frame.data.index)
    np.testing.assert_allclose(hat.to_numpy(), ref["hat"], rtol=1e-5, atol=1e-8)
    # Cook's distance scales with 1 / σ̂² and the squared residual: the two optimizers' θ̂
    # (equal to ~1e-6) move the smallest distances by up to 2e-5 relative, and the last
    # digits of θ̂ move with the CPU's SIMD paths (an AVX-512 machine: 2.1e-5)
    np.testing.assert_allclose(fit.cooks_distance().to_numpy(), ref["cooks"], rtol=1e-4, atol=1e-8)
    p = np.linalg.matrix_rank(fit.design.X)
    q = sum(t.n_levels * t.q for t in fit.design.reterms)
    assert p - 1e-8 <= hat.sum() <= p + q + 1e-8


def test_row_blocks_give_the_same_diagonal(fits, monkeypatch):
    from multilevel.freq import predict_se

    whole = fits["crossed"].hatvalues()
    monkeypatch.setattr(predict_se, "ROWS_PER_BLOCK", 7)   # 144 rows in 21 blocks
    pd.testing.assert_series_equal(fits["crossed"].hatvalues(), whole, rtol=1e-12)


def test_glmms_are_refused_with_the_reason():
    cbpp = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
                  family="binomial", method="ml")
    with pytest.raises(FamilyError, match="working weights"):
        cbpp.hatvalues()
    with pytest.raises(FamilyError, match="cooks_distance"):
        cbpp.cooks_distance()
