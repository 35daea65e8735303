"""Estimated marginal means and their contrasts, as R's emmeans.

The reference grid holds every level of each factor predictor and numeric predictors at
their means (or values given in ``at``); a marginal mean is the equally weighted average
of the grid's predictions over the factors not in ``specs`` (emmeans' default weighting),
at the population level (no group effects). For REML/ML linear mixed models the degrees
of freedom are Kenward–Roger's by default (emmeans' default for ``lmerMod``), computed by
:func:`multilevel.inference.contrast_rows`; GLMMs and GLMs are asymptotic (z). Bayesian
fits: the means and contrasts are computed per draw and summarized by the median and an
equal-tailed interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.effects import _engine as E
from multilevel.effects.grid import is_factor, reference_grid
from multilevel.effects.multiplicity import ADJUSTMENTS, JOINT, adjust_table
from multilevel.errors import DataError

DDF = ("auto", "kenward-roger", "satterthwaite", "asymptotic", "residual")
CONTRASTS = ("pairwise", "revpairwise", "trt.vs.ctrl", "trt.vs.ctrlk", "dunnett", "sequential",
             "consec", "poly", "eff", "del.eff", "identity")
# emmeans' default adjustment of each contrast family (the others: "none")
DEFAULT_ADJUST = {"pairwise": "tukey", "revpairwise": "tukey", "trt.vs.ctrl": "dunnettx",
                  "trt.vs.ctrlk": "dunnettx", "dunnett": "dunnettx", "eff": "fdr", "del.eff": "fdr",
                  "consec": "mvt", "sequential": "mvt"}
WEIGHTS = ("equal", "proportional", "outer", "cells", "flat")
# contrast families emmeans calls pairwise comparisons (its estType "pairs"): the only
# ones the studentized range (adjust="tukey") applies to
PAIRS = ("pairwise", "revpairwise")


def parse_specs(specs, by) -> tuple[list[str], list[str]]:
    """``"a"``, ``["a", "b"]`` or ``"~ a | b"`` -> (spec variables, by variables)."""
    if by is not None and not isinstance(by, (str, list, tuple)):
        raise DataError(f"by must be a variable name or a list of names, got {by!r}.")
    by = [] if by is None else ([by] if isinstance(by, str) else list(by))
    if isinstance(specs, str):
        text = specs.replace("~", " ").strip()
        if "|" in text:
            text, right = text.split("|", 1)
            extra = [v.strip() for v in right.replace("*", "+").split("+") if v.strip()]
            if not extra:   # "~ recipe |" was read as "~ recipe", the bar dropped silently
                raise DataError(f"specs={specs!r} has nothing after '|'; name the by variable(s), "
                                "e.g. '~ temperature | recipe', or leave out the bar.")
            by = by + extra
        names = [v.strip() for v in text.replace("*", "+").split("+") if v.strip()]
    elif isinstance(specs, (list, tuple)):
        names = list(specs)
    else:
        raise DataError(f"specs must be a variable name, a list of names or a formula such as "
                        f"'~ temperature | recipe', got {specs!r}.")
    if not names:
        raise DataError(f"specs={specs!r} names no variable; e.g. 'recipe' or '~ temperature | recipe'.")
    twice = [v for i, v in enumerate(names + by) if v in (names + by)[:i]]
    if twice:   # the grid would have two columns of that name (pandas' ValueError)
        raise DataError(f"emmeans: {twice[0]!r} is named twice in specs={specs!r} and by={by!r}; "
                        "name each variable once, as a spec or as a by variable.")
    return names, by


def _ddf(fit, ddf: str):
    if ddf not in DDF:
        raise DataError(f"ddf={ddf!r} is not valid; use one of {DDF}.")
    gaussian_lmm = fit.family == "gaussian" and bool(fit.design.reterms) and not hasattr(fit, "approximation")
    if ddf == "auto":
        if gaussian_lmm:
            return "kenward-roger"
        return "residual" if fit.family == "gaussian" and not fit.design.reterms else "asymptotic"
    if ddf in ("kenward-roger", "satterthwaite") and not gaussian_lmm:
        raise DataError(f"ddf={ddf!r} applies to linear mixed models fitted by REML/ML; "
                        "use ddf='asymptotic' for this fit.")
    return ddf


def linear_rows(fit, L: np.ndarray, ddf: str) -> pd.DataFrame:
    """Estimate, SE and df of Lβ for a frequentist fit."""
    if ddf == "kenward-roger" and not fit.reml:   # emmeans' KR of an ML lmer fit
        from multilevel.inference.kenward_roger import kr_info_emmeans, kr_statistics

        info = kr_info_emmeans(fit)
        return pd.DataFrame({"estimate": L @ fit.fixef.to_numpy(),
                             "std_error": np.sqrt(np.einsum("ij,jk,ik->i", L, info.vcov_adj, L)),
                             "df": [kr_statistics(info, row[None, :])["df"] for row in L]})
    if ddf in ("kenward-roger", "satterthwaite"):
        from multilevel.inference import contrast_rows

        out = contrast_rows(fit, L, ddf=ddf)
        return pd.DataFrame({"estimate": np.asarray(out["estimate"], float),
                             "std_error": np.asarray(out["std_error"], float),
                             "df": np.asarray(out["df"], float)})
    beta, V = fit.fixef.to_numpy(), fit.vcov.to_numpy()
    se = np.sqrt(np.einsum("ij,jk,ik->i", L, V, L))
    df = float(fit.df_resid) if ddf == "residual" else np.inf
    return pd.DataFrame({"estimate": L @ beta, "std_error": se, "df": np.full(len(L), df)})


def _cells(fit, names, by, at, weights="equal"):
    """Rows of L (one per marginal mean), their labels (emmeans' order: first variable
    fastest) and whether each mean is estimable."""
    X, W, labels = cell_rows(fit, names, by, at, weights)
    with np.errstate(invalid="ignore", divide="ignore"):   # a mean whose weights are all 0: NaN
        W = W / W.sum(axis=1, keepdims=True)
    L = W @ X
    full = full_rows(fit, at)
    return L, labels, (None if full is None else W @ full), np.full(len(L), mean_offset(fit))


def mean_offset(fit) -> float:
    """emmeans' ``.offset.``: the mean of the formula's ``offset()`` over the fitted rows (0
    without one), added to every mean of the grid whatever its covariates' values, so that
    means are at the typical offset (``offset(log(expo))``: the log of the geometric mean
    exposure), not at an offset of 0."""
    if not fit.design.spec.parsed.offsets:
        return 0.0
    return float(np.mean(fit.design.offset_or_zero))


def cell_rows(fit, names, by, at, weights="equal", design=None):
    """The reference grid's design rows, each marginal mean's weights over the grid's rows
    (means × rows, zero outside the mean's cells; emmeans' ``weights=``) and the means'
    labels, emmeans' order (first variable fastest).

    ``design(spec, grid)`` gives the rows (default ``spec.fixed_X(grid)``; emtrends passes
    a difference quotient)."""
    grid = reference_grid(fit, at)
    for v in names + by:
        if v not in grid.columns:
            raise DataError(f"emmeans: {v!r} is not a fixed-effect predictor; predictors: {list(grid.columns)}.")
    X = fit.design.spec.fixed_X(grid) if design is None else design(fit.design.spec, grid)
    keys = by + names
    labels = grid[keys].drop_duplicates()
    # first spec variable varies fastest, by variables slowest
    labels = labels.sort_values(list(reversed(names)), kind="stable")
    labels = labels.sort_values(list(reversed(by)), kind="stable") if by else labels
    masks = np.array([np.all([grid[k].astype(str).to_numpy() == str(lab[k]) for k in keys], axis=0)
                      for _, lab in labels.iterrows()], dtype=float)
    return X, masks * grid_weights(fit, grid, keys, weights), labels[names + by].reset_index(drop=True)


def grid_weights(fit, grid: pd.DataFrame, keys: list[str], weights: str) -> np.ndarray:
    """Weight of each reference-grid row within its marginal mean, as emmeans' ``weights``.

    The grid's ``.wgt.`` in emmeans is the number of fitted rows with the grid row's factor
    levels. "equal": 1; "cells": that count (a mean of the fitted cells, so an empty cell
    drops out); "flat": 1 for the non-empty cells; "proportional": the joint count of the
    averaged-over factors' levels (summed over the spec and ``by`` variables); "outer": the
    product of their marginal counts.
    """
    if not isinstance(weights, str) or weights not in WEIGHTS:
        raise DataError(f"weights={weights!r} is not valid; use one of {WEIGHTS}.")
    if weights == "equal":
        return np.ones(len(grid))
    data = E.fit_data(fit)
    factors = [c for c in grid.columns if is_factor(data[c])]
    if factors:
        def key(frame):
            return frame[factors].astype(str).agg("\x1f".join, axis=1)
        counts = key(grid).map(key(data).value_counts()).fillna(0.0).to_numpy(dtype=float)
    else:
        counts = np.full(len(grid), float(len(data)))
    if weights in ("cells", "flat"):
        return counts if weights == "cells" else (counts > 0).astype(float)
    averaged = [c for c in grid.columns if c not in keys and grid[c].astype(str).nunique() > 1]
    if not averaged:
        return np.ones(len(grid))
    frame = grid[averaged].astype(str).assign(_n=counts)
    if weights == "proportional":
        return frame.groupby(averaged)["_n"].transform("sum").to_numpy(dtype=float)
    out = np.ones(len(grid))
    for c in averaged:   # "outer": a product of marginal frequencies
        out *= frame.groupby(c)["_n"].transform("sum").to_numpy(dtype=float) / counts.sum()
    return out


def full_rows(fit, at, design=None):
    """The reference grid's design rows with the aliased columns kept (None when the fit
    dropped none): estimability is judged on them. ``design``: as in :func:`cell_rows`."""
    if not fit.design.dropped_columns:
        return None
    from dataclasses import replace

    spec, grid = replace(fit.design.spec, kept_columns=None), reference_grid(fit, at)
    return spec.fixed_X(grid) if design is None else design(spec, grid)


def estimable(fit, L_full) -> np.ndarray | None:
    """emmeans' (estimability's) check: a row l of the full design's coefficients is
    estimable when it is orthogonal to the null space N of the fitted X,
    ‖N'l‖² < 1e-8 ‖l‖². None when no column was dropped (every row is estimable)."""
    if L_full is None:
        return None
    from dataclasses import replace

    Xf = replace(fit.design.spec, kept_columns=None).fixed_X(E.fit_data(fit))
    rank = Xf.shape[1] - len(fit.design.dropped_columns)
    N = np.linalg.svd(Xf, full_matrices=True)[2][rank:].T      # null-space basis
    with np.errstate(invalid="ignore"):
        chk = ((L_full @ N) ** 2).sum(axis=1)
        return chk < 1e-8 * (L_full ** 2).sum(axis=1)


