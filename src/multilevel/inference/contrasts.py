"""Hypothesis matrices for the model terms of the fixed effects: types I, II and III as
lmerTest's ``anova()`` builds them (SAS's estimable functions).

- Type I (sequential): rows of the unit upper-triangular Doolittle factor of X'X.
- Type II: a term's rows from the Doolittle factor of X'X with the columns reordered as
  [unrelated terms, the term, the terms that contain it]; terms contained in no other
  term are tested marginally (their own coefficients).
- Type III: from the full (rank-deficient) dummy coding of every term, mapped onto the
  model's columns through X⁺, each term's contrasts orthogonalized against the terms
  that contain it (higher-order terms first). With treatment coding (the coding the
  formula layer uses) this does not depend on the reference levels.

Containment (SAS): F1 is contained in F2 when all of F1's variables are in F2, F2 has
more variables, and both involve the same numeric covariates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from multilevel.errors import SpecError
from multilevel.formula import lme4_name


@dataclass(frozen=True)
class FixedTerm:
    """One term of the fixed-effects formula.

    Attributes
    ----------
    name : str
        R's term label (``"recipe:temperature"``).
    columns : list of int
        Its columns in X.
    variables : list of (name, kind, levels, values)
        ``kind`` is ``"numeric"`` or ``"categoric"``; ``values`` the variable per row
        (rows × columns for a matrix-valued basis such as ``poly(x, 2)``).
    """

    name: str
    columns: list
    variables: list
    key: str = ""   # formulae's name of the term (design.spec.fixed_matrix.terms)

    @property
    def numerics(self) -> set:
        return {v[0] for v in self.variables if v[1] == "numeric"}

    @property
    def names(self) -> set:
        return {v[0] for v in self.variables}


def fixed_terms(design) -> list[FixedTerm]:
    """The model terms (no intercept) and the columns of X each one owns."""
    col_of = {name: j for j, name in enumerate(design.x_names)}
    data = design.frame.data
    out = []
    for name, term in design.spec.fixed_matrix.terms.items():
        if name == "Intercept":
            continue
        columns = [col_of[lme4_name(lbl)] for lbl in term.labels if lme4_name(lbl) in col_of]
        variables = []
        for comp in term.components:
            if comp.kind == "categoric":
                raw = _factor_values(data, comp)
                if raw is None:
                    raise SpecError(f"Cannot rebuild the full dummy coding of {comp.name!r} for "
                                    "type II/III tests; use a plain column as the factor.")
                variables.append((lme4_name(comp.name), "categoric", [str(lv) for lv in comp.levels], raw))
            else:   # a matrix-valued basis (poly, bs, ns) keeps its columns
                value = np.asarray(comp.value, dtype=float)
                value = value.reshape(-1) if value.ndim == 1 or value.shape[1] == 1 else value
                variables.append((lme4_name(comp.name), "numeric", None, value))
        out.append(FixedTerm(name=r_term_label(lme4_name(name), data.columns), columns=columns,
                             variables=variables, key=name))
    return out


def r_term_label(label: str, columns) -> str:
    """A term's label as R's ``terms`` writes it: a non-syntactic column name in
    backticks, also inside an interaction (``Days:my noise`` → ``Days:`my noise```)."""
    from multilevel.formula.names import r_label

    parts, depth, start = [], 0, 0
    for i, char in enumerate(label):
        depth += (char == "(") - (char == ")")
        if char == ":" and depth == 0:
            parts.append(label[start:i])
            start = i + 1
    parts.append(label[start:])
    return ":".join(r_label(part, columns) for part in parts)


def _factor_values(data, component):
    """The per-row level labels of a categorical component of a term: its column, or the
    factor that formulae evaluated for a call (``factor(x)``, ``C(f, contr.sum)``,
    ``I(x > 3)``: a ``CategoricalBox`` whose data are the labels); ``None`` otherwise."""
    from formulae.categorical import CategoricalBox

    if component.name in data.columns:
        return data[component.name].astype(str).to_numpy()
    evaluated = getattr(component, "_intermediate_data", None)   # formulae's evaluated call
    if isinstance(evaluated, CategoricalBox):
        return np.asarray(evaluated.data).astype(str)
    return None


def containment(terms: list[FixedTerm]) -> dict[str, list[str]]:
    """For each term, the terms that contain it, as lmerTest's ``containment()`` finds them.

    lmerTest reads a term's variables from ``attr(terms, "factors")`` where it equals 1,
    i.e. only the variables R codes by contrasts (:func:`contrast_coded`); a variable coded
    by indicators for every level (2: the term's margin without it is absent, as ``hi`` in
    ``heavy + hi:wt``) is not counted. So ``hi:wt`` there has no variables and is
    "contained" in ``heavy``, and lmerTest tests it by type II's ordered Doolittle rows, not
    marginally. Covariates are the variables of R's data class ``"numeric"``: a
    matrix-valued basis such as ``poly(x, 2)`` is not one, and neither is ``scale(x)``,
    whose value R keeps as a one-column matrix (class ``"nmatrix.1"``), so lmerTest's type
    II tests ``A`` of ``scale(x) * A`` with ``scale(x):A`` after it, as a factor's margin.
    """
    coded = contrast_coded(terms)
    numeric = {v[0] for t in terms for v in t.variables
               if v[1] == "numeric" and np.ndim(v[3]) == 1 and not _r_matrix(v[0])}

    def contains(f1: set, f2: set) -> bool:
        return f1 <= f2 and len(f2 - f1) > 0 and (f1 & numeric) == (f2 & numeric)

    return {t.name: [u.name for u, uc in zip(terms, coded) if contains(tc, uc)]
            for t, tc in zip(terms, coded)}


def _r_matrix(name: str) -> bool:
    """Whether R evaluates the variable ``name`` to a matrix (``scale(x)``; the bases
    ``poly``, ``ns``, ``bs`` are matrices here too and caught by their shape)."""
    return name.replace(" ", "").startswith("scale(")


def contrast_coded(terms: list[FixedTerm]) -> list[set]:
    """Per term, its variables that R codes by contrasts (1 in ``attr(terms, "factors")``).

    R's rule (``TermCode`` of its model.c, after *Statistical Models in S*, p. 38): a
    variable of a term is coded by contrasts when the term without it is empty (a main
    effect) or lies within one of the terms before it; otherwise by indicators (2). The
    terms are in R's order (main effects first), as the formula layer orders them.
    """
    out = []
    for i, term in enumerate(terms):
        names = [v[0] for v in term.variables]
        out.append({v for v in names
                    if not (rest := set(names) - {v}) or any(rest <= u.names for u in terms[:i])})
    return out


def droppable(terms: list[FixedTerm]) -> list[FixedTerm]:
    """R's ``drop.scope``: the terms whose variables are not all in another term (in
    ``x * f + g``: ``g`` and ``x:f``)."""
    return [t for t in terms if not any(t.names <= u.names for u in terms if u is not t)]


def deletion_contrast(design, term: FixedTerm) -> np.ndarray:
    """The hypothesis that deleting ``term`` from the model tests (lmerTest's
    ``get_Ldiffmat2``): rows spanning X's part that the other terms' columns, aliased
    ones included, do not span; orthonormal, k × p (k = 0: deleting the term changes
    nothing, as for a column lme4 dropped as aliased)."""
    full = np.asarray(design.spec.fixed_matrix.design_matrix, dtype=float)
    full = full[:, None] if full.ndim == 1 else full
    owned = {lme4_name(lbl) for lbl in design.spec.fixed_matrix.terms[term.key].labels}
    labels = [lme4_name(lbl) for t in design.spec.fixed_matrix.terms.values() for lbl in t.labels]
    X0 = full[:, [j for j, name in enumerate(labels) if name not in owned]]
    X = np.asarray(design.X, dtype=float)
    R = X - X0 @ np.linalg.lstsq(X0, X, rcond=None)[0] if X0.shape[1] else X
    R = R[:, np.sum(np.abs(R), axis=0) > 1e-8]
    if not R.shape[1]:
        return np.zeros((0, X.shape[1]))
    U, d, _ = np.linalg.svd(X.T @ R, full_matrices=False)
    return _zap(U[:, d > d[0] * 1e-9].T)


def doolittle_upper(M: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """t(L) of the Doolittle factorization M = L U (L unit lower triangular), with
    lmerTest's zeroing of entries below eps and of columns with a zero pivot."""
    n = M.shape[0]
    L = np.eye(n)
    U = np.zeros((n, n))
    for i in range(n):
        U[i, :] = M[i, :] - L[i, :i] @ U[:i, :]
        for j in range(i + 1, n):
            val = M[j, i] - L[j, :i] @ U[:i, i]
            L[j, i] = 0.0 if abs(U[i, i]) < eps else val / U[i, i]
    L[np.abs(L) < eps] = 0.0
    return L.T


