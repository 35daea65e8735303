"""`multilevel compare SPEC SPEC --out DIR`: prints the table, writes a complete run folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from multilevel.cli import main

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.mark.slow
def test_cli_compare_writes_table_and_plot(tmp_path, capsys):
    out = tmp_path / "cmp"
    status = main(["compare", str(MODELS / "sleepstudy-intercept.toml"),
                   str(MODELS / "sleepstudy.toml"), "--out", str(out),
                   "--draws", "200", "--tune", "300", "--chains", "2", "--no-progress"])
    assert status == 0
    captured = capsys.readouterr()
    # a plain table on the terminal, the markdown in table.md
    assert captured.out.startswith("Model comparison: 2 models")
    assert "## " not in captured.out and "|---" not in captured.out
    assert "sleepstudy-random-slopes" in captured.out
    assert f"Wrote {out}/" in captured.err
    assert sorted(p.name for p in out.iterdir()) == [
        ".multilevel-run", "plot.png", "spec1-sleepstudy-intercept.toml", "spec2-sleepstudy.toml", "table.csv",
        "table.md"]
    table = pd.read_csv(out / "table.csv", index_col="model")
    assert list(table.index) == ["sleepstudy-random-intercept", "sleepstudy-random-slopes"]
    assert table.loc["sleepstudy-random-slopes", "rank"] == 0
    markdown = (out / "table.md").read_text()
    assert markdown.startswith("## Model comparison") and "sleepstudy-random-slopes" in markdown


def test_cli_compare_refuses_specs_with_the_same_name(tmp_path, capsys):
    spec = MODELS / "sleepstudy-intercept.toml"
    assert main(["compare", str(spec), str(spec), "--out", str(tmp_path / "x")]) == 1
    assert "distinct names" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_cli_compare_needs_two_specs(tmp_path, capsys):
    assert main(["compare", str(MODELS / "sleepstudy-intercept.toml"),
                 "--out", str(tmp_path / "x")]) == 1
    assert "at least two models" in capsys.readouterr().err
