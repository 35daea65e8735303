"""t and F tests of fixed-effect contrasts with Satterthwaite's or Kenward–Roger's
denominator df (lmerTest's ``contest1D``/``contestMD``), the coefficient table and the
ANOVA table built on them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataWarning, SpecError, warn
from multilevel.inference.kenward_roger import kr_info, kr_statistics
from multilevel.inference.varpar import check_lmm, varpar_info

DDF = {"satterthwaite": "satterthwaite", "kenward-roger": "kenward-roger", "kr": "kenward-roger",
       "kenward_roger": "kenward-roger", None: None, "none": None, "asymptotic": None}


def normalize_ddf(ddf) -> str | None:
    key = ddf.lower() if isinstance(ddf, str) else ddf
    if key not in DDF:
        raise SpecError(f"ddf={ddf!r} is not valid; use 'satterthwaite', 'kenward-roger' or None "
                        "(no df: z tests / Wald).")
    return DDF[key]


def contrast_matrix(fit, L) -> np.ndarray:
    """L as a (k × p) float matrix; a DataFrame is aligned on the fixed-effect names."""
    names = list(fit.design.x_names)
    if isinstance(L, pd.DataFrame):
        unknown = [c for c in L.columns if c not in names]
        if unknown:
            raise SpecError(f"Contrast columns {unknown} are not fixed effects of this model; "
                            f"the fixed effects are {names}.")
        L = L.reindex(columns=names, fill_value=0.0).to_numpy(dtype=float)
    try:
        L = np.atleast_2d(np.asarray(L, dtype=float))
    except (TypeError, ValueError):
        raise SpecError(f"L must be a numeric (k × p) matrix, one column per fixed effect ({names}), "
                        f"or a DataFrame with those columns; got {L!r}.") from None
    if L.ndim == 2 and L.shape[0] == 0:
        raise SpecError(f"L has no rows: give at least one contrast over the fixed effects {names}.")
    if L.ndim != 2 or L.shape[1] != len(names):
        raise SpecError(f"L must have one column per fixed effect ({len(names)}: {names}); got "
                        f"shape {L.shape}.")
    if not np.all(np.isfinite(L)):
        raise SpecError("L has missing or infinite entries.")
    return L


def _t_pvalue(t, df):
    from scipy import stats

    df = np.asarray(df, dtype=float)
    return np.where(np.isfinite(df), 2 * stats.t.sf(np.abs(t), np.where(np.isfinite(df), df, 1.0)),
                    2 * stats.norm.sf(np.abs(t)))


def contrast_rows(fit, L, ddf: str | None = "kenward-roger") -> pd.DataFrame:
    """Estimate, standard error and df of each row of L β (one t test per row).

    Parameters
    ----------
    fit : FreqFit
        A linear mixed model fitted by REML (Kenward–Roger, Satterthwaite) or ML
        (Satterthwaite); with ``ddf=None`` any fit with ``fixef`` and ``vcov``.
    L : array-like (k × p) or DataFrame with fixed-effect names as columns
    ddf : {"kenward-roger", "satterthwaite", None}
        Kenward–Roger takes the standard error from the adjusted covariance Φ_A
        (pbkrtest's ``vcovAdj``); None gives Wald standard errors and ``df = inf``.

    Returns
    -------
    DataFrame with columns ``estimate``, ``std_error``, ``df`` (one row per row of L).

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.inference import contrast_rows
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> contrast_rows(m, [[1, 5]], ddf="kenward-roger").round(3)
       estimate  std_error    df
    0   303.742      9.581  17.0
    """
    method = normalize_ddf(ddf)
    L = contrast_matrix(fit, L)
    beta = fit.fixef.to_numpy()
    est = L @ beta
    if method is None:
        V = fit.vcov.to_numpy()
        se = np.sqrt(np.einsum("ij,jk,ik->i", L, V, L))
        df = np.full(len(L), np.inf)
    elif method == "kenward-roger":
        info = kr_info(fit)
        se = np.sqrt(np.einsum("ij,jk,ik->i", L, info.vcov_adj, L))
        df = np.array([kr_statistics(info, row[None, :])["df"] for row in L])
    else:
        info = varpar_info(fit)
        var = np.einsum("ij,jk,ik->i", L, info.vcov, L)
        grad = np.einsum("ij,mjk,ik->im", L, info.jac, L)           # (k rows, n varpar)
        df = 2 * var ** 2 / np.einsum("im,mn,in->i", grad, info.cov_varpar, grad)
        se = np.sqrt(var)
    return pd.DataFrame({"estimate": est, "std_error": se, "df": df})


def t_tests(fit, L, ddf, rhs=0.0) -> pd.DataFrame:
    """contrast_rows plus t value (of H0: Lβ = rhs) and two-sided p."""
    table = contrast_rows(fit, L, ddf)
    table["t_value"] = (table["estimate"] - rhs) / table["std_error"]
    table["p"] = _t_pvalue(table["t_value"].to_numpy(), table["df"].to_numpy())
    return table


def fstat_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    """Denominator df of an F built from q independent t statistics with df ν_m
    (lmerTest: matching the mean of Σ t²_m)."""
    if len(nu) == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    E = np.sum(nu / (nu - 2))
    return float(2 * E / (E - len(nu)))


def f_test(fit, L, ddf: str | None = "satterthwaite", eps: float = np.sqrt(np.finfo(float).eps),
           rhs=None) -> dict:
    """Joint F test of H0: Lβ = rhs (default 0) as lmerTest's ``contestMD`` (Sum Sq and Mean
    Sq on σ²'s scale; Kenward–Roger's F is scaled, its Sum Sq is not, as lmerTest prints
    them). A non-zero rhs shifts β by L⁺ rhs (lmerTest's ``ginv(L) %*% rhs``)."""
    from scipy import stats

    method = normalize_ddf(ddf)
    L = contrast_matrix(fit, L)
    beta = fit.fixef.to_numpy()
    if rhs is not None and np.any(rhs != 0):
        if np.linalg.matrix_rank(L) < len(L):
            warn("The contrast L is rank deficient and rhs is not zero: the test is of the "
                 "projection of rhs on L's row space (lmerTest: 'test may be affected'). Give "
                 "linearly independent rows.", DataWarning)
        beta = beta - np.linalg.pinv(L) @ rhs
    s2 = fit.sigma ** 2
    if method == "kenward-roger":
        info = kr_info(fit)
        q = int(np.linalg.matrix_rank(L))
        if q < len(L):
            # pbkrtest's force_full_rank: a basis of L's row space (the test is the same;
            # L V Lᵀ of the rows as given is singular). lmerTest's contestMD with
            # rank(L) = 2 of 3 rows: NumDF 2.
            from scipy.linalg import qr

            Q = qr(L.T, pivoting=True, mode="economic")[0]
            L = Q[:, :q].T
        Lb = L @ beta
        wald = float(Lb @ np.linalg.solve(L @ info.vcov_adj @ L.T, Lb))
        kr = kr_statistics(info, L, q=q)
        F_u = wald / q
        F = F_u * kr["F_scaling"]
        return {"Sum Sq": F_u * s2 * q, "Mean Sq": F_u * s2, "NumDF": q, "DenDF": kr["df"], "F": F,
                "p": float(stats.f.sf(F, q, kr["df"]))}
    V = varpar_info(fit).vcov if method == "satterthwaite" else fit.vcov.to_numpy()
    d, P = np.linalg.eigh(L @ V @ L.T)
    d, P = d[::-1], P[:, ::-1]
    q = int(np.sum(d > max(eps * d[0], 0)))
    if q == 0:
        raise SpecError("The contrast matrix L has no estimable direction (L V L' is zero).")
    PtL = P[:, :q].T @ L
    F = float(np.sum((PtL @ beta) ** 2 / d[:q]) / q)
    if method is None:
        den = np.inf
        p = float(stats.chi2.sf(F * q, q))
    else:
        nu = contrast_rows(fit, PtL, "satterthwaite")["df"].to_numpy()
        den = fstat_ddf(nu)
        p = float(stats.f.sf(F, q, den))
    return {"Sum Sq": F * s2 * q, "Mean Sq": F * s2, "NumDF": q, "DenDF": den, "F": F, "p": p}


def default_ddf(fit):
    return "satterthwaite"


def coef_table(fit, ddf: str | None = "satterthwaite") -> pd.DataFrame:
    """The fixed-effects table with df and p, as lmerTest's ``summary()``.

    Parameters
    ----------
    fit : FreqFit
    ddf : {"satterthwaite", "kenward-roger", None}
        Satterthwaite (lmerTest's default; REML or ML fits), Kenward–Roger (REML fits;
        the standard errors are then from the adjusted covariance), or None (no df: the
        z test on the Wald statistic).

    Returns
    -------
    DataFrame indexed by fixed effect: ``estimate``, ``std_error``, ``df``, ``t_value``, ``p``.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.inference import coef_table
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> coef_table(m).round(4)
                 estimate  std_error    df  t_value    p
    (Intercept)  251.4051     6.8246  17.0  36.8383  0.0
    Days          10.4673     1.5458  17.0   6.7715  0.0
    """
    names = list(fit.design.x_names)
    table = t_tests(fit, np.eye(len(names)), ddf)
    table.index = pd.Index(names)
    return table[["estimate", "std_error", "df", "t_value", "p"]]


def anova(fit, *fits, type: int = 3, ddf: str | None = "satterthwaite"):
    """F tests of the fixed-effect terms, as lmerTest's ``anova()``; given two or more
    fits, their likelihood-ratio tests, as lme4's ``anova(m1, m2)`` (:func:`multilevel.lrt`).

    A factor with several columns is one row; ``Sum Sq`` and ``Mean Sq`` are on the
    residual variance's scale (F · σ² · NumDF, F · σ²). A GLMM gets Wald tests: ``F`` is
    the Wald χ² over ``NumDF``, ``DenDF`` is infinite and ``p`` the χ² tail probability
    (car's ``Anova(glmer)`` prints ``Chisq`` = F · NumDF; type 2 is car's, each term after
    the terms that do not contain it in the estimates' metric). A linear model (no group terms)
    gets exact F tests (:mod:`multilevel.inference.linear`: R's ``anova(lm)`` for type 1,
    ``car::Anova`` for types 2 and 3).

    Parameters
    ----------
    fit : FreqFit, GLMMFit or OLSFit
    *fits
        Further fits: the models are compared instead (an ``LRTResult``).
    type : {3, 2, 1} or {"III", "II", "I"}
        Type III (default, as lmerTest), II or I (sequential) hypotheses; see
        :mod:`multilevel.inference.contrasts`.
    ddf : {"satterthwaite", "kenward-roger", None}

    Returns
    -------
    DataFrame indexed by term: ``Sum Sq``, ``Mean Sq``, ``NumDF``, ``DenDF``, ``F``, ``p``.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.inference import anova
    >>> m = ml.fit("angle ~ recipe * temperature + (1 | recipe:replicate)", "cake", method="reml")
    >>> anova(m).round(3)
                          Sum Sq  Mean Sq  NumDF  DenDF       F      p
    recipe                10.186    5.093      2   42.0   0.249  0.781
    temperature         2100.300  420.060      5  210.0  20.520  0.000
    recipe:temperature   205.978   20.598     10  210.0   1.006  0.439
    """
    from multilevel.inference.contrasts import term_contrasts

    if fits:
        from multilevel.freq.lrt import lrt, lrt_sequence

        if not (isinstance(type, int) and type == 3 and ddf == "satterthwaite"):
            # lme4's anova(m1, m2) has no type or ddf: they would be dropped silently
            raise SpecError(f"type= and ddf= choose one fit's F tests; anova() of several fits is "
                            f"their likelihood-ratio test (got type={type!r}, ddf={ddf!r}). Leave "
                            "them out, or call ml.anova(fit, type=..., ddf=...) on each fit.")

        if len(fits) == 1:
            return lrt(fit, fits[0], names=("model1", "model2"))
        return lrt_sequence([fit, *fits], [f"model{i + 1}" for i in range(len(fits) + 1)])
    from multilevel.inference.glm_tests import glm_anova, is_glm
    from multilevel.inference.linear import is_linear_model, lm_anova

    if is_linear_model(fit):   # R's anova(lm) / car::Anova: exact F tests, any ddf
        normalize_ddf(ddf)
        return lm_anova(fit, anova_type(type))
    if is_glm(fit):   # R's anova(glm, test = "Chisq") / car::Anova(glm): deviance tests
        normalize_ddf(ddf)
        return glm_anova(fit, anova_type(type))
    ddf = _glmm_wald(fit, ddf, "anova()")
    type = anova_type(type)
    if type == 2 and fit.family != "gaussian":   # Wald tests: car's type II, in V's metric
        from multilevel.inference.contrasts import wald_type2

        contrasts = wald_type2(fit.design, fit.vcov.to_numpy())
    else:
        contrasts = term_contrasts(fit.design, type)
    table = _f_table(fit, {name: L for name, L in contrasts.items() if len(L)}, ddf)
    table.attrs["type"] = type
    return table


F_COLUMNS = ("Sum Sq", "Mean Sq", "NumDF", "DenDF", "F", "p")
#: lmerTest's spellings of the ANOVA type (``type = c("III", "II", "I", "3", "2", "1")``)
ANOVA_TYPES = {"iii": 3, "ii": 2, "i": 1, "3": 3, "2": 2, "1": 1}


def _glmm_wald(fit, ddf, what: str):
    """The ddf to use: a GLMM's F tests are Wald χ² tests (no denominator df: car's
    ``Anova(glmer)``), whatever ddf names except Kenward–Roger, which is refused; an LMM
    keeps ``ddf`` (checked as :func:`check_lmm` does)."""
    from multilevel.freq import FreqFit

    if isinstance(fit, FreqFit) and getattr(fit, "family", "gaussian") != "gaussian":
        if normalize_ddf(ddf) == "kenward-roger":
            raise SpecError(f"{what} of a {fit.family} GLMM: Kenward-Roger's df are for linear mixed "
                            "models; a GLMM's tests are Wald chi-square tests (ddf=None).")
        from multilevel.freq.structures import refuse_structured

        refuse_structured(fit, what)
        return None
    check_lmm(fit, what)
    return ddf


def anova_type(type) -> int:
    """1, 2 or 3 from lmerTest's spellings (3, "3", "III"); anything else is refused."""
    if isinstance(type, str) and type.strip().lower() in ANOVA_TYPES:
        return ANOVA_TYPES[type.strip().lower()]
    if isinstance(type, (int, np.integer)) and not isinstance(type, bool) and type in (1, 2, 3):
        return int(type)
    raise SpecError(f"type={type!r} is not valid; use 1, 2 or 3 (or 'I', 'II', 'III', as lmerTest's "
                    "anova).")


def _f_table(fit, contrasts: dict, ddf) -> pd.DataFrame:
    """One F test per named hypothesis matrix; an empty one (nothing to test) is NaN. No
    hypothesis at all (an intercept-only model) is a table without rows, as lmerTest's."""
    rows = {name: f_test(fit, L, ddf) if len(L) else dict.fromkeys(F_COLUMNS, np.nan)
            for name, L in contrasts.items()}
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=list(F_COLUMNS))
    table.attrs["ddf"] = normalize_ddf(ddf)
    return table


