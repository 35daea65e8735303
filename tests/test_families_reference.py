"""Bayesian family fits against ML fits from R on the same shipped data
(tests/reference/make_families.R -> families.json): glmmTMB 1.1.5's zero-inflated and
hurdle (truncated) Poisson on Salamanders, Gamma (log link) on Owls, beta on USAirlines,
and ordinal::clmm's cumulative logit model on wine, each with a random intercept.

The posterior mean of every fixed effect (and of the auxiliary parameter, converted to
Bambi's parameterisation in the R script: psi = 1 - plogis(zi), alpha = 1/sigma^2, kappa =
phi; the clmm thresholds) lies within one posterior SD of the ML estimate. Group SDs are
not compared: their posterior mean and ML estimate differ by design with few groups.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import multilevel as ml

REFERENCE = json.loads((Path(__file__).parent / "reference" / "families.json").read_text())
CASES = [key for key in REFERENCE if not key.startswith("_")]
# the auxiliary parameter compared, per case (Bambi's name, already converted in R)
AUX = {"zip": "psi", "hurdle": "psi", "gamma": "alpha", "beta": "kappa"}
# centred where groups are large (Salamanders' sites). target_accept 0.9 for every case: the
# few-level default of 0.95 (wine's 9 judges, USAirlines' 6 firms) draws another chain, and at
# 500 draws wine's judge SD then has R-hat 1.015 at this seed; at 4 x 1000 draws both values
# give R-hat <= 1.009 over seeds 1-6 (bench/bench_target_accept.py --only wine)
SAMPLING = dict(draws=500, tune=500, chains=4, seed=5, progress=False, check=False,
                noncentered="auto", target_accept=0.9)


@pytest.fixture(scope="module", params=CASES)
def reference_fit(request):
    ref = REFERENCE[request.param]
    fit = ml.fit(ref["formula"], ml.datasets.load(ref["data"]), family=ref["family"],
                 **({"link": ref["link"]} if "link" in ref else {}), **SAMPLING)
    return request.param, ref, fit


@pytest.mark.slow
def test_posterior_means_within_one_sd_of_the_ml_estimates(reference_fit):
    case, ref, fit = reference_fit
    table = fit._interval_table(0.95, "eti")
    expected = dict(ref["fixef"])
    if case in AUX:
        expected[AUX[case]] = ref[AUX[case]]
    expected.update(ref.get("threshold", {}))   # clmm's thresholds, named 1|2 ... as ours
    assert set(expected) <= set(table.index), (sorted(expected), table.index.tolist())
    off = {name: (table.loc[name, "estimate"] - value) / table.loc[name, "sd"]
           for name, value in expected.items()}
    assert all(abs(z) <= 1 for z in off.values()), {k: round(v, 2) for k, v in off.items()}
    # R-hat <= 1.01 at 500 draws since the group terms are centred by the data's information
    # (bayes/parameterization.py: gamma's log(y) and beta's logit(y) read as Gaussian, ZIP
    # counts as Poisson). Before, by rows per level: Owls' Nest SD of 0.017 centred (R-hat
    # 1.03, ESS 150), USAirlines' six firms non-centred (1.012), Salamanders' ZIP centred
    # without the low-rank mass matrix (its intercept at 1.014, ESS 257)
    assert table["r_hat"].max() <= 1.01, table["r_hat"].to_dict()
    assert int(fit.idata["sample_stats"]["diverging"].sum()) == 0