def type1(design, terms: list[FixedTerm]) -> dict[str, np.ndarray]:
    X = np.asarray(design.X, dtype=float)
    Lt = doolittle_upper(X.T @ X) if X.shape[1] > 1 else np.ones((1, 1))
    return {t.name: Lt[t.columns, :] for t in terms}


def _marginal(design, term: FixedTerm) -> np.ndarray:
    return np.eye(design.p)[term.columns, :]


def type2(design, terms: list[FixedTerm]) -> dict[str, np.ndarray]:
    if design.p <= 1 or len(terms) <= 1:
        return type1(design, terms)
    X = np.asarray(design.X, dtype=float)
    contained = containment(terms)
    by_name = {t.name: t for t in terms}
    out = {}
    for t in terms:
        if not contained[t.name]:
            out[t.name] = _marginal(design, t)
            continue
        tail = list(t.columns) + [c for u in contained[t.name] for c in by_name[u].columns]
        order = [c for c in range(design.p) if c not in tail] + tail
        Lt = doolittle_upper(X[:, order].T @ X[:, order])
        rows = [order.index(c) for c in t.columns]
        block = np.zeros((len(rows), design.p))
        block[:, order] = Lt[rows, :]
        out[t.name] = block
    return out


def full_dummy(term: FixedTerm) -> tuple[np.ndarray, list[str]]:
    """R's ``model.matrix(~ 0 + term)``: every level of every factor (first factor
    varying fastest), times the numeric variables."""
    cols = [np.ones(len(term.variables[0][3]))]
    names = [""]
    for var, kind, levels, values in term.variables:
        if kind == "numeric" and values.ndim == 2:   # a basis: its columns numbered from 1
            cols = [c * values[:, k] for k in range(values.shape[1]) for c in cols]
            names = [f"{n}:{var}{k + 1}" if n else f"{var}{k + 1}"
                     for k in range(values.shape[1]) for n in names]
        elif kind == "numeric":
            cols = [c * values for c in cols]
            names = [f"{n}:{var}" if n else var for n in names]
        else:
            new_cols, new_names = [], []
            for lv in levels:
                for c, n in zip(cols, names):
                    new_cols.append(c * (values == lv))
                    new_names.append(f"{n}:{var}{lv}" if n else f"{var}{lv}")
            cols, names = new_cols, new_names
    return np.column_stack(cols), names




