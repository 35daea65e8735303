"""Comparison of a frequentist fit with one entry of tests/reference/realdata.json."""

from __future__ import annotations

import numpy as np


def close(ours, theirs, rtol, atol=0.0, what=""):
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    assert np.allclose(ours, theirs, rtol=rtol, atol=atol), \
        f"{what}: ours {ours.ravel()[:6]} vs R {theirs.ravel()[:6]} (rtol {rtol}, atol {atol})"


def check_fit(m, r, loglik=1e-6, fixef=1e-4, se=1e-3, pred=1e-6, vcov=1e-3):
    """logLik/AIC/BIC, fixef, SEs, sigma, VarCorr and predictions against one R entry."""
    assert m.nobs == r["nobs"] and m.df == r["df"]
    close([m.loglik, m.aic, m.bic], [r["logLik"], r["AIC"], r["BIC"]], loglik, what="logLik/AIC/BIC")
    names = list(r["fixef"])
    assert list(m.fixef.index) == names
    close(m.fixef[names], list(r["fixef"].values()), fixef, atol=fixef * 1e-2, what="fixef")
    close(m.se[names], list(r["fixef_se"].values()), se, what="SE")
    close(m.sigma, r["sigma"], vcov, what="sigma")
    vc = m.varcorr
    grp = r["varcorr"]["grp"]   # jsonlite unboxes one-element vectors
    assert vc["grp"].tolist() == ([grp] if isinstance(grp, str) else grp)
    close(vc["vcov"], r["varcorr"]["vcov"], vcov, atol=1e-8, what="vcov")
    close(m.predict()["estimate"], r["predict_link"], pred, atol=pred, what="predict")
    close(m.predict(group_effects=False)["estimate"], r["predict_link_fixed"], pred, atol=pred,
          what="predict re.form=NA")
    close(m.predict(type="response")["estimate"], r["predict_response"], pred, atol=pred, what="predict response")
