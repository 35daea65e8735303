"""lme4 2.0's structured group-effect terms and brms's residual-correlation terms.

Group-effect covariance structures (lme4 2.0; ``toep`` as glmmTMB):

* ``us(x | g)``: unstructured, the same model as ``(x | g)``;
* ``diag(x | g, hom = FALSE)``: independent columns, one SD each (``hom = TRUE``: one SD);
* ``cs(x | g, hom = FALSE)``: compound symmetry, one common correlation ρ ≥ −1/(q−1);
* ``ar1(0 + f | g, hom = TRUE)``: corr(bᵢ, bⱼ) = ρ^|i−j| over the levels of a factor ``f``;
* ``toep(0 + f | g)``: Toeplitz, one correlation per lag, heterogeneous SDs (glmmTMB).

Residual correlation within groups, brms's spelling (Bayesian gaussian fits,
:mod:`multilevel.bayes.residuals`): ``ar(time = t, gr = g, p = 1)`` and ``cosy(gr = g)``.
The package's former spellings ``ar1(time | g)`` and ``cs(1 | g)`` meant those residual
structures; they now mean group-effect structures, and where the old reading is the
likely intent (a one-column ``cs`` block, an ``ar1`` term with an intercept) a
:class:`~multilevel.errors.FormulaError` says what to write instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from multilevel.errors import FormulaError

KINDS = ("us", "diag", "cs", "ar1", "toep")
# lme4 2.0's defaults: diag and cs heterogeneous, ar1 homogeneous; glmmTMB's toep heterogeneous
DEFAULT_HOM = {"diag": False, "cs": False, "ar1": True, "toep": False}
STRUCTURE_START = re.compile(r"(us|diag|cs|ar1|toep)\s*\(")
RESIDUAL_START = re.compile(r"(ar|cosy)\s*\(")
_TRUE = {"TRUE", "True", "T"}
_FALSE = {"FALSE", "False", "F"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.]*")


@dataclass(frozen=True)
class Structure:
    """The covariance structure of one group-effect term.

    Attributes
    ----------
    kind : {"us", "diag", "cs", "ar1", "toep"}
    hom : bool
        One SD shared by the term's columns (``hom = TRUE``).
    """

    kind: str
    hom: bool = False

    @property
    def label(self) -> str:
        """How the term's structure is written (``cs(hom = TRUE)``)."""
        if self.kind == "us" or self.hom == DEFAULT_HOM.get(self.kind):
            return self.kind
        return f"{self.kind}(hom = {'TRUE' if self.hom else 'FALSE'})"


def split_call(body: str, split_top) -> tuple[str, list[str]]:
    """``name(a, b = c)`` → (``name``, [``a``, ``b = c``])."""
    name, rest = body.split("(", 1)
    if not rest.endswith(")"):
        raise FormulaError(f"Cannot read {body!r}: a term such as 'cs(x | g)' must end with ')'.")
    return name.strip(), [a.strip() for a in split_top(rest[:-1], ",", keep_sign=False)]


def _keyword(arg: str) -> tuple[str | None, str]:
    match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.+)", arg)
    return (match.group(1), match.group(2).strip()) if match else (None, arg)


def parse_structure(term: str, body: str, split_top, find_top) -> tuple[str, Structure]:
    """Read ``kind(expr | group, hom = ...)``: the bar's text and its :class:`Structure`.

    Raises
    ------
    FormulaError
        For a subtracted term, a missing bar, ``||`` inside, unknown arguments, and the
        former residual spellings (``cs(1 | g)``, ``ar1(time | g)``) with what to write.
    """
    kind, args = split_call(body, split_top)
    if term.startswith("-"):
        raise FormulaError(f"The group-effect term {body!r} cannot be subtracted.")
    if not args or find_top(args[0], "|") < 0 or _keyword(args[0])[0] is not None:
        raise FormulaError(f"Cannot read {body!r}: write {kind}(x | g) with a bar, e.g. "
                           f"{_example(kind)}.")
    bar = args[0]
    pos = find_top(bar, "|")
    if bar[pos:pos + 2] == "||":
        raise FormulaError(f"{body!r}: '||' inside {kind}() is not valid; a diagonal covariance is "
                           "written diag(x | g).")
    lhs, group = bar[:pos].strip(), bar[pos + 1:].strip()
    hom = DEFAULT_HOM.get(kind, False)
    for arg in args[1:]:
        key, value = _keyword(arg)
        if key != "hom":
            raise FormulaError(f"{body!r}: unknown argument {arg!r}; {kind}() takes the bar and "
                               + ("no other argument." if kind == "us" else "hom = TRUE or FALSE."))
        if kind == "us":
            raise FormulaError(f"{body!r}: us() has no hom argument (an unstructured covariance "
                               "has its own SD per column); use diag/cs/ar1/toep(..., hom = TRUE).")
        if value not in _TRUE | _FALSE:
            raise FormulaError(f"{body!r}: hom must be TRUE or FALSE, got {value!r}.")
        hom = value in _TRUE
    _check_old_spelling(kind, lhs, group, body, split_top)
    return f"{lhs} | {group}", Structure(kind=kind, hom=hom)