def drop1(fit, ddf: str | None = "satterthwaite", test: str | None = None) -> pd.DataFrame:
    """F tests of deleting each fixed-effect term that no other term contains, as
    lmerTest's ``drop1()`` ("Single term deletions"); with ``test="Chisq"``, lme4's own
    ``drop1``: ML refits without each term, AIC and likelihood-ratio tests (LMMs and GLMMs,
    :func:`multilevel.inference.drop.drop1_lrt`).

    Each row tests the restriction that deleting the term imposes on the model
    (:func:`multilevel.inference.contrasts.deletion_contrast`); a term whose deletion
    changes nothing (an aliased column) gets NaN, as in lmerTest.

    Parameters
    ----------
    fit : FreqFit
    ddf : {"satterthwaite", "kenward-roger", None}
    test : {None, "Chisq"}
        ``"Chisq"``: lme4's table (``npar``, ``AIC``, ``LRT``, ``Pr(Chi)``) instead; ``ddf``
        does not apply.

    Returns
    -------
    DataFrame indexed by term: ``Sum Sq``, ``Mean Sq``, ``NumDF``, ``DenDF``, ``F``, ``p``.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.inference import drop1
    >>> m = ml.fit("angle ~ recipe * temperature + (1 | recipe:replicate)", "cake", method="reml")
    >>> drop1(m).round(3)
                         Sum Sq  Mean Sq  NumDF  DenDF      F      p
    recipe:temperature  205.978   20.598     10  210.0  1.006  0.439
    """
    from multilevel.errors import FormulaError
    from multilevel.inference.contrasts import deletion_contrast, droppable, fixed_terms

    from multilevel.inference.glm_tests import glm_drop1, is_glm

    if test is not None and (not isinstance(test, str) or test.lower() not in ("chisq", "lrt")):
        raise SpecError(f"test={test!r} is not valid; use None (lmerTest's F tests) or 'Chisq' "
                        "(lme4's likelihood-ratio tests).")
    if is_glm(fit):   # R's drop1(glm, test = "Chisq"): deviance tests, whatever test says
        return glm_drop1(fit)
    if test is not None:
        from multilevel.inference.drop import drop1_lrt

        return drop1_lrt(fit)
    from multilevel.inference.linear import is_linear_model, lm_drop1

    if is_linear_model(fit):   # R's drop1(lm, test = "F"): exact, any ddf
        normalize_ddf(ddf)
        return lm_drop1(fit)
    ddf = _glmm_wald(fit, ddf, "drop1()")
    if fit.design.spec.smooths:
        raise FormulaError("drop1() tests fixed-effect terms; a model with smooths s(x) has "
                           "columns of no term. Compare the models with ml.lrt(reduced, full).")
    return _f_table(fit, {term.name: deletion_contrast(fit.design, term)
                          for term in droppable(fixed_terms(fit.design))}, ddf)


