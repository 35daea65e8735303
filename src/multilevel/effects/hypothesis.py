"""brms's ``hypothesis()`` for a BayesFit: linear or non-linear statements about the
fixed effects (and ``sigma``), evaluated per posterior draw.

``"Days > 5"``, ``"a - b = 0"``, ``"a = b"``, ``"2 * a + b < 1"``: the statement becomes
``(lhs) - (rhs)`` compared with 0. One-sided: the evidence ratio is the posterior odds
P(h > 0) / P(h ≤ 0) (or the reverse for ``<``) and the posterior probability is the share
of draws on the hypothesis' side. Point (``=``): the Savage–Dickey density ratio at 0 of
the posterior and the prior of the same expression (prior draws from the fit's own prior),
the Bayes factor in favour of the point; its posterior probability is ER / (1 + ER).
"""

from __future__ import annotations

import ast
import re

import numpy as np
import pandas as pd

from multilevel.effects.posterior import savage_dickey
from multilevel.errors import DataError

_OPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
        ast.Pow: np.power}
_FUNS = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs}


def parameter_draws(fit, group: str = "posterior", prior_draws: int = 4000, seed: int | None = 0) -> pd.DataFrame:
    """Fixed effects (lme4 names) and ``sigma`` per draw, from the posterior or the prior."""
    if group == "posterior":
        out = fit.fixef_draws()
        if "sigma" in fit.posterior:
            out["sigma"] = fit.sigma_draws()
        return out
    from multilevel.bayes import draws as D

    tree = fit.prior_predictive(draws=prior_draws, seed=seed)
    prior = tree["prior"]
    values = D.fixef_draws(prior, fit.built.bambi, fit.design)
    out = pd.DataFrame(values.reshape(-1, values.shape[2]), columns=fit.design.x_names)
    if "(Intercept)" in out.columns and getattr(fit.built.bambi, "center_predictors", False):
        # the model samples the intercept of centred predictors; the posterior reports the
        # intercept at x = 0 (Bambi shifts it back), so the prior draws get the same shift
        X = np.asarray(fit.design.X, dtype=float)
        others = [j for j, n in enumerate(fit.design.x_names) if n != "(Intercept)"]
        shift = out.iloc[:, others].to_numpy() @ X[:, others].mean(axis=0)
        out["(Intercept)"] = out["(Intercept)"].to_numpy() - shift
    if "sigma" in prior:
        out["sigma"] = np.asarray(prior["sigma"].values, dtype=float).reshape(-1)
    return out


def split_hypothesis(text: str) -> tuple[str, str]:
    """``"a > b"`` -> (``"(a) - (b)"``, ``">"``)."""
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"A hypothesis must be a string such as 'Days > 5', got {text!r}.")
    ops = re.findall(r"<=|>=|==|!=|<|>|=", text)
    if len(ops) != 1 or ops[0] not in ("<", ">", "="):
        raise DataError(f"hypothesis {text!r} needs exactly one of '<', '>' or '=' "
                        "(e.g. 'Days > 5', 'a - b = 0', 'a = b').")
    lhs, rhs = text.split(ops[0])
    if not lhs.strip() or not rhs.strip():
        raise DataError(f"hypothesis {text!r} has an empty side.")
    return f"({lhs.strip()}) - ({rhs.strip()})", ops[0]


