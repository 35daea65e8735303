"""Terms whose names contain ", " (``poly(x, 2)``, ``cbind(s, n - s)``) sample with nutpie
under ``sampler="auto"``, with the names a PyMC-sampler fit has (issue 25).

nutpie splits the dimension names it stores at ","; :mod:`multilevel.bayes.nutpie_names`
hands it placeholders and restores the model's names in the trace.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import multilevel as ml
from multilevel.bayes import nutpie_names
from multilevel.errors import ConvergenceWarning

SMALL = dict(draws=200, tune=300, chains=2, seed=7, progress=False, check=False)


def test_placeholders_are_comma_free_and_distinct():
    names = ["poly(x, 2)_dim", "nutpie_dim_0", "g__factor_dim", "ns(x, df=3)_dim"]
    mapping = nutpie_names.placeholders(names)
    assert set(mapping) == {"poly(x, 2)_dim", "ns(x, df=3)_dim"}
    assert all("," not in v for v in mapping.values())
    assert len(set(mapping.values()) | set(names)) == len(names) + 2


def test_restore_renames_dimensions_and_coordinates():
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset(
        {"poly(x, 2)": (("chain", "draw", "nutpie_dim_0"), np.zeros((1, 3, 2)))},
        coords={"nutpie_dim_0": [0, 1]})})
    back = nutpie_names.restore(tree, {"nutpie_dim_0": "poly(x, 2)_dim"})
    da = back["posterior"]["poly(x, 2)"]
    assert da.dims == ("chain", "draw", "poly(x, 2)_dim")
    assert back["posterior"]["poly(x, 2)_dim"].values.tolist() == [0, 1]


def _names(fit):
    with warnings.catch_warnings():   # short chains: only the names are compared here
        warnings.simplefilter("ignore", ConvergenceWarning)
        rows = fit.summary().index.tolist()
    post = fit.idata["posterior"]
    coords = {k: [str(v) for v in post[k].values] for k in post.coords if k not in ("chain", "draw")}
    return rows, {v: post[v].dims for v in post.data_vars if not v.endswith("_log__")}, coords


@pytest.mark.slow
@pytest.mark.parametrize("formula, data, family", [
    ("Reaction ~ poly(Days, 2) + (1 | Subject)", "sleepstudy", "gaussian"),
    ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "binomial"),
])
def test_auto_keeps_nutpie_with_the_names_of_a_pymc_fit(formula, data, family):
    auto = ml.fit(formula, data, family=family, sampler="auto", **SMALL)
    pymc = ml.fit(formula, data, family=family, sampler="pymc", **SMALL)
    assert auto.sampler == "nutpie"
    assert pymc.sampler == "pymc"
    assert _names(auto) == _names(pymc)
    assert auto.idata["posterior"].sizes["chain"] == 2
    if "poly" in formula:
        assert _names(auto)[0][1:3] == ["poly(Days, 2)1", "poly(Days, 2)2"]   # R numbers from 1
        # the same model, close estimates (Monte Carlo error of 2 x 200 draws)
        for name in auto.fixef.index:
            sd = float(auto.fixef_draws()[name].std())
            assert abs(auto.fixef[name] - pymc.fixef[name]) < 0.5 * sd, name
