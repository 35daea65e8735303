"""The HTML report: self-contained, with the interval table and the figures, rendered by Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from multilevel.report import report_figures

pytestmark = pytest.mark.slow
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("No headless Chromium found: install Debian's package with "
                "`apt-get install -y chromium` (.ci/run does this on CI machines).")


def test_figures_have_expected_panels(bayes_ss_slopes):
    figs = report_figures(bayes_ss_slopes)
    assert set(figs) == {"forest", "rank", "ppc"}
    assert len(figs["forest"].axes) == 1
    assert len(figs["forest"].axes[0].get_yticklabels()) == 2          # (Intercept), Days
    assert sum(ax.get_visible() for ax in figs["rank"].axes) == 6     # the six summary parameters
    assert len(figs["ppc"].axes[0].lines) >= 51                       # 50 replicates + observed


def test_html_report_renders_in_chromium(bayes_ss_slopes, tmp_path):
    page = bayes_ss_slopes.report(tmp_path / "report", ci=0.9, kind="hdi")
    folder = Path(page).parent
    assert sorted(p.name for p in folder.iterdir()) == ["forest.png", "ppc.png", "rank.png",
                                                        "report.html", "report.md"]
    text = page.read_text()
    assert "HDI 90% credible intervals" in text and "data:image/png;base64," in text
    shot = tmp_path / "report.png"
    dom = subprocess.run(
        [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True).stdout
    assert "cor__(Intercept).Days|Subject" in dom          # the interval table
    assert dom.count("<img") == 3                          # rank, forest, predictive check
    subprocess.run([_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000                   # a rendered page, not a blank one