def type3(design, terms: list[FixedTerm]) -> dict[str, np.ndarray]:
    """lmerTest's type III contrasts: built in a treatment-coded parametrization and, for
    other codings (``C(f, contr.sum)``, ...), mapped to the model's coefficients as
    lmerTest does (``ginv(X_treatment) %*% X``)."""
    if design.p <= 1 or len(terms) <= 1:
        return type1(design, terms)
    X = np.asarray(design.X, dtype=float)
    blocks, names, owner = [], [], []
    if "(Intercept)" in design.x_names:
        blocks.append(np.ones((design.n, 1)))
        names.append("(Intercept)")
        owner.append(None)
    for t in terms:
        M, nm = full_dummy(t)
        blocks.append(M)
        names += nm
        owner += [t.name] * len(nm)
    rdX = np.column_stack(blocks)
    if all(n in names for n in design.x_names):   # treatment coding: X's columns are in rdX
        return _type3(X, design.x_names, {t.name: t.columns for t in terms}, terms, rdX, names)
    # within each term the first levels last, so that they are the ones found dependent
    # and dropped: R's treatment coding, which lmerTest remakes the design with
    order = [i for name in (None, *(t.name for t in terms))
             for i in reversed([j for j, o in enumerate(owner) if o == name])]
    keep = sorted(order[j] for j in _independent_columns(rdX[:, order]))
    Xt = rdX[:, keep]
    columns = {t.name: [j for j, i in enumerate(keep) if owner[i] == t.name] for t in terms}
    contrasts = _type3(Xt, [names[i] for i in keep], columns, terms, rdX, names)
    to_model = _zap(np.linalg.pinv(Xt) @ X)
    out = {}
    for name, block in contrasts.items():
        mapped = _zap(block @ to_model)
        out[name] = mapped[np.sum(np.abs(mapped), axis=1) > 1e-8, :]
    return out


