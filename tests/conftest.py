"""Shared fixtures: reference values from R and the shipped data."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
REFERENCE = SHARED / "reference"


def _reference(name: str) -> dict:
    path = REFERENCE / name
    if not path.exists():  # a checkout outside the workspace: use the copies in tests/reference
        path = Path(__file__).parent / "reference" / name
    return json.loads(path.read_text())


ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def skip_or_fail(message: str):
    """Skip on a developer machine that lacks a tool; fail on CI (CI=true, .ci/run installs it)."""
    if ON_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def per_structure_route():
    """Models compiled per structure (multilevel.bayes.cache), not on the generic density:
    for the modules that test that compilation, which models outside the generic class
    take (``pytestmark = pytest.mark.usefixtures("per_structure_route")``)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MULTILEVEL_GENERIC", "0")
        yield


@pytest.fixture(scope="session")
def headless_browser() -> str:
    """The path of a headless Chromium; the README's test command installs Debian's."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    skip_or_fail("No headless Chromium on PATH (looked for chromium, chromium-browser, google-chrome). "
                 "Install Debian's package: `apt-get update && apt-get install -y chromium` "
                 "(the README's test command and .ci/run do this).")


@pytest.fixture(scope="session")
def lme4_ref() -> dict:
    return _reference("lme4.json")


@pytest.fixture(scope="session")
def diagnostics_ref() -> dict:
    return _reference("diagnostics.json")


# ---------------------------------------------------------------- Bayesian fits
# Sampled once per session and shared by every test module that needs them
# (4 chains x 1000 draws: sampling takes about a second, compilation dominates).
BAYES_SMALL = dict(draws=1000, tune=1000, chains=4, seed=20261123, progress=False)


@pytest.fixture(scope="session")
def bayes_small() -> dict:
    """Sampling settings for small, converged test fits."""
    return dict(BAYES_SMALL)


@pytest.fixture(scope="session")
def sleepstudy():
    from multilevel import datasets

    return datasets.load("sleepstudy")


@pytest.fixture(scope="session")
def bayes_ss_slopes(sleepstudy):
    """sleepstudy ``Reaction ~ Days + (Days | Subject)``, Bayesian (correlated block)."""
    import multilevel as ml

    return ml.fit("Reaction ~ Days + (Days | Subject)", sleepstudy, **BAYES_SMALL)


@pytest.fixture(scope="session")
def bayes_ss_intercept(sleepstudy):
    """sleepstudy ``Reaction ~ Days + (1 | Subject)``, Bayesian."""
    import multilevel as ml

    return ml.fit("Reaction ~ Days + (1 | Subject)", sleepstudy, **BAYES_SMALL)


# ------------------------------------------------- issue 19: tests/reference/realdata.json
@pytest.fixture(scope="session")
def realdata_ref() -> dict:
    """lme4/MASS references of tests/reference/make_realdata.R (offsets, weights, links, ...)."""
    return json.loads((Path(__file__).parent / "reference" / "realdata.json").read_text())


@pytest.fixture(scope="session")
def realdata() -> dict:
    """The data sets the realdata references were fitted to, by their ``data`` key."""
    import pandas as pd

    from multilevel import datasets

    here = Path(__file__).parent / "reference"
    cbpp = datasets.load("cbpp")
    cbpp["prop"] = cbpp["incidence"] / cbpp["size"]
    return {"sim": pd.read_csv(here / "realdata_sim.csv"),
            "rnames": pd.read_csv(here / "realdata_rnames.csv"),
            "cbpp": cbpp, "sleepstudy": datasets.load("sleepstudy"),
            "grouseticks": datasets.load("grouseticks")}