def contest(fit, L, ddf: str | None = "satterthwaite", joint: bool = True, rhs=0.0) -> pd.DataFrame:
    """Test a user's contrasts Lβ = rhs (default 0), as lmerTest's ``contest()``.

    Parameters
    ----------
    fit : FreqFit
    L : array-like (k × p), a vector (one contrast), or a DataFrame with fixed-effect names as columns
    ddf : {"satterthwaite", "kenward-roger", None}
    joint : bool
        One F test of all rows together (``Sum Sq``, ``Mean Sq``, ``NumDF``, ``DenDF``,
        ``F``, ``p``), or a t test per row (``estimate``, ``std_error``, ``df``,
        ``t_value``, ``p``).
    rhs : float or array-like (k,)
        The hypothesized values of Lβ (lmerTest's ``rhs``): one per row of L, or one for
        all. The t statistics are (Lβ̂ − rhs) / SE (``estimate`` stays Lβ̂); the joint test
        shifts β̂ by L⁺ rhs, as lmerTest, and warns where L's rows are linearly dependent.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.inference import contest
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> contest(m, [0, 1], joint=False).round(4)
       estimate  std_error    df  t_value    p
    0   10.4673     1.5458  17.0   6.7715  0.0
    """
    from multilevel.inference.linear import is_linear_model

    linear = is_linear_model(fit)   # a linear model's tests are exact, whatever ddf
    if normalize_ddf(ddf) is not None and not linear:
        check_lmm(fit, "contest()")
    L = contrast_matrix(fit, L)
    try:
        rhs = np.broadcast_to(np.asarray(rhs, dtype=float), (len(L),)).copy()
    except (TypeError, ValueError):
        raise SpecError(f"rhs must be a number or one number per row of L ({len(L)} rows); got "
                        f"{rhs!r}.") from None
    if not np.all(np.isfinite(rhs)):
        raise SpecError(f"rhs has missing or infinite entries: {rhs}.")
    if linear:
        from multilevel.inference.linear import lm_f_test, lm_t_tests

        return pd.DataFrame([lm_f_test(fit, L, rhs=rhs)]) if joint else lm_t_tests(fit, L, rhs)
    if joint:
        return pd.DataFrame([f_test(fit, L, ddf, rhs=rhs)])
    return t_tests(fit, L, ddf, rhs)[["estimate", "std_error", "df", "t_value", "p"]]