def poly_contrasts(k: int) -> list[tuple[str, np.ndarray]]:
    """emmeans' ``poly`` contrasts for k equally spaced levels: orthogonal polynomials of
    degree 1 .. min(6, k − 1), each scaled to the integers of the classical tables (divided
    by its smallest positive value, then by its largest distance from an integer until
    that is below 0.05, then rounded) and named "linear", "quadratic", ..., "degree 5"."""
    names = ["linear", "quadratic", "cubic", "quartic"] + [f"degree {d}" for d in range(5, 21)]
    x = np.arange(1, k + 1, dtype=float)
    x -= x.mean()
    basis = [np.ones(k) / np.sqrt(k)]
    out = []
    for d in range(1, min(6, k - 1) + 1):
        v = x ** d
        for b in basis:   # Gram–Schmidt: highest power's coefficient stays positive, as R's poly()
            v = v - (v @ b) * b
        v = v / np.linalg.norm(v)
        basis.append(v)
        con = v / v[v > 0.01].min()
        z = np.abs(con - np.round(con)).max()
        while z > 0.05:
            con = con / z
            z = np.abs(con - np.round(con)).max()
        out.append((names[d - 1], np.round(con)))
    return out


def _contrast_matrix(kind, labels: list[str]):
    k = len(labels)
    if isinstance(kind, dict):
        rows = []
        for name, w in kind.items():
            try:
                w = np.asarray(w, dtype=float)
            except (TypeError, ValueError):
                raise DataError(f"contrast {name!r} must be {k} numeric weights, one per mean "
                                f"({labels}); got {w!r}.") from None
            if w.shape != (k,):
                raise DataError(f"contrast {name!r} has {w.size} weights; the family has {k} means ({labels}).")
            if not np.all(np.isfinite(w)):
                raise DataError(f"contrast {name!r} has missing or infinite weights: {w.tolist()}.")
            rows.append((name, w))
        return rows
    if isinstance(kind, (np.ndarray, pd.DataFrame)):
        try:
            W = np.asarray(kind, dtype=float)
        except (TypeError, ValueError):
            raise DataError(f"a contrast matrix must be numeric, {k} columns (one per mean: "
                            f"{labels}).") from None
        if W.ndim != 2 or W.shape[1] != k:
            raise DataError(f"a contrast matrix needs {k} columns (one per mean: {labels}), got shape {W.shape}.")
        names = list(kind.index.astype(str)) if isinstance(kind, pd.DataFrame) else [f"c{i + 1}" for i in range(len(W))]
        return list(zip(names, W))
    out = []
    if kind == "pairwise":
        for i in range(k):
            for j in range(i + 1, k):
                w = np.zeros(k)
                w[i], w[j] = 1.0, -1.0
                out.append((f"{labels[i]} - {labels[j]}", w))
    elif kind == "revpairwise":   # emmeans' order: by the later level, "2 - 1", "3 - 1", "3 - 2", "4 - 1", ...
        for i in range(1, k):
            for j in range(i):
                w = np.zeros(k)
                w[i], w[j] = 1.0, -1.0
                out.append((f"{labels[i]} - {labels[j]}", w))
    elif kind == "poly":
        out = poly_contrasts(k)
    elif kind in ("trt.vs.ctrl", "dunnett"):
        for j in range(1, k):
            w = np.zeros(k)
            w[j], w[0] = 1.0, -1.0
            out.append((f"{labels[j]} - {labels[0]}", w))
    elif kind == "trt.vs.ctrlk":   # the last mean is the control
        for j in range(k - 1):
            w = np.zeros(k)
            w[j], w[k - 1] = 1.0, -1.0
            out.append((f"{labels[j]} - {labels[k - 1]}", w))
    elif kind in ("eff", "del.eff"):   # each mean against the mean of all (eff) or of the others
        for j in range(k):
            w = np.full(k, -1.0 / (k if kind == "eff" else k - 1))
            w[j] = 1.0 - 1.0 / k if kind == "eff" else 1.0
            out.append((f"{labels[j]} effect", w))
    elif kind == "identity":
        out = [(labels[j], np.eye(k)[j]) for j in range(k)]
    elif kind in ("sequential", "consec"):
        for j in range(1, k):
            w = np.zeros(k)
            w[j], w[j - 1] = 1.0, -1.0
            out.append((f"{labels[j]} - {labels[j - 1]}", w))
    else:
        raise DataError(f"contrasts={kind!r} is not valid; use one of {CONTRASTS}, a dict of weights or a matrix.")
    return out


