"""The entry-layer wiring of multilevel.inference: fit.summary(ddf=), fit.confint,
fit.simulate, ml.anova / ml.contest / ml.confint / ml.r2, ml.lrt(bootstrap=)."""

import json
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel import inference

REF = json.loads((Path(__file__).parent / "reference" / "inference.json").read_text())


@pytest.fixture(scope="module")
def fit():
    return ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")


def test_summary_defaults_to_satterthwaite(fit):
    ref = REF["tests"]["sleepstudy"]
    table = fit.summary()
    assert list(table.columns) == ["estimate", "std_error", "df", "t_value", "p"]
    np.testing.assert_allclose(table["df"], ref["satterthwaite"]["df"], rtol=1e-5)
    kr = fit.summary(ddf="kenward-roger")
    np.testing.assert_allclose(kr["df"], ref["kenward_roger"]["df"], rtol=1e-5)
    lme4 = fit.summary(ddf=None)
    assert list(lme4.columns) == ["estimate", "std_error", "t_value"]
    assert "df" not in repr(fit).split("Fixed effects:")[1]      # print(fit) stays lme4's


def test_public_names(fit):
    assert ml.anova is inference.anova and ml.contest is inference.contest
    assert ml.confint is inference.confint
    # ml.r2 dispatches: Nakagawa's R² (inference.r2) for REML/ML fits, Bayesian R² for draws
    assert ml.r2(fit).equals(inference.r2(fit))
    assert ml.r2(fit)["conditional"] == pytest.approx(REF["r2"]["random_slope"]["conditional"], rel=1e-4)
    wald = fit.confint(method="wald")
    assert wald.equals(ml.confint(fit, method="wald"))
    assert fit.simulate(nsim=2, seed=4).equals(inference.simulate(fit, nsim=2, seed=4))
    table = ml.anova(fit)
    assert table.loc["Days", "DenDF"] == pytest.approx(REF["tests"]["sleepstudy"]["anova"]
                                                       ["type3_satterthwaite"]["den_df"], rel=1e-5)


def test_lrt_bootstrap_column():
    d = ml.datasets.load("sleepstudy")
    a = ml.fit("Reaction ~ Days + (1 | Subject)", d, method="ml")
    b = ml.fit("Reaction ~ Days + (Days | Subject)", d, method="ml")
    plain = ml.lrt(a, b)
    boot = ml.lrt(a, b, bootstrap=15, seed=2)
    assert "p_bootstrap" not in plain.table.columns
    assert boot.table["p_bootstrap"].iloc[1] == pytest.approx(1 / 16)
    assert boot.table.attrs["bootstrap"].nsim == 15
    assert boot.chisq == plain.chisq and any("PBmodcomp" in n for n in boot.notes)


def test_report_ddf_from_spec(tmp_path, capsys):
    """[report] ddf = "kenward-roger": the run's table has KR df and p, t intervals."""
    import pandas as pd

    from multilevel.cli import main

    spec = tmp_path / "ss.toml"
    spec.write_text('name = "ss-kr"\ndata = "sleepstudy"\nformula = "Reaction ~ Days + (Days | Subject)"\n'
                    'method = "reml"\n[report]\nddf = "kenward-roger"\nplots = false\n')
    assert main(["fit", str(spec), "--out", str(tmp_path / "run")]) == 0
    table = pd.read_csv(tmp_path / "run" / "summary.csv", index_col=0)
    assert list(table.columns) == ["estimate", "std_error", "df", "t_value", "p", "lower", "upper"]
    np.testing.assert_allclose(table["df"], REF["tests"]["sleepstudy"]["kenward_roger"]["df"], rtol=1e-5)
    assert "Kenward-Roger df" in capsys.readouterr().out


def test_report_default_keeps_lme4_wald(fit):
    from multilevel.report import interval_table

    assert "df" not in interval_table(fit, ci=0.95).columns
    table = interval_table(fit, ci=0.95, ddf="satterthwaite")
    assert table.attrs["ddf"] == "satterthwaite" and "p" in table.columns


def test_spec_refuses_unknown_ddf():
    from multilevel.errors import SpecError
    from multilevel.spec import parse_spec

    raw = {"data": "sleepstudy", "formula": "Reaction ~ Days + (1 | Subject)", "method": "reml",
           "report": {"ddf": "bogus"}}
    with pytest.raises(SpecError, match=r"\[report\] ddf"):
        parse_spec(raw)


def test_confint_parm_selects_rows_as_lme4(fit):
    """lme4's confint(parm=): "beta_", "theta_" or names (the index's or the name column's)."""
    full = ml.confint(fit, method="wald")
    assert list(ml.confint(fit, method="wald", parm="beta_").index) == ["(Intercept)", "Days"]
    assert list(ml.confint(fit, method="wald", parm="theta_").index) == [".sig01", ".sig02", ".sig03", ".sigma"]
    picked = fit.confint(method="wald", parm=["Days", "sd_Days|Subject"])
    assert list(picked.index) == ["Days", ".sig03"]
    assert picked.equals(full.loc[["Days", ".sig03"]])
    for bad in (["Nights"], 3, []):
        with pytest.raises(ml.errors.SpecError, match="parm"):
            ml.confint(fit, method="wald", parm=bad)
    lm = ml.fit("Reaction ~ Days", "sleepstudy", method="reml")
    assert list(ml.confint(lm, parm="beta_").index) == ["(Intercept)", "Days"]
    assert ml.confint(lm, parm="theta_").empty