def _check_old_spelling(kind: str, lhs: str, group: str, body: str, split_top) -> None:
    terms = [t.replace(" ", "") for t in split_top(lhs, "+-")]
    intercept = not any(t in {"0", "+0", "-1"} for t in terms)
    others = [t.lstrip("+") for t in terms if t.lstrip("+-") not in {"0", "1"}]
    if kind == "cs" and not others:
        raise FormulaError(
            f"{body!r} is a group-effect block with one column, which has no correlation to "
            f"structure (lme4 2.0's cs() is a group-effect covariance). For a random intercept "
            f"write (1 | {group}); for compound-symmetric residuals within {group!r} write "
            f"cosy(gr = {group}) (brms's spelling).")
    if kind in ("ar1", "toep") and (intercept or len(others) != 1):
        old = (f" For AR(1) residuals ordered by {others[0]!r} within {group!r} write "
               f"ar(time = {others[0]}, gr = {group}) (brms's spelling)."
               if kind == "ar1" and len(others) == 1 and _NAME.fullmatch(others[0]) else "")
        raise FormulaError(
            f"{body!r}: {kind}() is lme4 2.0's group-effect covariance over the levels of one "
            f"factor, written {kind}(0 + f | {group}) (no intercept, one factor).{old}")


def _example(kind: str) -> str:
    return {"ar1": "ar1(0 + f | g)", "toep": "toep(0 + f | g)"}.get(kind, f"{kind}(1 + x | g)")


@dataclass(frozen=True)
class ResidualCall:
    """``ar(time = t, gr = g, p = 1)`` or ``cosy(gr = g)`` read into its parts."""

    kind: str            # "ar1" | "cs": the residual structure's kind
    time: str | None
    group: str


def parse_residual_call(term: str, body: str, split_top) -> ResidualCall:
    """brms's residual terms; positional arguments in brms's order (``time``, ``gr``, ``p``)."""
    name, args = split_call(body, split_top)
    usage = ("ar(time = t, gr = g) (AR(1) residuals ordered by a numeric time column t within "
             "each level of g)" if name == "ar" else
             "cosy(gr = g) (compound-symmetric residuals within each level of g)")
    if term.startswith("-"):
        raise FormulaError(f"The residual structure {body!r} cannot be subtracted; write + {usage}.")
    order = ("time", "gr", "p") if name == "ar" else ("gr",)
    given: dict[str, str] = {}
    for i, arg in enumerate(args):
        key, value = _keyword(arg)
        key = key or (order[i] if i < len(order) else None)
        if key not in order or key in given:
            raise FormulaError(f"Cannot read {body!r}: argument {arg!r} is unknown or repeated; "
                               f"write {usage}.")
        given[key] = value
    if name == "ar" and given.get("p", "1") not in ("1", "1L"):
        raise FormulaError(f"{body!r}: only first-order autoregression is available; write p = 1.")
    for key in ("time", "gr") if name == "ar" else ("gr",):
        if key not in given or not _NAME.fullmatch(given[key]):
            raise FormulaError(f"Cannot read {body!r}: {key} = must name one column; write {usage}.")
    return ResidualCall(kind="ar1" if name == "ar" else "cs", time=given.get("time"), group=given["gr"])


def check_term_columns(structure: Structure | None, q: int, source: str) -> None:
    """A structured term needs at least two columns where its structure has a correlation."""
    if structure is None or structure.kind in ("us", "diag") or q >= 2:
        return
    raise FormulaError(
        f"{source!r} has {q} column; a {structure.kind}() covariance needs two or more "
        f"(the levels of a factor, or several columns). A one-column term is written (x | g).")


# ------------------------------------------------------------ the structures' algebra
# (numpy, or pytensor through ``xp``: shared by the REML/ML and the Bayesian engines)

def toeplitz_from_pacf(pacf, xp=np):
    """Lag correlations r₁..r_{q−1} of a stationary process from its partial
    autocorrelations (Durbin–Levinson); ``xp`` is numpy or ``pytensor.tensor``.

    Examples
    --------
    >>> np.round(toeplitz_from_pacf(np.array([0.5, 0.0])), 6).tolist()
    [0.5, 0.25]
    """
    k = len(pacf)
    if k == 0:
        return []
    phi = [pacf[0]]          # AR coefficients of the order-m fit
    r = [pacf[0]]
    for m in range(1, k):
        pm_ = pacf[m]
        new = [phi[j] - pm_ * phi[m - 1 - j] for j in range(m)] + [pm_]
        # r_{m+1} = Σ_{j=1..m+1} φ_{m+1,j} r_{m+1−j} with r₀ = 1
        lags = [1.0] + r
        r_next = sum(new[j] * lags[m - j] for j in range(m + 1))
        phi = new
        r.append(r_next)
    return xp.stack(r) if xp is not np else np.array(r, dtype=float)


def pacf_from_toeplitz(r: np.ndarray) -> np.ndarray:
    """Inverse of :func:`toeplitz_from_pacf` (Durbin–Levinson on the correlations)."""
    r = np.asarray(r, dtype=float)
    pacf, phi = [], np.zeros(0)
    for m in range(len(r)):
        num = r[m] - np.sum(phi * r[m - 1::-1][:m]) if m else r[0]
        den = 1.0 - np.sum(phi * r[:m]) if m else 1.0
        a = num / den
        phi = np.concatenate([phi - a * phi[::-1], [a]])
        pacf.append(a)
    return np.array(pacf)


def correlation(kind: str, q: int, rho) -> np.ndarray:
    """The q×q correlation matrix of a structure from its correlation parameters
    (``cs``, ``ar1``: one ρ; ``toep``: the q−1 lag correlations; ``diag``: none)."""
    lag = np.abs(np.subtract.outer(np.arange(q), np.arange(q)))
    if kind == "cs":
        return np.where(lag == 0, 1.0, float(np.ravel(rho)[0]))
    if kind == "ar1":
        return float(np.ravel(rho)[0]) ** lag
    if kind == "toep":
        return np.concatenate([[1.0], np.asarray(rho, dtype=float)])[lag]
    return np.eye(q)


def cs_lower(q: int) -> float:
    """The smallest common correlation with a positive-definite q×q matrix: −1/(q−1)."""
    return -1.0 / (q - 1)
