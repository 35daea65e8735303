"""Bootstrap interval types (lme4's ``confint(method = "boot", boot.type = ...)``, boot's
``boot.ci``): percentile, basic and normal intervals from fixed replicate vectors against
boot's own ``perc.ci``, ``basic.ci`` and ``norm.ci`` (``tests/reference/make_boot_types.R``;
skewed, normal, seven replicates, non-finite replicates left out), to 1e-12; then
``confint`` and ``bootmer`` apply them to their replicates.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import SpecError
from multilevel.inference.bootstrap import boot_interval

REF = json.loads((Path(__file__).parent / "reference" / "boot_types.json").read_text())


def _numbers(values) -> np.ndarray:
    return np.array([np.nan if v == "NA" else float(v) for v in values])


@pytest.mark.parametrize("case", REF, ids=[c["name"] for c in REF])
@pytest.mark.parametrize("kind", ["perc", "basic", "norm"])
def test_intervals_equal_boots(case, kind):
    t = _numbers(case["t"])
    for level, expected in zip(case["levels"], case["intervals"]):
        np.testing.assert_allclose(boot_interval(t, case["t0"], level, kind), expected[kind],
                                   rtol=1e-12, atol=1e-12, err_msg=f"{kind} at {level}")


@pytest.fixture(scope="module")
def fit():
    return ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml")


def test_confint_boot_types_use_the_same_replicates(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables = {k: ml.confint(fit, method="boot", nsim=40, seed=3, boot_type=k) for k in ("perc", "basic", "norm")}
    reps = tables["perc"].attrs["replicates"]
    np.testing.assert_array_equal(reps, tables["norm"].attrs["replicates"])
    for kind, table in tables.items():
        assert table.attrs["boot_type"] == kind
        for k, (name, row) in enumerate(table.iterrows()):
            assert (row["lower"], row["upper"]) == pytest.approx(boot_interval(reps[:, k], row["estimate"], 0.95, kind),
                                                                 rel=1e-12), name
    perc, basic = tables["perc"].loc["Days"], tables["basic"].loc["Days"]
    # the basic interval is the percentile interval reflected about the estimate
    assert basic["lower"] == pytest.approx(2 * perc["estimate"] - perc["upper"], rel=1e-12)


def test_bootmer_confint_types(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot = ml.bootmer(fit, lambda f: f.fixef, nsim=30, seed=5)
    norm = boot.confint(type="norm")
    expected = boot_interval(boot.t["Days"].to_numpy(), float(boot.t0["Days"]), 0.95, "norm")
    assert (norm.loc["Days", "lower"], norm.loc["Days", "upper"]) == pytest.approx(expected, rel=1e-12)


def test_an_unknown_type_is_refused(fit):
    with pytest.raises(SpecError, match="boot_type"):
        ml.confint(fit, method="boot", nsim=10, boot_type="bca")