def evaluate(expr: str, draws: pd.DataFrame, source: str = "posterior") -> np.ndarray:
    """Value of an arithmetic expression of parameter names, per draw (of ``source``: named in
    the error when a value is not finite)."""
    names = sorted(draws.columns, key=len, reverse=True)
    aliases = {"Intercept": "(Intercept)"} if "(Intercept)" in draws.columns else {}
    table, text = {}, expr
    for name in re.findall(r"`([^`]+)`", text):
        if name not in draws.columns:
            raise DataError(f"`{name}` is not a parameter; parameters: {list(draws.columns)}.")
    for name in names + list(aliases):
        col = aliases.get(name, name)
        token = f"__p{len(table)}__"
        pattern = re.escape(f"`{name}`") + "|" + (
            r"(?<![\w.:])" + re.escape(name) + r"(?![\w.:(])" if name not in aliases else r"(?<![\w.:])Intercept(?![\w.:])")
        new = re.sub(pattern, token, text)
        if new != text:
            table[token] = draws[col].to_numpy(dtype=float)
            text = new
    try:
        tree = ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError:
        raise DataError(f"cannot parse {expr!r}; use parameter names {list(draws.columns)}, numbers "
                        "and + - * / ^ (backticks around names with special characters).") from None

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id in table:
            return table[node.id]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNS \
                and len(node.args) == 1:
            return _FUNS[node.func.id](walk(node.args[0]))
        shown = ast.unparse(node)
        for token in table:
            shown = shown.replace(token, "<parameter>")
        raise DataError(f"{shown!r} in {expr!r} is not a parameter or arithmetic; parameters: "
                        f"{list(draws.columns)}.")

    with np.errstate(all="ignore"):   # a non-finite value is reported below, per expression
        value = walk(tree)
    if np.ndim(value) == 0:
        raise DataError(f"{expr!r} names no parameter; parameters: {list(draws.columns)}.")
    value = np.asarray(value, dtype=float)
    bad = int(np.count_nonzero(~np.isfinite(value)))
    if bad:
        # a division by zero, log of a negative value or an overflow: its mean, interval and
        # evidence ratio would be NaN or infinite, so nothing would be tested
        raise DataError(f"{expr!r} is not finite (NaN or infinite) in {bad} of {value.size} {source} draws "
                        "(a division by zero, log or sqrt of a negative value, or an overflow); "
                        "rewrite the hypothesis, e.g. 'a = 2 * b' instead of 'a / b = 2'.")
    return value


def hypothesis(fit, hypotheses, ci: float = 0.95, prior_draws: int = 4000, seed: int | None = 0,
               return_draws: bool = False):
    """Test hypotheses about the parameters of a Bayesian fit, as brms's ``hypothesis()``;
    of a REML/ML fit, Wald tests by the delta method (:func:`wald_hypothesis`).

    Parameters
    ----------
    fit : BayesFit, or a REML/ML fit
    hypotheses : str or list of str
        E.g. ``"Days > 5"``, ``"Days - 10 = 0"``, ``"a = b"``; parameters by their lme4 names
        (``Intercept`` for ``(Intercept)``, backticks for names such as ```recipeB:temperature185```)
        and ``sigma``.
    ci : float
        Two-sided interval for point hypotheses; one-sided hypotheses get the one-sided bound
        at ``ci`` (the other bound infinite), as brms.
    prior_draws, seed
        Draws from the fit's prior for the Savage–Dickey ratio of point hypotheses.

    Returns
    -------
    DataFrame with ``hypothesis``, ``estimate`` (posterior mean of lhs − rhs), ``est_error``
    (SD), ``lower``, ``upper``, ``evid_ratio``, ``post_prob``, ``star`` (the interval
    excludes 0); for a REML/ML fit, :func:`wald_hypothesis`'s table.

    Examples
    --------
    >>> fit = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy")   # doctest: +SKIP
    >>> ml.hypothesis(fit, ["Days > 5", "Days = 0"])                       # doctest: +SKIP
    """
    from multilevel.effects._engine import check_ci, is_bayes

    ci = check_ci(ci)
    items = [hypotheses] if isinstance(hypotheses, str) else hypotheses
    if not isinstance(items, (list, tuple)) or not items:
        raise DataError(f"hypotheses must be a string such as 'Days > 5' or a non-empty list of them, "
                        f"got {hypotheses!r}.")
    if not is_bayes(fit):
        return wald_hypothesis(fit, items, ci)
    post = parameter_draws(fit)
    parsed = [split_hypothesis(h) for h in items]
    values = [evaluate(expr, post) for expr, _ in parsed]
    prior = parameter_draws(fit, "prior", prior_draws, seed) if any(s == "=" for _, s in parsed) else None
    rows = []
    alpha = 1 - ci
    for text, (expr, sign), x in zip(items, parsed, values):
        if sign == "=":
            lo, hi = np.quantile(x, [alpha / 2, 1 - alpha / 2])
            er = savage_dickey(x, evaluate(expr, prior, "prior"), 0.0)
            pp = er / (1 + er)
        elif sign == ">":
            lo, hi = float(np.quantile(x, alpha)), np.inf
            yes = np.count_nonzero(x > 0)
            pp = yes / x.size
            er = yes / (x.size - yes) if yes < x.size else np.inf
        else:
            lo, hi = -np.inf, float(np.quantile(x, 1 - alpha))
            yes = np.count_nonzero(x < 0)
            pp = yes / x.size
            er = yes / (x.size - yes) if yes < x.size else np.inf
        rows.append({"hypothesis": text.strip(), "estimate": float(x.mean()), "est_error": float(x.std(ddof=1)),
                     "lower": float(lo), "upper": float(hi), "evid_ratio": float(er), "post_prob": float(pp),
                     "star": bool(lo > 0 or hi < 0)})
    out = pd.DataFrame(rows)
    return (out, np.column_stack(values)) if return_draws else out


