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