def _reads_as_number(text: str) -> bool:
    """R's ``!is.na(as.numeric(text))`` (emmeans' ``.is.num``) for a level label."""
    try:
        float(text.replace("_", "x"))   # Python reads 1_000, R does not
    except ValueError:
        return False
    return True


def _families(labels: pd.DataFrame, names, by):
    """Index sets of the means within each ``by`` group, and the means' labels.

    As emmeans' ``contrast(enhance.levels = TRUE)``, a variable whose levels all read as
    numbers (``factor(dose)``: 1, 2, 10; a numeric ``at`` grid) is labelled with its name
    before the level, ``dose1 - dose2``, not ``1 - 2``."""
    parts = labels[names].astype(str)
    for name in names:
        if all(_reads_as_number(v) for v in parts[name]):
            parts[name] = name + parts[name]
    text = parts.agg(" ".join, axis=1).tolist()
    if not by:
        return [(np.arange(len(labels)), {})], text
    keys = labels[by].astype(str).agg("\x1f".join, axis=1)
    fams = []
    for key in dict.fromkeys(keys):
        idx = np.flatnonzero((keys == key).to_numpy())
        fams.append((idx, {b: labels[b].iloc[idx[0]] for b in by}))
    return fams, text


def emmeans(fit, specs, by=None, at: dict | None = None, contrasts=None, adjust: str | None = None,
            type: str = "link", ddf: str = "auto", ci: float = 0.95, mode: str | None = None,
            weights: str = "equal", regrid: bool = False):
    """Estimated marginal means (and contrasts among them), as R's emmeans.

    Parameters
    ----------
    fit : FreqFit or BayesFit
    specs : str or list of str
        The factor(s) whose means are wanted: ``"recipe"``, ``["recipe", "temperature"]``
        or emmeans' formula ``"~ temperature | recipe"``.
    by : str or list of str, optional
        Means (and contrast families) separately within these factors.
    at : dict, optional
        Values of predictors in the reference grid (numeric ones default to their mean).
    contrasts : str, dict or matrix, optional
        Also return contrasts among the means within each ``by`` group, by emmeans' names:
        "pairwise", "revpairwise", "trt.vs.ctrl" (= "dunnett"; each mean against the
        first), "trt.vs.ctrlk" (against the last), "consec" (= "sequential"; each mean
        against the one before), "poly" (emmeans' integer orthogonal-polynomial contrasts
        of equally spaced levels, up to degree 6), "eff" (each mean against the mean of
        all), "del.eff" (against the mean of the others), "identity" (the means); a
        dict maps a label to weights over the means, a matrix has one row per contrast.
    adjust : str, optional
        Multiplicity adjustment of the contrasts' p-values (and intervals) within each
        family: "tukey" (default for pairwise and revpairwise), "dunnettx" (emmeans'
        approximate Dunnett, default for trt.vs.ctrl, trt.vs.ctrlk and dunnett),
        "bonferroni", "holm", "fdr" (= "BH"; Benjamini–Hochberg, default for eff and
        del.eff; intervals Bonferroni's, as emmeans), "mvt" (default for consec: the exact
        distribution of the family's largest |t|, a multivariate t with the contrasts'
        correlations and emmeans' whole df; emmeans' mvtnorm is accurate to 1e-3, ours to
        ~2e-5), "scheffe" (F with the rank of the family), "sidak", "none" (default
        otherwise). As emmeans: "tukey" on contrasts other than pairwise comparisons
        becomes "sidak", and a family of one contrast is not adjusted ("none"; except
        "scheffe").
    type : {"link", "response"}
        Scale of the results: response-scale means are back-transformed (SE by the delta
        method, intervals back-transformed); contrasts become odds ratios (logit) or
        ratios (log).
    ddf : {"auto", "kenward-roger", "satterthwaite", "asymptotic", "residual"}
        Degrees of freedom for REML/ML fits. "auto": Kenward–Roger for linear mixed models,
        n − p for linear models, asymptotic otherwise.
    ci : float
    mode : {"prob", "mean.class"}, optional
        Ordinal fits (``cumulative``, ``sratio``) only, as emmeans' ``mode`` for clm/clmm:
        ``"prob"`` (the default for them) the probability of each category, averaged over
        the grid at the population level (group effects at zero); ``"mean.class"`` the expected
        category score Σ_k score_k P(y = k). Their linear predictor alone (a latent score
        without the thresholds) is not offered.
    weights : {"equal", "proportional", "outer", "cells", "flat"}
        How the grid's cells are averaged into a marginal mean, as emmeans' ``weights``:
        equally (the default); by the joint frequencies in the data of the factors averaged
        over ("proportional") or the product of their marginal frequencies ("outer"); by
        each cell's own frequency ("cells": the mean of the fitted cells) or equally over
        the non-empty cells ("flat").
    regrid : bool
        With ``type="response"``, as emmeans' ``regrid()``: the back-transformed means
        become the estimates themselves, so their intervals are symmetric (mean ± quantile ×
        delta-method SE) and contrasts are differences of them (of probabilities, of rates)
        with delta-method SEs, not ratios. No effect for an identity link.

    Returns
    -------
    DataFrame of means (spec and by columns, ``estimate``, ``std_error``, ``df``, ``lower``,
    ``upper``), or with ``contrasts`` a dict ``{"emmeans": ..., "contrasts": ...}``; the
    contrast table has ``contrast``, the by columns, ``estimate``, ``std_error``, ``df``,
    ``statistic``, ``p_value``, ``lower``, ``upper``. Bayesian fits: posterior medians,
    SD and equal-tailed intervals (no df or p). A mean or contrast that is not estimable
    (it needs a column aliased in the fit, e.g. an empty cell of an interaction) is NaN,
    as emmeans' NA. Ordinal fits with ``mode="prob"``: one
    row per mean and category, the category in a column named after the response.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("angle ~ recipe * temperature + (1 | recipe:replicate)", "cake", method="reml")
    >>> ml.emmeans(m, "recipe", ddf="asymptotic").round(3)
      recipe  estimate  std_error   df   lower   upper
    0      A    33.122      1.737  inf  29.718  36.526
    1      B    31.644      1.737  inf  28.240  35.049
    2      C    31.600      1.737  inf  28.196  35.004
    """
    E.check_fit(fit)
    E.check_type(type)
    ci = E.check_ci(ci)
    if not isinstance(regrid, (bool, np.bool_)):
        raise DataError(f"regrid must be True or False, got {regrid!r}.")
    if regrid and type != "response":
        raise DataError("regrid=True re-expresses the means on the response scale; "
                        "pass type='response' with it (or leave regrid=False for the link scale).")
    names, by = parse_specs(specs, by)
    from multilevel.effects.ordinal_emm import check_mode, ordinal_emmeans

    if check_mode(fit, mode, type, contrasts):
        return ordinal_emmeans(fit, *cell_rows(fit, names, by, at, weights), mode or "prob", ci)
    L, labels, L_full, offset = _cells(fit, names, by, at, weights)
    return marginal_tables(fit, L, labels, L_full, offset, names, by, contrasts, adjust,
                           type, ddf, ci, regrid)