def _independent_columns(M: np.ndarray, tol: float = 1e-9) -> list[int]:
    """Indices of the columns of ``M`` kept left to right while each adds rank."""
    keep: list[int] = []
    basis = np.zeros((M.shape[0], 0))
    for j in range(M.shape[1]):
        col = M[:, j]
        resid = col - basis @ (basis.T @ col) if basis.shape[1] else col
        if np.linalg.norm(resid) > tol * max(1.0, np.linalg.norm(col)):
            keep.append(j)
            basis = np.column_stack([basis, resid / np.linalg.norm(resid)])
    return keep


def _type3(X, x_names, columns, terms, rdX, names) -> dict[str, np.ndarray]:
    L = np.linalg.pinv(X) @ rdX                  # p × P: the model's coefficients per full column
    L = _zap(L.T)                                # P × p
    contained = containment(terms)
    order = sorted(terms, key=lambda t: -len(t.variables))
    for t in order:
        if not contained[t.name]:
            continue
        cols = [c for u in contained[t.name] for c in columns[u]]
        A = L[:, cols]
        Y = L[:, columns[t.name]]
        coef, *_ = np.linalg.lstsq(A, Y, rcond=None)
        L[:, columns[t.name]] = _zap(Y - A @ coef)
    row_of = {n: i for i, n in enumerate(names)}
    missing = [n for n in x_names if n not in row_of]
    if missing:
        raise SpecError(f"Type III contrasts need treatment-coded columns; cannot place "
                        f"{missing} in the full dummy coding. Use type=1 or type=2.")
    L = L[[row_of[n] for n in x_names], :]   # p × p
    out = {}
    for t in terms:
        block = L[:, columns[t.name]].T
        out[t.name] = block[np.sum(np.abs(block), axis=1) > 1e-8, :]
    return out


def _zap(M: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's ``zapsmall``: round to ``digits`` significant digits relative to the largest entry."""
    mx = np.max(np.abs(M)) if M.size else 0.0
    if mx == 0:
        return M
    return np.round(M, max(0, digits - int(np.ceil(np.log10(mx)))))


def wald_type2(design, V: np.ndarray) -> dict[str, np.ndarray]:
    """car's type II hypotheses for Wald tests (``Anova.II.default``): for each term, the
    directions of the term and its relatives (the terms that contain all of its
    variables) that are V-conjugate to the relatives' own (car's ``ConjComp`` with the
    covariance V as inner product), i.e. the term tested after every term that does not
    contain it, in the metric of the estimates."""
    terms = fixed_terms(design)
    eye = np.eye(design.p)
    out = {}
    for t in terms:
        relatives = [c for u in terms if u is not t and t.names <= u.names for c in u.columns]
        Z = eye[:, sorted(set(relatives) | set(t.columns))]
        if not relatives:
            out[t.name] = Z.T
            continue
        X = eye[:, relatives]
        q, r = np.linalg.qr(Z.T @ V @ X, mode="complete")
        rank = int(np.sum(np.abs(np.diag(r)) > 1e-10 * max(np.abs(np.diag(r)).max(), 1e-300)))
        out[t.name] = (Z @ q[:, rank:]).T
    return out


def term_contrasts(design, type: int) -> dict[str, np.ndarray]:
    """Hypothesis matrix (k × p) per model term for a type I, II or III test."""
    builders = {1: type1, 2: type2, 3: type3}
    if type not in builders:
        raise SpecError(f"type={type!r} is not valid; use 1, 2 or 3 (as lmerTest's anova).")
    terms = fixed_terms(design)
    return builders[type](design, terms)


def term_table(design) -> pd.DataFrame:
    """Which columns of X belong to which term (for printing and tests)."""
    return pd.DataFrame([(t.name, [design.x_names[c] for c in t.columns]) for t in fixed_terms(design)],
                        columns=["term", "columns"])