def wald_hypothesis(fit, items, ci: float = 0.95) -> pd.DataFrame:
    """Equality hypotheses about a REML/ML fit's fixed effects, as marginaleffects'
    ``hypotheses()`` and car's ``deltaMethod`` test them: g(β̂) for g = lhs − rhs, its
    standard error by the delta method (the gradient by central differences, the
    covariance ``fit.vcov``), a z statistic, two-sided p and a normal interval.

    One-sided statements (``<``, ``>``) are Bayesian (brms's evidence ratios) and are
    refused here: test the equality, or fit with ``method="bayes"``.

    Returns
    -------
    DataFrame with ``hypothesis``, ``estimate``, ``std_error``, ``statistic``, ``p_value``,
    ``lower``, ``upper``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> ml.hypothesis(m, "exp(Days / 10) - 1 = 0")[["estimate", "std_error"]].round(4)
       estimate  std_error
    0    1.8483     0.4403
    """
    from scipy import stats

    if not hasattr(fit, "vcov") or not hasattr(fit, "fixef"):
        raise DataError(f"hypothesis() tests the fixed effects of a fit; got {type(fit).__name__}.")
    beta = pd.Series(np.asarray(fit.fixef, dtype=float), index=list(fit.design.x_names))
    V = np.asarray(fit.vcov, dtype=float)
    z = stats.norm.ppf(0.5 + ci / 2)
    rows = []
    for text in items:
        expr, sign = split_hypothesis(text)
        if sign != "=":
            raise DataError(f"hypothesis {text!r} is one-sided: for a REML/ML fit, hypothesis() gives "
                            "the Wald test of an equality (e.g. 'Days = 5'); one-sided evidence "
                            "ratios are Bayesian (brms's), for method='bayes' fits.")
        # central differences: the base point and ±h per coefficient, evaluated in one pass
        h = 1e-6 * np.maximum(np.abs(beta.to_numpy()), 1.0)
        points = np.tile(beta.to_numpy(), (1 + 2 * len(beta), 1))
        for j in range(len(beta)):
            points[1 + 2 * j, j] += h[j]
            points[2 + 2 * j, j] -= h[j]
        values = evaluate(expr, pd.DataFrame(points, columns=beta.index), source="point")
        grad = (values[1::2] - values[2::2]) / (2 * h)
        estimate = float(values[0])
        se = float(np.sqrt(grad @ V @ grad))
        statistic = estimate / se if se > 0 else np.nan
        rows.append({"hypothesis": text.strip(), "estimate": estimate, "std_error": se,
                     "statistic": statistic, "p_value": float(2 * stats.norm.sf(abs(statistic))),
                     "lower": estimate - z * se, "upper": estimate + z * se})
    return pd.DataFrame(rows)
