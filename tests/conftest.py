"""Shared fixtures: reference values from R and the shipped data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
REFERENCE = SHARED / "reference"


def _reference(name: str) -> dict:
    path = REFERENCE / name
    if not path.exists():  # a checkout outside the workspace: use the copies in tests/reference
        path = Path(__file__).parent / "reference" / name
    return json.loads(path.read_text())


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