def marginal_tables(fit, L, labels, L_full, offset, names, by, contrasts, adjust, type, ddf, ci,
                    regrid=False):
    """The means Lβ (labelled by ``labels``) and, with ``contrasts``, their contrasts within
    each ``by`` family: the tables :func:`emmeans` returns (and ``emtrends``, with the rows
    of L the trends' difference quotients)."""
    fams, text = _families(labels, names, by)
    if contrasts is not None and adjust is None:
        adjust = DEFAULT_ADJUST.get(contrasts, "none") if isinstance(contrasts, str) else "none"
    if adjust is not None and adjust not in ADJUSTMENTS:
        raise DataError(f"adjust={adjust!r} is not valid; use one of {ADJUSTMENTS}.")
    C_rows, C_labels, per_family = [], [], [0]
    if contrasts is not None:
        for idx, by_vals in fams:
            rows = _contrast_matrix(contrasts, [text[i] for i in idx])
            per_family.append(len(rows))
            for name, w in rows:
                row = np.zeros(len(labels))
                row[idx] = w
                C_rows.append(row)
                C_labels.append({"contrast": name, **by_vals})
    C = np.vstack(C_rows) if C_rows else np.zeros((0, len(labels)))
    if adjust == "tukey" and not (isinstance(contrasts, str) and contrasts in PAIRS):
        adjust = "sidak"   # emmeans: the studentized range is for one set of pairwise comparisons
    if contrasts is not None and max(per_family) <= 1 and adjust != "scheffe":   # nothing to adjust
        adjust = "none"
    # emmeans' NA for non-estimable means and contrasts (an aliased column is needed)
    ok_means = estimable(fit, L_full)
    ok_cons = estimable(fit, None if L_full is None else C @ L_full)
    ok_means = np.isfinite(L).all(axis=1) & (True if ok_means is None else ok_means)
    ok_cons = np.isfinite(C @ L).all(axis=1) & (True if ok_cons is None else ok_cons)
    link = E.fit_link(fit)
    if E.is_bayes(fit):
        from multilevel.effects.bayes_emm import bayes_tables

        means, cons = bayes_tables(fit, np.where(ok_means[:, None], L, 0.0),
                                   np.where(ok_cons[:, None], C, 0.0), type, link, ci, regrid, offset)
        means.loc[~ok_means, :] = np.nan
        if cons is not None:
            cons.loc[~ok_cons, :] = np.nan
    else:
        means, cons = _freq_tables(fit, L, C, type, link, ci, _ddf(fit, ddf), adjust, fams,
                                   ok_means, ok_cons, regrid and link != "identity", offset, L_full)
    means = pd.concat([labels, means], axis=1)
    if contrasts is None:
        return means
    lab = pd.DataFrame(C_labels)
    if E.contrast_ratios(C, type, link, regrid):
        lab["contrast"] = lab["contrast"].str.replace(" - ", " / ", regex=False)
    table = pd.concat([lab, cons], axis=1)
    table.attrs["adjust"] = None if E.is_bayes(fit) else adjust
    return {"emmeans": means, "contrasts": table}


