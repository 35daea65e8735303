"""ml.sbc's statistics (ranks → bins → chi-square) against scipy, and its input checks.

The end-to-end SBC run (20 replicates, serial and on a LocalCluster) is in
tests/test_distributed.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel as ml
from multilevel.distributed import JobFailure
from multilevel.errors import DataError, SpecError
from multilevel.sbc import ReplicateResult, SBCResult
from multilevel.sbc.core import _resolve

MODELS = Path(__file__).resolve().parents[1] / "models"


def _result(ranks: dict, n_ranks: int, bins: int) -> SBCResult:
    frame = pd.DataFrame(ranks)
    return SBCResult(ranks=frame, truth=frame, n_ranks=n_ranks, bins=bins,
                     max_rhat=pd.Series(1.0, index=frame.index),
                     divergences=pd.Series(0, index=frame.index))


def test_chi_square_matches_scipy_on_binned_ranks():
    rng = np.random.default_rng(1)
    ranks = {"uniform": rng.integers(0, 100, size=60), "skewed": rng.integers(0, 30, size=60)}
    res = _result(ranks, n_ranks=99, bins=5)  # 100 rank values, 20 per bin
    counts = res.counts()
    for name, values in ranks.items():
        np.testing.assert_array_equal(counts[name], np.bincount(values // 20, minlength=5))
        ref = stats.chisquare(counts[name])
        row = res.test().loc[name]
        assert row["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
        assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
        assert (row["df"], row["n"]) == (4, 60)
    assert res.test().loc["skewed", "p_value"] < 1e-6 < res.test().loc["uniform", "p_value"]


def test_plot_has_one_histogram_per_parameter():
    res = _result({"a": [0, 5, 9, 3], "b": [1, 1, 8, 2], "c": [9, 9, 0, 4]}, n_ranks=9, bins=2)
    fig = res.plot(ncols=2)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["a", "b", "c"]
    assert len(visible[0].containers[0]) == 2  # one bar per bin


def test_failed_replicates_are_kept_apart_from_the_ranks():
    truth = pd.DataFrame({"a": [0.1, 0.2, 0.3]})
    outcomes = [ReplicateResult(0, {"a": 4}, 1.0, 0),
                JobFailure(index=1, job="replicate 1", error="FitError: boom"),
                ReplicateResult(2, {"a": 7}, 1.01, 2)]
    res = SBCResult.from_outcomes(outcomes, truth, n_ranks=9, bins=2, formula="y ~ 1", seed=0)
    assert res.n == 2 and list(res.ranks.index) == [0, 2]
    assert res.failures[0].error == "FitError: boom"
    assert res.divergences.tolist() == [0, 2]
    assert "1 failed" in repr(res)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(n=1), DataError, "n must be an integer >= 2"),
    (dict(thin=0), DataError, "thin must be an integer >= 1"),
    (dict(bins=1), DataError, "bins must be an integer >= 2"),
    (dict(draws=10, chains=1, thin=5, bins=4), DataError, "too few for 4 bins"),
    (dict(warmup=10), SpecError, "Unknown sbc option"),
])
def test_bad_settings_are_refused(kwargs, error, message, sleepstudy):
    with pytest.raises(error, match=message):
        ml.sbc("Reaction ~ Days + (1 | Subject)", sleepstudy, **kwargs)


def test_formula_needs_data_and_spec_supplies_it():
    with pytest.raises(DataError, match="give the data to simulate on"):
        ml.sbc("Reaction ~ Days + (1 | Subject)")
    formula, data, options = _resolve(MODELS / "sleepstudy.toml", None, None, None, 100, 100, 2,
                                      None, {})
    assert formula == "Reaction ~ Days + (Days | Subject)" and len(data) == 180
    assert options["draws"] == 1000 and options["chains"] == 4  # the spec's [sampling]
    with pytest.raises(SpecError, match="SBC needs a Bayesian model"):
        ml.sbc(MODELS / "sleepstudy-reml.toml")


def test_response_must_be_a_plain_column(sleepstudy):
    with pytest.raises(DataError, match="not a plain column"):
        ml.sbc("log(Reaction) ~ Days + (1 | Subject)", sleepstudy, n=4, draws=20, tune=20,
               chains=1, thin=1, bins=2)
