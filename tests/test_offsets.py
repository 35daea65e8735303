"""offset(expr) as lme4: coefficient fixed at 1, in LMMs and GLMMs, carried into predictions
(references: tests/reference/make_realdata.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from realdata_check import check_fit, close

import multilevel as ml
from multilevel.errors import DataError, FormulaError
from multilevel.formula import parse_formula


@pytest.mark.parametrize("key", ["lmm_offset", "lmm_offset_ml"])
def test_lmm_offset_matches_lmer(key, realdata_ref, realdata):
    """R's tight lmer fit (bobyqa, rhoend 1e-10): logLik 1e-6, fixef 1e-4, predictions 1e-6."""
    r = realdata_ref[key]
    m = ml.fit(r["formula"], realdata[r["data"]], method=r["method"])
    assert "offset" not in " ".join(m.fixef.index)      # no coefficient for the offset
    check_fit(m, r["tight"], se=1e-5, vcov=1e-5)
    if r["method"] == "reml":
        close(m.reml_criterion, r["tight"]["REMLcrit"], 1e-9, what="REML criterion")
    # R's default lmer stops a little short: its logLik still agrees to 1e-8
    close(m.loglik, r["logLik"], 1e-8, what="logLik vs default lmer")


@pytest.mark.parametrize("optimizer, entry", [("glmer", None), ("bobyqa", "tight")])
def test_poisson_offset_matches_glmer(optimizer, entry, realdata_ref, realdata):
    r = realdata_ref["poisson_offset"]
    ref = r if entry is None else r[entry]
    m = ml.fit(r["formula"], realdata["sim"], method="ml", family="poisson", optimizer=optimizer)
    check_fit(m, ref, pred=1e-6 if entry is None else 1e-5)


def test_offset_predictions_on_new_data(realdata_ref, realdata):
    r = realdata_ref["poisson_offset"]
    t = r["tight"]
    m = ml.fit(r["formula"], realdata["sim"], method="ml", family="poisson", optimizer="bobyqa")
    new = realdata["sim"].iloc[[i - 1 for i in r["newdata_rows"]]].copy()
    new["exposure"] = r["newdata_exposure"]
    close(m.predict(new)["estimate"], r["newdata_predict_link"], 1e-6, what="new, with groups")
    close(m.predict(new, group_effects=False)["estimate"], r["newdata_predict_link_fixed"], 1e-6,
          what="new, re.form=NA")
    close(m.predict(new, type="response")["estimate"], r["newdata_predict_response"], 1e-6,
          what="new, response")
    # doubling the exposure doubles the expected count: the coefficient is 1
    twice = new.assign(exposure=2 * new["exposure"])
    close(m.predict(twice, type="response")["estimate"],
          2 * m.predict(new, type="response")["estimate"], 1e-12, what="offset coefficient 1")
    assert t["logLik"] == pytest.approx(m.loglik, rel=1e-6)
    with pytest.raises(DataError, match="exposure"):
        m.predict(new.drop(columns="exposure"))


def test_offset_is_taken_out_of_the_fixed_part():
    f = parse_formula("y ~ x + offset(log(e)) + offset(z) + (1 | g)")
    assert f.fixed == "x" and f.offsets == ("log(e)", "z")
    with pytest.raises(FormulaError, match="subtracted"):
        parse_formula("y ~ x - offset(z)")
    with pytest.raises(FormulaError, match="fixed part"):
        parse_formula("y ~ x + (offset(z) | g)")


def test_offset_must_be_finite(realdata):
    data = realdata["sim"].assign(exposure0=0.0)
    with pytest.raises(DataError, match="not finite"):
        ml.fit("count ~ x + offset(log(exposure0)) + (1 | g)", data, method="ml", family="poisson")


def test_linear_model_with_offset_and_weights_matches_lm(realdata):
    """R 4.2.2: lm(yn ~ x + offset(2 * log(exposure)), sim, weights = w)."""
    sim = realdata["sim"]
    formula = "yn ~ x + offset(2 * log(exposure))"
    m = ml.fit(formula, sim, method="ml", weights="w")
    r = ml.fit(formula, sim, method="reml", weights="w")
    close([m.loglik, r.loglik], [-520.69158767384170, -521.88782879629218], 1e-12, what="logLik")
    close(m.fixef, [8.12630142486962, 2.13997640934232], 1e-12, what="coef")
    close(m.se, [0.22007073326362, 0.22173050983335], 1e-12, what="SE")
    close(m.sigma, 4.82789544105897, 1e-12, what="sigma")
    new = pd.DataFrame({"x": [0.0, 1.0], "exposure": [1.0, 2.0]})
    close(m.predict(new)["estimate"], [8.12630142486962, 11.65257219533183], 1e-12, what="predict")


def test_lrt_notes_different_offsets(realdata):
    sim = realdata["sim"]
    a = ml.fit("count ~ 1 + (1 | g)", sim, method="ml", family="poisson")
    b = ml.fit("count ~ x + offset(log(exposure)) + (1 | g)", sim, method="ml", family="poisson")
    result = ml.lrt(a, b)
    assert result.df == 1
    assert any("different offsets" in note for note in result.notes)


def test_poisson_glm_with_offset_and_a_link_matches_glm(realdata):
    """Without random effects: R's glm (values from R 4.2.2, tests/reference/make_realdata.R data)."""
    sim = realdata["sim"]
    m = ml.fit("count ~ x + offset(log(exposure))", sim, family="poisson", method="ml")
    close([m.loglik, m.deviance, m.null_deviance], [-433.6435055722378, 336.5046393837281,
                                                   566.5219723687078], 1e-10, what="glm offset")
    close(m.fixef, [0.3061185630689, 0.5502683873903], 1e-8, what="fixef")
    close(m.se, [0.0381418665615, 0.0361495463044], 1e-6, what="SE (R stops IRLS at 1e-8)")
    new = sim.head(3)
    close(m.predict(new.assign(exposure=2 * new["exposure"]), type="response")["estimate"],
          2 * m.predict(new, type="response")["estimate"], 1e-12, what="offset in predict")
    w = ml.fit("count ~ x", sim, family="poisson", method="ml", link="sqrt", weights="w")
    close([w.loglik, w.deviance, w.null_deviance], [-1342.44772472, 1389.88813670, 1855.04778418],
          1e-9, what="glm sqrt link, weights")
    close(w.fixef, [1.97014955455, 0.482944495139], 1e-5, what="fixef (R's glm stops at 1e-8)")