def estimates_cov(fit, K: np.ndarray, ddf: str) -> np.ndarray:
    """Covariance of the estimates Kβ̂, from the covariance their SEs come from: for
    Kenward–Roger the adjusted one (emmeans' correlations for "mvt" are pbkrtest's)."""
    if ddf == "kenward-roger":
        from multilevel.inference.kenward_roger import kr_info, kr_info_emmeans

        V = (kr_info(fit) if fit.reml else kr_info_emmeans(fit)).vcov_adj
    else:
        V = fit.vcov.to_numpy()
    return K @ V @ K.T


def _adjusted(c: pd.DataFrame, C: np.ndarray, adjust, fams, ci, cov=None, linfct=None) -> pd.DataFrame:
    """t/z statistics and p-values and limits adjusted within each ``by`` family (``cov``:
    the estimates' covariance, for the adjustments in JOINT; ``linfct``: the contrasts'
    linear functions, whose rank per family is Scheffé's, as emmeans')."""
    c["statistic"] = c["estimate"] / c["std_error"]
    family_id = np.zeros(len(C), dtype=int)
    sizes = []
    for f, (idx, _) in enumerate(fams):
        sel = np.flatnonzero(np.abs(C[:, idx]).sum(axis=1) > 0)
        family_id[sel] = f
        sizes.append(len(idx))
    ranks = None
    if adjust == "scheffe" and linfct is not None:
        F = np.nan_to_num(linfct)
        scale = max(np.abs(F).max(), 1e-300)
        ranks = np.array([np.linalg.matrix_rank(F[family_id == f], tol=1e-8 * scale) for f in range(len(fams))])
    return adjust_table(c, family_id, np.asarray(sizes), adjust, ci, cov, ranks)


