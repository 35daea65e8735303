"""Reports: interval tables checked against closed forms and R, the report's sections,
and the HTML report rendered by headless Chromium (DOM and screenshot)."""

from __future__ import annotations

import base64
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel as ml
from multilevel.errors import DataWarning, MultilevelError
from multilevel.report import interval_table, prior_table, report_content, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """Tables (by class) as lists of rows, and the img sources, from a DOM dump."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault((attrs.get("class") or "").split()[-1], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs.get("src", ""))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


# ------------------------------------------------------------ interval tables
# Wald intervals of ML/REML fits: (spec, level, expected lower/upper per coefficient).
# lm: R 4.2 `confint(lm(mpg ~ wt, mtcars))` (t quantiles, n - p df). lmer: lme4's
# confint(method = "Wald") = fixef ± qnorm · se with lme4's own estimates and SEs.
def _lme4_wald(ref, level):
    z = stats.norm.ppf(0.5 + level / 2)
    return {k: (v - z * ref["fixef_se"][k], v + z * ref["fixef_se"][k]) for k, v in ref["fixef"].items()}


def test_least_squares_intervals_equal_r_confint():
    fit = ml.fit("mpg ~ wt", "mtcars", method="ml")
    table = interval_table(fit, ci=0.95)
    expected = {"(Intercept)": (33.450500, 41.119753), "wt": (-6.486308, -4.202635)}
    for name, (lo, hi) in expected.items():
        assert table.loc[name, "lower"] == pytest.approx(lo, abs=5e-6)
        assert table.loc[name, "upper"] == pytest.approx(hi, abs=5e-6)
    assert table.attrs == {"ci": 0.95, "kind": "wald"}


@pytest.mark.parametrize("key,method,level", [("ss_rs_reml", "reml", 0.95), ("ss_rs_ml", "ml", 0.9),
                                               ("pastes_reml", "reml", 0.8)])
def test_mixed_model_wald_intervals_equal_lme4(lme4_ref, key, method, level):
    ref = lme4_ref[key]
    data = "Pastes" if key.startswith("pastes") else "sleepstudy"
    table = interval_table(ml.fit(ref["formula"], data, method=method), ci=level)
    for name, (lo, hi) in _lme4_wald(ref, level).items():
        # lme4's estimates agree with ours to ~1e-5 relative; the bounds inherit that
        assert table.loc[name, "lower"] == pytest.approx(lo, rel=1e-4, abs=1e-4)
        assert table.loc[name, "upper"] == pytest.approx(hi, rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("ci,kind,match", [(1.5, "eti", "ci must be"), (0, "eti", "ci must be"),
                                           ("wide", "eti", "ci must be"), (0.9, "mode", "kind='mode'")])
def test_bad_interval_arguments_are_refused(ci, kind, match):
    fit = ml.fit("mpg ~ wt", "mtcars", method="ml")
    with pytest.raises(MultilevelError, match=match):
        interval_table(fit, ci=ci, kind=kind)


@pytest.mark.slow
def test_bayes_interval_table_is_quantiles_and_hdi_of_the_draws(bayes_ss_slopes):
    draws = bayes_ss_slopes.fixef_draws()
    eti = interval_table(bayes_ss_slopes, ci=0.9, kind="eti")
    for name in draws:
        lo, hi = np.quantile(draws[name], [0.05, 0.95])
        assert eti.loc[name, "lower"] == pytest.approx(lo, rel=1e-3)
        assert eti.loc[name, "upper"] == pytest.approx(hi, rel=1e-3)
    hdi = interval_table(bayes_ss_slopes, ci=0.9, kind="hdi")
    assert hdi.attrs["kind"] == "hdi" and eti.attrs["kind"] == "eti"
    for name in draws:  # the HDI is the shortest interval holding 90 % of the draws
        x = np.sort(draws[name].to_numpy())
        k = int(np.floor(0.9 * len(x)))
        shortest = np.min(x[k:] - x[:-k])
        assert hdi.loc[name, "upper"] - hdi.loc[name, "lower"] == pytest.approx(shortest, rel=0.02)


# ---------------------------------------------------------------- sections
def test_prior_table_names_bambi_defaults_lkj_and_presets(sleepstudy):
    from multilevel.bayes.model import build_model

    formula = "Reaction ~ Days + (Days | Subject)"
    built = build_model(formula, sleepstudy)
    table = prior_table(SimpleNamespace(built=built, design=built.design)).set_index("parameter")
    sd_y = sleepstudy["Reaction"].std(ddof=0)
    # the summary's names (issue 25: one parameter name everywhere)
    assert list(table.index) == ["(Intercept)", "Days", "sd__(Intercept)|Subject", "sd__Days|Subject",
                                 "cor__(Intercept).Days|Subject", "sigma"]
    assert table.loc["(Intercept)", "prior"].startswith("Normal(mu: ")
    assert table.loc["sd__Days|Subject", "prior"].startswith("HalfNormal(sigma: ")
    assert table.loc["cor__(Intercept).Days|Subject", "prior"].startswith("LKJ(eta: 1)")
    # Bambi's default for sigma is HalfStudentT(4, sd(y)) with the population SD
    assert table.loc["sigma", "prior"] == f"HalfStudentT(nu: 4, sigma: {sd_y:.4g})"
    ridge = build_model(formula, sleepstudy, priors=ml.priors.ridge(2.0))
    table = prior_table(SimpleNamespace(built=ridge, design=ridge.design)).set_index("parameter")
    assert "ridge" in table.loc["Days", "prior"] and "standardized" in table.loc["Days", "prior"]


def test_data_section_counts_groups_and_removed_rows(sleepstudy):
    data = sleepstudy.copy()
    data.loc[[3, 50, 99], "Reaction"] = np.nan
    with pytest.warns(DataWarning, match="Removed 3 of 180 rows"):
        fit = ml.fit("Reaction ~ Days + (Days | Subject)", data, method="reml")
    content = report_content(fit)
    assert dict(content.data)["rows used"] == "177"
    assert dict(content.data)["rows removed (missing values)"] == "3"
    crossed = ml.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", method="reml")
    groups = report_content(crossed).groups
    assert dict(zip(groups["factor"], groups["levels"])) == {"plate": 24, "sample": 6}
    nested = report_content(ml.fit("strength ~ 1 + (1 | batch/cask)", "Pastes", method="reml")).groups
    assert dict(zip(nested["factor"], nested["levels"])) == {"cask:batch": 30, "batch": 10}  # lme4 names


def test_freq_report_has_satterthwaite_table_variance_components_and_forest(tmp_path):
    fit = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    page = fit.report(tmp_path / "rep", ci=0.9)
    assert sorted(p.name for p in page.parent.iterdir()) == [
        ".multilevel-run", "caterpillar.png", "effects.png", "forest.png", "groups.png", "report.html", "report.md",
        "residuals.png"]
    md = (page.parent / "report.md").read_text()
    # lmerTest's summary by default: Satterthwaite df (17 for sleepstudy's slopes) and p
    assert ("## Parameters (t, Satterthwaite df, 90%)\n\n90% confidence intervals of the fixed effects "
            "(t with Satterthwaite df, p as lmerTest).") in md
    assert "| Days | 10.47 | 1.546 | 17 | 6.771 | 3.264e-06 | 7.778 | 13.16 |" in md
    assert "## Variance components" in md and "REML criterion 1743.6283" in md
    assert "![Estimates with 90% confidence intervals (t with Satterthwaite df).](forest.png)" in md
    assert "<h2>Priors</h2>" not in page.read_text()
    assert "max scaled gradient" in md          # lme4's checkConv checks


def test_least_squares_report_has_no_group_sections(tmp_path):
    page = ml.fit("mpg ~ wt", "mtcars", method="ml").report(tmp_path / "rep")
    md = (page.parent / "report.md").read_text()
    assert "- method: least squares" in md and "| factor |" not in md
    assert re.findall(r"!\[[^]]*\]\(([^)]+)\)", md) == ["forest.png", "residuals.png", "effects.png"]
    assert "| wt | -5.344 | 0.5591 | -9.559 | 1.294e-10 | -6.486 | -4.203 |" in md


# ---------------------------------------------------------- HTML in Chromium
@pytest.mark.slow
def test_html_report_renders_in_chromium(bayes_ss_slopes, tmp_path, headless_browser):
    page = bayes_ss_slopes.report(tmp_path / "report", ci=0.9, kind="hdi")
    folder = Path(page).parent
    assert sorted(p.name for p in folder.iterdir()) == [
        ".multilevel-run", "caterpillar.png", "effects.png", "forest.png", "groups.png", "ppc.png", "rank.png",
        "report.html", "report.md", "residuals.png"]
    browser = headless_browser
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    parsed = _Page()
    parsed.feed(dom)
    # the interval table, as the browser built it, carries the summary's numbers
    rows = {r[0]: r[1:] for r in parsed.tables["intervals"][1:]}
    header = parsed.tables["intervals"][0]
    expected = bayes_ss_slopes._interval_table(0.9, "hdi")
    assert list(rows) == list(expected.index)
    for name, row in expected.iterrows():
        cells = dict(zip(header[1:], rows[name]))
        for col in ("estimate", "lower", "upper"):
            assert float(cells[col]) == pytest.approx(row[col], rel=1e-3)
    assert "Parameters (HDI 90%)" in dom and "90% highest-density credible intervals (HDI)" in dom
    assert {"priors", "groups", "convergence"} <= set(parsed.tables)
    # seven embedded PNG images, nothing loaded from elsewhere
    assert len(parsed.images) == 7
    for src in parsed.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_MAGIC
    assert not re.search(r"(src|href)=['\"](?!data:)", page.read_text())
    shot = tmp_path / "report-screenshot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1100,3000", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (3000, 1100)
    assert pixels[..., :3].std() > 0.05            # text, tables and plots, not a blank page


@pytest.mark.slow
def test_markdown_report_links_the_written_plots(bayes_ss_slopes, tmp_path):
    page = write_report(bayes_ss_slopes, tmp_path / "rep", ci=0.95, kind="eti")
    md = (page.parent / "report.md").read_text()
    links = re.findall(r"!\[[^]]*\]\(([^)]+)\)", md)
    assert links == ["forest.png", "residuals.png", "groups.png", "caterpillar.png", "effects.png", "rank.png",
                     "ppc.png"]
    for link in links:
        assert (page.parent / link).read_bytes()[:8] == PNG_MAGIC
    assert "## Priors" in md and "LKJ(eta: 1)" in md and "| Subject | 18 |" in md
    assert "## Convergence" in md and "max R-hat" in md


def test_a_plot_that_does_not_apply_is_named_with_the_reason(tmp_path):
    # no numeric predictor: the group panels show points per group (issue 25: they said
    # "pass x=", which a CLI user cannot); the conditional effects are not drawn, and say why
    fit = ml.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", method="reml")
    page = fit.report(tmp_path / "rep")
    md = (page.parent / "report.md").read_text()
    assert "Not drawn:\n\n- effects: the model has no numeric predictor to draw a conditional effect" in md
    assert "<li>effects: the model has no numeric predictor" in page.read_text()
    assert "pass x=" not in md and "The data per group (open circles)" in md
    assert (page.parent / "groups.png").read_bytes()[:8] == PNG_MAGIC
    assert not (page.parent / "effects.png").exists() and (page.parent / "caterpillar.png").exists()


def test_cli_run_folder_of_a_reml_spec_has_the_reports(tmp_path, capsys):
    from multilevel.cli import main

    spec = Path(__file__).resolve().parents[1] / "models" / "sleepstudy-reml.toml"
    out = tmp_path / "run"
    assert main(["fit", str(spec), "--out", str(out)]) == 0
    assert {"report.html", "report.md", "forest.png", "summary.csv", "spec.toml"} <= {
        p.name for p in out.iterdir()}
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    assert {"estimate", "std_error", "lower", "upper"} <= set(summary.columns)
    assert "confidence intervals of the fixed effects (t with Satterthwaite df" in capsys.readouterr().out


def test_forest_panels_by_kind_of_parameter():
    from multilevel.report.figures import forest_plot

    names = ["(Intercept)", "Days", "sd__(Intercept)|Subject", "sigma", "cor__(Intercept).Days|Subject",
             "ar1_phi", "nu"]
    table = pd.DataFrame({"estimate": 0.5, "lower": 0.0, "upper": 1.0}, index=names)
    table.attrs.update(ci=0.95, kind="eti")
    fig = forest_plot(table)
    panels = {ax.get_title(loc="left"): [t.get_text() for t in ax.get_yticklabels()] for ax in fig.axes}
    assert panels == {"intercept": ["(Intercept)"], "fixed effects": ["Days"],
                      "group-level standard deviations": ["sd__(Intercept)|Subject"],
                      "correlations": ["cor__(Intercept).Days|Subject", "ar1_phi"],
                      "residual and family parameters": ["sigma", "nu"]}
    assert [ax.get_xlabel() for ax in fig.axes] == ["estimate", "estimate", "standard deviation", "correlation",
                                                    "estimate"]


def test_forest_of_sleepstudy_gives_each_kind_and_size_its_own_axis():
    # issue 25: the intercept (251) and Days (10) shared one axis; so did sd 24.7 and 0.07
    from multilevel.report.figures import forest_plot

    names = ["(Intercept)", "Days", "x", "sd__(Intercept)|Subject", "sd__x|Subject", "sigma"]
    table = pd.DataFrame({"estimate": [251.4, 10.5, 0.02, 24.7, 0.07, 25.6],
                          "lower": [237.6, 7.4, 0.01, 14.4, 0.03, 22.9],
                          "upper": [265.1, 13.5, 0.03, 37.7, 0.12, 28.6]}, index=names)
    table.attrs.update(ci=0.95, kind="eti")
    fig = forest_plot(table)
    panels = [(ax.get_title(loc="left"), [t.get_text() for t in ax.get_yticklabels()]) for ax in fig.axes]
    assert panels == [("intercept", ["(Intercept)"]), ("fixed effects (1 of 2, own scale)", ["Days"]),
                      ("fixed effects (2 of 2, own scale)", ["x"]),
                      ("group-level standard deviations (1 of 2, own scale)", ["sd__(Intercept)|Subject"]),
                      ("group-level standard deviations (2 of 2, own scale)", ["sd__x|Subject"]),
                      ("residual and family parameters", ["sigma"])]
    for ax, (name, row) in zip(fig.axes, table.iterrows()):
        left, right = ax.get_xlim()     # each interval spans a good part of its own axis
        assert left <= row["lower"] and row["upper"] <= right
        assert (row["upper"] - row["lower"]) / (right - left) > 0.3


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "serial"])
def test_work_alongside_the_figures_runs_and_keeps_their_order(tmp_path, monkeypatch, fork):
    # write_report hands the CLI's posterior file to the figures' worker processes
    import multilevel.forked
    from multilevel.report.figures import report_figures

    monkeypatch.setattr(multilevel.forked, "can_fork", lambda: fork)
    fit = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    table = interval_table(fit)
    jobs = [lambda i=i: (tmp_path / f"side{i}.txt").write_text(str(i)) for i in range(2)]
    figures, not_drawn = report_figures(fit, table, alongside=jobs)
    assert [f.name for f in figures] == ["forest", "residuals", "groups", "caterpillar", "effects"]
    assert all(f.png[:8] == PNG_MAGIC for f in figures) and not_drawn == []
    assert [(tmp_path / f"side{i}.txt").read_text() for i in range(2)] == ["0", "1"]

    def fails():
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        report_figures(fit, table, alongside=[fails])


def test_drawing_does_not_load_a_lazily_registered_jax(tmp_path, monkeypatch):
    # ArviZ registers jax as a lazy module; matplotlib reads sys.modules["jax"].Array for
    # every array it plots, which would import jax (0.5 s) in each drawing process
    import importlib.util
    import sys

    import multilevel.forked
    from multilevel.report.figures import forest_plot, report_figures

    fake = tmp_path / "fakejax.py"
    fake.write_text(f"import pathlib\npathlib.Path({str(tmp_path / 'loaded')!r}).touch()\nclass Array: pass\n")

    def lazy_stub():
        spec = importlib.util.spec_from_file_location("jax", fake)
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    monkeypatch.setattr(multilevel.forked, "can_fork", lambda: False)
    fit = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    table = interval_table(fit)
    stub = lazy_stub()
    monkeypatch.setitem(sys.modules, "jax", stub)
    report_figures(fit, table)
    assert not (tmp_path / "loaded").exists() and sys.modules["jax"] is stub
    forest_plot(table).savefig(tmp_path / "plain.png")   # outside report_figures: loaded
    assert (tmp_path / "loaded").exists()


def test_each_report_figure_is_laid_out_and_drawn_once(bayes_ss_slopes, monkeypatch):
    # savefig's tight bounding box, tight_layout() and savefig's pre-draw for a layout
    # engine each drew the figure again (issue 24: 2.0 -> 1.7 CPU s for the report's figures)
    import matplotlib.figure

    import multilevel.forked

    monkeypatch.setattr(multilevel.forked, "can_fork", lambda: False)
    draws = []
    original = matplotlib.figure.Figure.draw

    def counting(self, renderer):
        draws.append(id(self))
        return original(self, renderer)

    monkeypatch.setattr(matplotlib.figure.Figure, "draw", counting)
    from multilevel.report.figures import report_figures

    figures, _ = report_figures(bayes_ss_slopes, interval_table(bayes_ss_slopes))
    assert [f.name for f in figures] == ["forest", "residuals", "groups", "caterpillar", "effects",
                                         "rank", "ppc"]
    assert len(draws) == len(figures) == len(set(draws))


def test_report_figures_do_not_depend_on_the_users_matplotlibrc(bayes_ss_slopes, monkeypatch):
    # the layout is the figure's own: an rc asking for tight boxes, autolayout or another
    # default format changes no pixel of the report's PNGs
    import io

    import matplotlib as mpl
    from PIL import Image

    import multilevel.forked
    from multilevel.report.figures import report_figures

    monkeypatch.setattr(multilevel.forked, "can_fork", lambda: False)
    table = interval_table(bayes_ss_slopes)
    plain, _ = report_figures(bayes_ss_slopes, table)
    hostile = {"savefig.bbox": "tight", "savefig.format": "pdf", "figure.autolayout": True}
    with mpl.rc_context(hostile):
        other, _ = report_figures(bayes_ss_slopes, table)
    for a, b in zip(plain, other):
        pixels = [np.asarray(Image.open(io.BytesIO(f.png)).convert("RGB")) for f in (a, b)]
        assert a.name == b.name and pixels[0].shape == pixels[1].shape, a.name
        assert np.array_equal(*pixels), a.name


# ------------------------------------------------- issue 25: spec [report] x and rope
def _spec(report: dict, method: str = "reml", formula: str = "Reaction ~ Days + Days2 + (Days | Subject)"):
    from multilevel.spec import parse_spec

    return parse_spec({"name": "ss", "data": "sleepstudy", "formula": formula, "method": method,
                       "report": report})


def test_spec_x_is_the_group_panels_axis(tmp_path, monkeypatch, sleepstudy):
    import multilevel.forked
    from multilevel import plots
    from multilevel.report.figures import report_x

    monkeypatch.setattr(multilevel.forked, "can_fork", lambda: False)   # record the calls here
    data = sleepstudy.assign(Days2=sleepstudy["Days"] ** 2)
    fit = ml.fit("Reaction ~ Days + Days2 + (Days | Subject)", data, method="reml")
    assert report_x(fit, _spec({})) is None and report_x(fit, None) is None
    assert report_x(fit, _spec({"x": "Days2"})) == "Days2"
    drawn = []
    group_panels = plots.group_panels
    monkeypatch.setattr(plots, "group_panels", lambda fit, x=None, **kw: drawn.append(group_panels(fit, x, **kw))
                        or drawn[-1])
    write_report(fit, tmp_path / "rep", spec=_spec({"x": "Days2"}))
    write_report(fit, tmp_path / "default", spec=_spec({}))
    assert [fig.axes[-1].get_xlabel() for fig in drawn] == ["Days2", "Days"]
    assert (tmp_path / "rep" / "groups.png").exists()


def test_spec_x_that_is_not_a_numeric_predictor_is_a_spec_error(tmp_path, sleepstudy):
    from multilevel.errors import SpecError

    spec = _spec({"x": "Subject"}, formula="Reaction ~ Days + (Days | Subject)")
    with pytest.raises(SpecError, match=r"\[report\] x = 'Subject' is not a numeric column"):
        spec.load_data()        # before the fit: the CLI reads the data first
    fit = ml.fit("Reaction ~ Days + (Days | Subject)", sleepstudy, method="reml")
    with pytest.raises(SpecError, match=r"\[report\] x = 'Subject' is not a numeric predictor.*\['Days'\]"):
        write_report(fit, tmp_path / "rep", spec=spec)
    assert not (tmp_path / "rep").exists()
    with pytest.raises(SpecError, match=r"\[report\] x = 'Reaction' is not a variable"):
        _spec({"x": "Reaction"})


@pytest.mark.slow
def test_spec_rope_adds_a_practical_significance_section(bayes_ss_slopes):
    from multilevel.effects import describe_posterior
    from multilevel.report import render_markdown

    content = report_content(bayes_ss_slopes, spec=_spec({"rope": [-5, 5]}, method="bayes",
                                                         formula=bayes_ss_slopes.formula))
    expected = describe_posterior(bayes_ss_slopes, rope=(-5, 5)).set_index("Parameter")
    table = content.practical
    assert list(table.index) == ["(Intercept)", "Days"] == list(expected.index)
    np.testing.assert_allclose(table["in_rope"], expected["ROPE_Percentage"])
    np.testing.assert_allclose(table["p_direction"], expected["pd"])
    np.testing.assert_allclose(table[["lower", "upper"]], expected[["CI_low", "CI_high"]])
    # Days (about 10.5, 95% interval about 7-14) lies outside [-5, 5]
    assert table.loc["Days", "in_rope"] == 0.0 and table.loc["Days", "p_direction"] == 1.0
    md = render_markdown(content)
    assert "## Practical significance" in md and "ROPE) [-5, 5]" in md
    assert report_content(bayes_ss_slopes).practical is None


def test_effects_figure_draws_each_numeric_predictor(sleepstudy):
    from multilevel.report.figures import effects_figure, numeric_predictors

    data = sleepstudy.assign(Days2=sleepstudy["Days"] ** 2)
    fit = ml.fit("Reaction ~ Days + Days2 + (Days | Subject)", data, method="reml")
    assert numeric_predictors(fit) == ["Days", "Days2"]
    fig = effects_figure(fit, ["Days", "Days2"], 0.9)
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes] == [("Days", "Reaction"), ("Days2", "Reaction")]


def test_cli_spec_report_x_reaches_the_report_or_is_refused_before_the_fit(tmp_path, capsys, monkeypatch):
    from multilevel.cli import main

    body = 'data = "sleepstudy"\nformula = "Reaction ~ Days + (1 | Subject)"\nmethod = "reml"\n[report]\n'
    (tmp_path / "good.toml").write_text(body + 'x = "Days"\n')
    assert main(["fit", str(tmp_path / "good.toml"), "--out", str(tmp_path / "good")]) == 0
    assert "(dashed: the population line)" in (tmp_path / "good" / "report.md").read_text()
    (tmp_path / "bad.toml").write_text(body + 'x = "Subject"\n')
    fitted = []
    monkeypatch.setattr(ml, "fit", lambda *a, **k: fitted.append(a))
    assert main(["fit", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "bad")]) == 1
    assert "[report] x = 'Subject' is not a numeric column" in capsys.readouterr().err
    assert fitted == [] and not (tmp_path / "bad").exists()
