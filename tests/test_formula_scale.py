"""``scale()`` in formulas is R's: centred, divided by the sample SD (n − 1), fitted on the
rows R's ``model.frame`` uses, reused for new data, and the same in our design and Bambi's.

References: ``tests/reference/scale.json`` from ``tests/reference/make_scale.R`` (R 4.2.2,
lme4 1.1-31). The formulas are R's own deparsed text (``scale(Days, center = FALSE)``):
R's spelling is accepted. Tolerances (relative): LMM fixed effects, logLik and predictions
1e-6 against R's default lmer, SEs 1e-6 and θ 1e-4 against lmer run to the optimum; the model-frame column 1e-10; the GLMM (R's default glmer, replayed by
the default optimizer) fixed effects 1e-4, logLik 1e-6.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataWarning, FormulaError
from multilevel.formula import build_design, model_frame, parse_formula
from multilevel.formula.transforms import SCALE_ROWS, r_scale_parameters

REF = json.loads((Path(__file__).parent / "reference" / "scale.json").read_text())


def sleepstudy_na() -> pd.DataFrame:
    """Days missing in rows 1, 5 and Reaction in rows 2, 3, 40 (R's 1-based numbers)."""
    d = ml.datasets.load("sleepstudy").copy()
    d.loc[d.index[[0, 4]], "Days"] = np.nan
    d.loc[d.index[[1, 2, 39]], "Reaction"] = np.nan
    return d


DATA = {"sleepstudy": lambda: ml.datasets.load("sleepstudy"), "sleepstudy_na": sleepstudy_na,
        "grouseticks": lambda: ml.datasets.load("grouseticks")}
LMM = [k for k, r in REF.items() if "family" not in r]
GLMM = [k for k, r in REF.items() if "family" in r]


def close(ours, theirs, rtol, what):
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape, what
    assert np.all(np.abs(ours - theirs) <= rtol * np.abs(theirs)), f"{what}: ours {ours} vs R {theirs}"


def fit(key: str):
    r = REF[key]
    method = "ml" if "family" in r or not r["REML"] else "reml"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # sleepstudy_na drops 5 rows, as R
        return ml.fit(r["formula"], DATA[r["data"]](), method=method,
                      family=r.get("family", "gaussian"))


def design(formula: str, data: pd.DataFrame, family: str = "gaussian"):
    parsed = parse_formula(formula)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return build_design(parsed, model_frame(parsed, data, family=family))


def scale_column(d) -> np.ndarray:
    j = next(i for i, name in enumerate(d.x_names) if name.startswith("scale("))
    return d.X[:, j]


@pytest.mark.parametrize("key", LMM)
def test_lmm_matches_lme4(key):
    r = REF[key]
    f = fit(key)
    assert f.nobs == r["nobs"]
    assert list(f.fixef.index) == list(r["fixef"])   # R deparse's spelling: center = FALSE
    close(f.fixef.to_numpy(), list(r["fixef"].values()), 1e-6, f"{key} fixef")
    # SEs and θ at the optimum: lmer's default stops short on the random-slope model
    close(f.se[f.fixef.index].to_numpy(), list(r["tight"]["fixef_se"].values()), 1e-6, f"{key} SE")
    close(f.theta.to_numpy(), list(r["tight"]["theta"].values()), 1e-4, f"{key} theta")
    close(f.loglik, r["logLik"], 1e-6, f"{key} logLik")
    newdata = pd.DataFrame(r["newdata"])
    close(f.predict(newdata, group_effects=False)["estimate"].to_numpy(), r["predict"], 1e-6,
          f"{key} predictions on new Days (R's re.form = NA)")


@pytest.mark.parametrize("key", LMM + GLMM)
def test_design_column_is_rs_model_frame_column(key):
    r = REF[key]
    column = scale_column(design(r["formula"], DATA[r["data"]](), r.get("family", "gaussian")))
    close(column, r["column"], 1e-10, f"{key} scale() column")


@pytest.mark.parametrize("key", GLMM)
def test_glmm_matches_rs_default_glmer(key):
    r = REF[key]
    f = fit(key)
    assert f.nobs == r["nobs"]
    assert list(f.fixef.index) == list(r["fixef"])
    close(f.fixef.to_numpy(), list(r["fixef"].values()), 1e-4, f"{key} fixef")
    close(f.loglik, r["logLik"], 1e-6, f"{key} logLik")


def test_predictions_reuse_the_training_mean_and_sd():
    """New data are scaled by the fitted rows' mean and SD, not their own; with missing values
    those are R's (mean 4.528, SD 2.876 over the 178 rows with Days), not the 175 kept rows'."""
    for data, key in ((ml.datasets.load("sleepstudy"), "ss_scale"), (sleepstudy_na(), "ss_na_scale")):
        spec = design("Reaction ~ scale(Days) + (1 | Subject)", data).spec
        new = pd.DataFrame({"Days": [0.0, 4.5, 12.0, 12.0]})
        center, scale = REF[key]["center"], REF[key]["scale"]
        close(spec.fixed_X(new)[:, 1], (new["Days"] - center) / scale, 1e-12, key)
        # a single new row has no SD of its own
        close(spec.fixed_X(new.iloc[:1])[:, 1], [-center / scale], 1e-12, key)


def test_scale_fits_on_rs_rows_when_another_column_is_missing():
    d = sleepstudy_na()
    col = scale_column(design("Reaction ~ scale(Days) + (1 | Subject)", d))
    days = d["Days"].dropna()
    kept = d.dropna(subset=["Days", "Reaction"])["Days"]
    close(col, (kept - days.mean()) / days.std(ddof=1), 1e-12, "R's rows")
    # an expression's argument too: R's mean and SD of log(Days + 1) over the rows with Days
    col = scale_column(design("Reaction ~ scale(log(Days + 1)) + (1 | Subject)", d))
    close(col, (np.log(kept + 1) - np.log(days + 1).mean()) / np.log(days + 1).std(ddof=1), 1e-12,
          "R's rows, log(Days + 1)")
    # a model frame of the kept rows alone (no rows dropped) uses those rows, as R would
    again = design("Reaction ~ scale(Days) + (1 | Subject)",
                   design("Reaction ~ scale(Days) + (1 | Subject)", d).frame.data)
    close(scale_column(again), (kept - kept.mean()) / kept.std(ddof=1), 1e-12, "kept rows")
    assert SCALE_ROWS not in again.frame.data.attrs


@pytest.mark.parametrize("data", ["sleepstudy", "sleepstudy_na"])
def test_bambi_model_gets_the_same_scaled_columns(data):
    from multilevel.bayes import build_model

    formula = "Reaction ~ scale(Days) + (scale(Days) | Subject)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        built = build_model(formula, DATA[data]())
    component = built.bambi.conditional_parameters[built.bambi.family.likelihood.parent]
    ours = scale_column(built.design)
    close(np.asarray(component.design.common["scale(Days)"]).ravel(), ours, 1e-14, "common")
    Z = component.design.group["scale(Days)|Subject"]
    close(np.asarray(Z.sum(axis=1)).ravel(), ours, 1e-14, "group-specific")
    slope = next(t for t in built.design.reterms if t.cnms == ["(Intercept)", "scale(Days)"])
    close(slope.X[:, 1], ours, 1e-14, "random-effect term")


def test_formulae_outside_this_package_keeps_its_own_scale():
    import formulae
    from formulae import transforms

    original = dict(transforms.TRANSFORMS)
    design("Reaction ~ scale(Days) + (1 | Subject)", DATA["sleepstudy"]())
    assert transforms.TRANSFORMS == original   # restored after our evaluation
    days = DATA["sleepstudy"]()["Days"].to_numpy(float)
    plain = formulae.design_matrices("0 + scale(Days)", DATA["sleepstudy"]()).common.design_matrix
    close(np.asarray(plain).ravel(), (days - days.mean()) / days.std(), 1e-12, "formulae's own scale")


def test_python_and_r_spellings_and_aliases_agree():
    data = ml.datasets.load("sleepstudy")
    days = data["Days"].to_numpy(dtype=float)
    rms = np.sqrt(np.sum(days ** 2) / (len(days) - 1))
    cases = {
        "scale(Days)": (days - days.mean()) / days.std(ddof=1),
        "standardize(Days)": (days - days.mean()) / days.std(ddof=1),
        "scale(Days, center=True, scale=TRUE)": (days - days.mean()) / days.std(ddof=1),
        "center(Days)": days - days.mean(),
        "scale(Days, scale=False)": days - days.mean(),
        "scale(Days, scale = FALSE)": days - days.mean(),
        "scale(Days, center=False)": days / rms,  # R: root mean square with n - 1
        "scale(Days, center=1.5, scale=2)": (days - 1.5) / 2,
    }
    for term, expected in cases.items():
        X = design(f"Reaction ~ 0 + {term} + (1 | Subject)", data).X
        close(X[:, 0], expected, 1e-12, term)


@pytest.mark.parametrize("term, message", [
    ("scale(Days2)", "divide by zero"),
    ("scale(Days, scale=0)", "divide by zero"),
    ("scale(Days, center='mean')", "True, False or finite number"),
])
def test_scale_refuses_what_r_cannot_use(term, message):
    data = ml.datasets.load("sleepstudy").assign(Days2=1.0)
    with pytest.raises(FormulaError, match=message):
        design(f"Reaction ~ {term} + (1 | Subject)", data)


def test_r_scale_parameters_match_r_semantics():
    x = np.array([1.0, 2.0, np.nan, 4.0, 8.0])
    c, s = r_scale_parameters(x)
    v = x[~np.isnan(x)]
    close(c, [v.mean()], 1e-15, "mean without NA")
    close(s, [v.std(ddof=1)], 1e-15, "sample SD without NA")
    m = np.column_stack([v, 2 * v])
    c, s = r_scale_parameters(m, center=[0.0, 1.0], scale=True)  # column-wise, as R
    close(s, [np.sqrt(np.sum(v ** 2) / 3), np.sqrt(np.sum((2 * v - 1) ** 2) / 3)], 1e-15, "matrix")
    # one row: R divides by max(1, n - 1) (and centring it leaves 0/0, refused)
    close(r_scale_parameters(np.array([-3.0]), center=False)[1], [3.0], 1e-15, "one row")
    with pytest.raises(FormulaError, match="divide by zero"):
        r_scale_parameters(np.array([-3.0]))