def _regrid_contrasts(fit, L, C, mu, slope, df, adjust, fams, ok, ci) -> pd.DataFrame:
    """Contrasts of back-transformed means (emmeans' ``regrid``): C μ̂ with the delta-method
    covariance J V J', J = C diag(dμ/dη) L; df those of the means where they agree, else ∞."""
    J = C @ (np.nan_to_num(slope)[:, None] * L)
    se = np.sqrt(np.einsum("ij,jk,ik->i", J, fit.vcov.to_numpy(), J))
    finite = df[np.isfinite(df)]
    common = finite[0] if finite.size == df.size and np.allclose(df, finite[0]) else np.inf
    c = pd.DataFrame({"estimate": np.where(ok, C @ np.nan_to_num(mu), np.nan),
                      "std_error": np.where(ok, se, np.nan), "df": np.where(ok, common, np.nan)})
    cov = J @ fit.vcov.to_numpy() @ J.T if adjust in JOINT else None
    return _adjusted(c, C, adjust, fams, ci, cov, C)   # the regridded means are the new grid


def _rows_where(fit, L, ddf, ok) -> pd.DataFrame:
    """:func:`linear_rows` of the estimable rows of L; NaN for the others."""
    out = pd.DataFrame(np.nan, index=range(len(L)), columns=["estimate", "std_error", "df"])
    if ok.any():
        out.loc[ok, :] = linear_rows(fit, L[ok], ddf).to_numpy()
    return out


