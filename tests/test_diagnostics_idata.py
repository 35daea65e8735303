"""The Bayesian convergence report built from any ArviZ DataTree: synthetic draws with
known defects (no sampling), one defect per case, each caught with its advice."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from multilevel.diagnostics import check_convergence, idata_convergence
from multilevel.errors import FitError

CHAINS, DRAWS = 4, 500


def _ar1(rng, rho: float, shape=(CHAINS, DRAWS)) -> np.ndarray:
    """Stationary AR(1) chains: ESS ≈ n(1 − ρ)/(1 + ρ)."""
    out = np.empty(shape)
    out[:, 0] = rng.normal(size=shape[0])
    for t in range(1, shape[1]):
        out[:, t] = rho * out[:, t - 1] + np.sqrt(1 - rho ** 2) * rng.normal(size=shape[0])
    return out


def _idata(defect: str | None = None, seed: int = 3):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(CHAINS, DRAWS))
    beta = rng.normal(size=(CHAINS, DRAWS, 2))
    diverging = np.zeros((CHAINS, DRAWS), bool)
    energy = rng.normal(size=(CHAINS, DRAWS))          # iid energy: E-BFMI ≈ 2
    depth = np.full((CHAINS, DRAWS), 3)
    if defect == "rhat":
        beta[0, :, 1] += 3.0                            # one chain stuck elsewhere
    elif defect == "ess":
        mu = _ar1(rng, 0.8)                             # ESS ≈ 55 per chain
    elif defect == "divergences":
        diverging[1, rng.choice(DRAWS, 12, replace=False)] = True
    elif defect == "bfmi":
        energy = np.cumsum(rng.normal(size=(CHAINS, DRAWS)), axis=1)   # a random walk
    elif defect == "treedepth":
        depth[:, :40] = 10                              # 8 % of draws saturate
    return az.from_dict({
        "posterior": {"mu": mu, "beta": beta},
        "sample_stats": {"diverging": diverging, "energy": energy, "tree_depth": depth},
    })


# defect, checks that fail, checks that may fail with it, words of the advice. R-hat and
# ESS go together: a stuck chain costs ESS, and R-hat of chains with ESS < 100 per chain
# exceeds 1.01 by chance in most seeds (measured: 90 % at ρ = 0.8).
CASES = [
    ("rhat", ["max R-hat", "min ESS (bulk, tail)"], [], ["beta[1]", "more tune"]),
    ("ess", ["min ESS (bulk, tail)"], ["max R-hat"], ["mu", "increase draws"]),
    ("divergences", ["divergent transitions"], [], ["12 divergent", "target_accept", "non-centred"]),
    ("bfmi", ["min E-BFMI"], [], ["E-BFMI", "Increase tune"]),
    ("treedepth", ["share at max tree depth"], [], ["8.0% of draws", "max_treedepth"]),
]


def test_clean_draws_pass_every_check():
    report = idata_convergence(_idata())
    assert report.ok and not report.problems
    assert list(report.table.index) == ["max R-hat", "min ESS (bulk, tail)", "divergent transitions",
                                        "min E-BFMI", "share at max tree depth"]
    assert report.table["passed"].all()
    params = report.table.attrs["parameters"]
    assert list(params.index) == ["mu", "beta[0]", "beta[1]"]
    assert (params["r_hat"] < 1.01).all() and (params["ess_bulk"] > 1000).all()
    # the DataTree also goes through the one entry point
    assert check_convergence(_idata()).ok


@pytest.mark.parametrize("defect, checks, maybe, advice", CASES, ids=[c[0] for c in CASES])
def test_each_defect_fails_its_check_with_advice(defect, checks, maybe, advice):
    report = idata_convergence(_idata(defect))
    assert not report.ok
    failed = report.table.index[~report.table["passed"].astype(bool)].tolist()
    assert set(checks) <= set(failed) <= set(checks) | set(maybe)
    assert len(report.problems) == len(failed)
    text = " ".join(report.problems)
    for words in advice:
        assert words in text
    if defect == "ess":          # only mu is autocorrelated
        assert "beta" not in text


def test_values_of_the_checks():
    table = idata_convergence(_idata("divergences")).table
    assert table.loc["divergent transitions", "value"] == 12
    bfmi = idata_convergence(_idata("bfmi")).table.loc["min E-BFMI", "value"]
    assert bfmi < 0.1
    share = idata_convergence(_idata("treedepth")).table.loc["share at max tree depth", "value"]
    assert share == pytest.approx(40 / DRAWS)
    # a chain offset by 3 SD: R-hat far above the threshold
    assert idata_convergence(_idata("rhat")).table.loc["max R-hat", "value"] > 1.2


def test_posterior_only_and_var_names():
    rng = np.random.default_rng(0)
    idata = az.from_dict({"posterior": {"a": rng.normal(size=(2, 400)),
                                        "b": rng.normal(size=(2, 400)) + np.array([[0.0], [5.0]])}})
    report = idata_convergence(idata)
    assert list(report.table.index) == ["max R-hat", "min ESS (bulk, tail)", "divergent transitions"]
    assert not report.ok and "b" in report.problems[0]
    assert idata_convergence(idata, var_names=["a"]).ok
    assert idata_convergence(idata, max_treedepth=5).ok is False


def test_bad_input_is_refused():
    with pytest.raises(FitError, match="DataTree with a posterior"):
        idata_convergence({"posterior": None})
    with pytest.raises(FitError, match=r"var_names \['c'\].*choose from \['a'\]"):
        idata_convergence(az.from_dict({"posterior": {"a": np.zeros((2, 10))}}), var_names=["c"])
    no_posterior = az.from_dict({"sample_stats": {"diverging": np.zeros((2, 10), bool)}})
    with pytest.raises(FitError, match="posterior group"):
        idata_convergence(no_posterior)
