"""Readable ``__repr__`` and HTML ``_repr_html_`` of the result objects (issue 25):
Comparison, PathResult, PriorComparison and the fits."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.compare.table import Comparison
from multilevel.regularization.path import PathResult
from multilevel.sensitivity.compare import PriorComparison


class Cells(HTMLParser):
    """The text of every table cell (td/th) of an HTML fragment, and its tag balance."""

    def __init__(self):
        super().__init__()
        self.cells, self.tables, self._in, self.depth = [], 0, False, 0

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self._in = True
            self.cells.append("")
        if tag == "table":
            self.tables += 1
        self.depth += tag in ("table", "div", "pre", "ul")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in = False
        self.depth -= tag in ("table", "div", "pre", "ul")

    def handle_data(self, data):
        if self._in:
            self.cells[-1] += data.strip()


def parse(fragment: str) -> Cells:
    parser = Cells()
    parser.feed(fragment)
    assert parser.depth == 0, "unbalanced tags"
    return parser


@pytest.fixture(scope="module")
def reml_fits():
    a = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml")
    b = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    return a, b


# ------------------------------------------------------------------ Comparison
def test_comparison_repr_is_a_table_not_the_dataclass(reml_fits):
    result = ml.compare({"intercept": reml_fits[0], "slopes": reml_fits[1]})
    text = repr(result)
    assert not text.startswith("Comparison(") and "table=" not in text
    assert text.startswith("Model comparison: 2 models")
    lines = text.splitlines()
    row = next(line for line in lines if line.startswith("slopes"))
    assert "1763.939" in row and "42.1393" in row     # lme4's anova(): AIC, Chisq
    assert "Notes:" in text and "refitted with ML" in text
    cells = parse(result._repr_html_())
    assert cells.tables == 1
    assert {"intercept", "slopes", "1763.939", "AIC", "Pr(>Chisq)"} <= set(cells.cells)
    assert "refitted with ML" in result._repr_html_()
    # print(comparison) is the same plain table (markdown only through .to_markdown())
    assert str(result) == text
    assert "|---" not in str(result) and not str(result).startswith("#")
    assert result.to_markdown().startswith("## Model comparison")


def test_comparison_html_escapes_names():
    table = pd.DataFrame({"AIC": [1.5, 2.5]}, index=pd.Index(["<b>a</b>", "b & c"], name="model"))
    html = Comparison(table=table, notes=["x < y"])._repr_html_()
    assert "<b>a</b>" not in html and "&lt;b&gt;a&lt;/b&gt;" in html and "x &lt; y" in html


# ------------------------------------------------------------------ PathResult
def make_path() -> PathResult:
    scales = np.geomspace(0.5, 50, 12)
    terms = ["bmi", "bp", "s1", "s2", "s5"]
    rows = [(s, t, k * s / (1 + s), k * s / (1 + s) - 1, k * s / (1 + s) + 1)
            for s in scales for k, t in enumerate(terms, 1)]
    table = pd.DataFrame(rows, columns=["scale", "term", "estimate", "lower", "upper"])
    loo = pd.DataFrame({"scale": scales, "elpd_loo": -2400 + np.arange(12) % 5, "se": 12.0})
    return PathResult(kind="ridge", table=table, loo=loo, best_scale=float(scales[4]),
                      sklearn_scale=float(scales[6]) * 1.01, sklearn_alpha=0.25,
                      learned=pd.DataFrame())


def test_path_repr_is_compact_with_both_choices_and_the_coefficients():
    path = make_path()
    text = repr(path)
    assert len(text.splitlines()) < 20            # not the 60-row path
    assert str(path) == text                      # print(path) too
    assert "ridge path: 12 prior scales x 5 coefficients" in text
    assert f"LOO choice: tau = {path.best_scale:.4g}" in text
    assert "scikit-learn CV: alpha = 0.25" in text
    at_best = path.table[path.table["scale"] == path.best_scale].set_index("term")
    at_sklearn = path.table[path.table["scale"] == path.loo["scale"][6]].set_index("term")
    for term in at_best.index:
        line = next(line for line in text.splitlines() if line.startswith(term))
        numbers = [float(x) for x in line.split()[1:]]
        np.testing.assert_allclose(numbers, [at_best.loc[term, "estimate"], at_best.loc[term, "lower"],
                                             at_best.loc[term, "upper"], at_sklearn.loc[term, "estimate"]],
                                   rtol=5e-4)   # 4 significant digits


def test_path_html_has_the_coefficient_and_loo_tables():
    cells = parse(make_path()._repr_html_())
    assert cells.tables == 2
    assert {"bmi", "s5", "LOO choice", "scikit-learn scale", "elpd_loo"} <= set(cells.cells)
    assert len(cells.cells) < 6 * 6 + 13 * 4   # 5 coefficients and 12 scales, not the 60-row path


# ------------------------------------------------------------------ PriorComparison
def make_prior_comparison() -> PriorComparison:
    index = ["(Intercept)", "Days", "sigma"]
    summary = pd.DataFrame({("weak", "estimate"): [251.4, 10.47, 25.6], ("weak", "lower"): [237.0, 7.4, 23.0],
                            ("weak", "upper"): [266.0, 13.5, 28.4], ("tight", "estimate"): [250.9, 2.1, 27.0],
                            ("tight", "lower"): [236.0, 1.2, 24.1], ("tight", "upper"): [265.0, 3.0, 30.2]},
                           index=index)
    loo = pd.DataFrame({"elpd_loo": [-862.1, -880.4], "se": [22.1, 20.3], "p_loo": [30.2, 28.1],
                        "n_high_k": [1, 0]}, index=pd.Index(["weak", "tight"], name="prior"))
    return PriorComparison(summary=summary, loo=loo, fits={})


def test_prior_comparison_repr_puts_priors_side_by_side():
    text = repr(make_prior_comparison())
    assert not text.startswith("PriorComparison(")
    assert text.startswith("Prior comparison: 2 priors (weak, tight)")
    days = next(line for line in text.splitlines() if line.startswith("Days"))
    assert re.search(r"10\.47 \[7\.4, 13\.5\]\s+2\.1 \[1\.2, 3\]", days)
    assert "-862.1" in text and "n_high_k" in text
    assert str(make_prior_comparison()) == text   # print(result) too


@pytest.mark.parametrize("width", [50, 72, 120])
def test_compare_priors_terminal_text_is_plain_and_fits_the_terminal(width):
    """What `multilevel compare-priors` prints: plain tables sized to the terminal; the
    markdown (with its code fences and headings) only in table.md."""
    from multilevel.commands.priors import terminal_text

    result = make_prior_comparison()
    flags = pd.DataFrame({"weak": ["ok", "ok", "ok"], "tight": ["ok", "prior-data conflict", "ok"]},
                         index=result.summary.index)
    text = terminal_text("sleepstudy-priors", result, flags, width=width)
    assert "```" not in text and "##" not in text and "|" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    assert text.startswith("sleepstudy-priors: posteriors under weak, tight")
    for expected in ("10.47 [7.4, 13.5]", "-862.1", "prior-data conflict"):
        assert expected in text


def test_prior_comparison_html():
    cells = parse(make_prior_comparison()._repr_html_())
    assert cells.tables == 2
    assert "10.47 [7.4, 13.5]" in cells.cells and "-880.4" in cells.cells


# ------------------------------------------------------------------ fits
def test_freq_fit_html_has_variance_and_fixed_effect_tables(reml_fits):
    fit = reml_fits[1]
    cells = parse(fit._repr_html_())
    assert cells.tables == 2
    assert "251.41" in cells.cells and "10.467" in cells.cells        # lme4's fixef
    assert "24.74" in cells.cells and "Residual" in cells.cells       # VarCorr SDs
    assert "None" not in cells.cells and "nan" not in cells.cells     # blank var2
    assert "REML criterion at convergence: 1743.6283" in fit._repr_html_()


@pytest.mark.parametrize("formula, family", [("Reaction ~ Days", "gaussian"),
                                             ("am ~ wt", "bernoulli")])
def test_fits_without_group_terms_have_html_too(formula, family):
    data = "sleepstudy" if family == "gaussian" else "mtcars"  # mtcars: a GLM (IRLS)
    fit = ml.fit(formula, data, method="ml", family=family)
    cells = parse(fit._repr_html_())
    assert cells.tables == 1 and "(Intercept)" in cells.cells
    assert repr(fit).splitlines()[0] in fit._repr_html_()


@pytest.mark.slow
def test_bayes_fit_repr_and_html():
    fit = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", draws=200, tune=200, chains=2,
                 seed=5, progress=False, check=False)
    text = repr(fit)
    assert text.startswith("BayesFit: Reaction ~ Days + (1 | Subject)")
    assert "sd__(Intercept)|Subject" in text and "Convergence" in text
    cells = parse(fit._repr_html_())
    assert cells.tables == 1
    table = fit._interval_table(0.95, "eti")
    assert f"{table.loc['Days', 'estimate']:.4g}" in cells.cells
    assert "sd__(Intercept)|Subject" in cells.cells


# ------------------------------------------------------------------ convergence reports
def test_convergence_reports_print_the_verdict_and_the_checks(reml_fits):
    from multilevel.bayes.convergence import ConvergenceReport

    table = pd.DataFrame({"value": [1.0102, 677.3], "threshold": ["<= 1.01", ">= 400"], "passed": [False, True]},
                         index=pd.Index(["max R-hat", "min ESS (bulk, tail)"], name="check"))
    report = ConvergenceReport(ok=False, problems=["R-hat above 1.01 for recipeB: run longer."], table=table)
    text = repr(report)
    assert not text.startswith("ConvergenceReport(") and "table=" not in text
    assert text.startswith("Convergence problems:\n  - R-hat above 1.01 for recipeB")
    assert "max R-hat" in text and "1.0102" in text   # not rounded onto its threshold
    cells = parse(report._repr_html_())
    assert cells.tables == 1 and {"max R-hat", "<= 1.01", "False"} <= set(cells.cells)
    freq = ml.diagnostics.check_convergence(reml_fits[1])
    assert repr(freq).startswith("Convergence: no problems") and "FreqConvergenceReport(" not in repr(freq)
    assert parse(freq._repr_html_()).tables == 1