def _freq_tables(fit, L, C, type, link, ci, ddf, adjust, fams, ok_means, ok_cons, regrid=False,
                 offset=None, L_full=None):
    from scipy import stats

    offset = np.zeros(len(L)) if offset is None else offset
    m = _rows_where(fit, L, ddf, ok_means)
    m["estimate"] = m["estimate"] + offset   # emmeans' .offset. (a known constant: no SE)
    q = stats.t.ppf(0.5 + ci / 2, m["df"]) if np.isfinite(m["df"]).any() else stats.norm.ppf(0.5 + ci / 2)
    lo, hi = m["estimate"] - q * m["std_error"], m["estimate"] + q * m["std_error"]
    means = pd.DataFrame({"estimate": m["estimate"], "std_error": m["std_error"], "df": m["df"],
                          "lower": lo, "upper": hi})
    if type == "response" and link != "identity":
        from multilevel.formula.links import inverse_link_fn

        inv = inverse_link_fn(link)
        eta = m["estimate"].to_numpy()
        mu = inv(eta)
        # delta method: dμ/dη at η̂ (central difference; exact to ~1e-10 for smooth links)
        step = 1e-6 * np.maximum(1.0, np.abs(eta))
        slope = (inv(eta + step) - inv(eta - step)) / (2 * step)
        se_mu = np.abs(slope) * m["std_error"].to_numpy()
        if regrid:   # emmeans' regrid(): the response scale is the new linear scale
            q_mu = np.asarray(q, dtype=float)
            bounds = np.vstack([mu - q_mu * se_mu, mu + q_mu * se_mu])
        else:
            bounds = np.sort(np.vstack([inv(lo.to_numpy()), inv(hi.to_numpy())]), axis=0)
        means = means.assign(estimate=mu, std_error=se_mu, lower=bounds[0], upper=bounds[1])
    if not len(C):
        return means, None
    if regrid:
        return means, _regrid_contrasts(fit, L, C, mu, slope, m["df"].to_numpy(), adjust, fams, ok_cons, ci)
    K = np.nan_to_num(C @ L)
    c = _rows_where(fit, K, ddf, ok_cons)
    c = _adjusted(c, C, adjust, fams, ci, estimates_cov(fit, K, ddf) if adjust in JOINT else None,
                  C @ (L if L_full is None else L_full))
    if E.contrast_ratios(C, type, link, regrid):   # emmeans: ratios / odds ratios
        r = np.exp(c["estimate"])
        c = c.assign(estimate=r, std_error=r * c["std_error"], lower=np.exp(c["lower"]), upper=np.exp(c["upper"]))
    return means, c
