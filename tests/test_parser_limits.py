"""The formula parser's limits (issue 18): time linear in the formula's length, a documented
length limit checked first, and no dependence on Python's recursion limit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from multilevel.errors import FormulaError
from multilevel.formula.parse import (
    MAX_LENGTH, MAX_NESTING, MAX_OPERATORS, _split_top, parse_formula,
)

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _sum(n: int, prefix: str = "x") -> str:
    return " + ".join(f"{prefix}{i}" for i in range(n))


@pytest.mark.timeout(20)
def test_a_100k_character_formula_is_refused_at_once():
    text = "y ~ " + _sum(20_000)
    assert len(text) > 100_000
    start = time.perf_counter()
    with pytest.raises(FormulaError, match=rf"at most {MAX_LENGTH}"):
        parse_formula(text)
    assert time.perf_counter() - start < 1.0


def test_the_length_limit_is_exact():
    text = "y ~ x + " + " " * (MAX_LENGTH - len("y ~ x + ") - 1) + "z"
    assert len(text) == MAX_LENGTH
    assert parse_formula(text).fixed == "x + z"
    with pytest.raises(FormulaError, match="characters"):
        parse_formula(text + " ")


@pytest.mark.timeout(60)
def test_splitting_is_linear_in_the_length():
    # quadratic splitting took minutes on 1.5 MB; one pass takes about a second
    small, big = _sum(20_000), _sum(200_000)
    t0 = time.perf_counter()
    assert len(_split_top(small, "+-")) == 20_000
    t1 = time.perf_counter()
    assert len(_split_top(big, "+-")) == 200_000
    t2 = time.perf_counter()
    assert (t2 - t1) < 40 * max(t1 - t0, 1e-3)  # 10x the text: ~10x the time, not 100x


@pytest.mark.timeout(20)
def test_the_longest_allowed_formula_parses_quickly():
    names = [f"column_with_a_long_name_{i}" for i in range(MAX_OPERATORS)]
    text = ("y ~ " + " + ".join(names))[:MAX_LENGTH]
    text = text[: text.rfind(" +")]
    start = time.perf_counter()
    parse_formula(text)
    assert time.perf_counter() - start < 1.0


def test_too_many_operators_are_refused_with_the_limit():
    with pytest.raises(FormulaError, match=rf"at most {MAX_OPERATORS}"):
        parse_formula("y ~ " + _sum(MAX_OPERATORS + 5))
    parse_formula("y ~ " + _sum(MAX_OPERATORS))  # '+' between 300 terms: 299 operators


def test_expanded_bars_count_towards_the_limit():
    with pytest.raises(FormulaError, match="After expanding"):
        parse_formula("y ~ x + (" + _sum(200) + " || g)")


def test_deep_nesting_is_refused():
    deep = "y ~ " + "(" * (MAX_NESTING + 1) + "x" + ")" * (MAX_NESTING + 1)
    with pytest.raises(FormulaError, match=f"deeper than {MAX_NESTING}"):
        parse_formula(deep)
    ok = "y ~ " + "(" * 10 + "x" + ")" * 10
    parse_formula(ok)


def test_exponents_and_names_ending_in_e():
    assert _split_top("x1e + z + 2e-5 + I(a - 1E+3)", "+-") == ["x1e", "+ z", "+ 2e-5", "+ I(a - 1E+3)"]
    assert _split_top("a - b-c", "+-") == ["a", "- b", "-c"]


def _fresh(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (Python's default recursion limit, nothing imported)."""
    env = {"PYTHONPATH": SRC, "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, env=env)


@pytest.mark.timeout(300)
def test_a_1000_term_formula_is_a_formula_error_in_a_fresh_process():
    out = _fresh("""
        import sys, numpy as np, pandas as pd
        import multilevel as ml
        assert sys.getrecursionlimit() == 1000
        cols = {f"x{i}": np.arange(5.0) + i for i in range(1000)}
        data = pd.DataFrame(cols).assign(y=np.arange(5.0))
        try:
            ml.fit("y ~ " + " + ".join(cols), data, method="ml")
        except Exception as exc:
            print(type(exc).__name__)
    """)
    assert out.stdout.strip() == "FormulaError", out.stdout + out.stderr


@pytest.mark.timeout(300)
def test_the_largest_allowed_formula_fits_at_the_default_recursion_limit():
    out = _fresh(f"""
        import sys, warnings, numpy as np, pandas as pd
        import multilevel as ml
        assert sys.getrecursionlimit() == 1000
        rng = np.random.default_rng(0)
        n, p = 600, {MAX_OPERATORS}
        X = rng.normal(size=(n, p))
        data = pd.DataFrame(X, columns=[f"x{{i}}" for i in range(p)])
        data["y"] = X[:, 0] + rng.normal(size=n)
        data["g"] = np.repeat(np.arange(20), n // 20)
        formula = "y ~ " + " + ".join(data.columns[:p - 2]) + " + (1 | g)"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = ml.fit(formula, data, method="reml")
        print(m.nobs, len(m.fixef))
    """)
    assert out.stdout.strip() == f"600 {MAX_OPERATORS - 1}", out.stdout + out.stderr[-2000:]


@pytest.mark.parametrize("formula", ["y ~ y", "y ~ x + y + (1 | g)", "log(y) ~ x + log(y)",
                                     "y ~ x + (y | g)"])
def test_the_response_as_a_term_is_refused(formula):
    with pytest.raises(FormulaError, match="also a term"):
        parse_formula(formula)


def test_the_response_inside_other_terms_is_allowed():
    parse_formula("log(y) ~ y")
    parse_formula("cbind(s, n - s) ~ n")
