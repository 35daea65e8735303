"""Structured group-effect covariances in the REML/ML engine: parameters φ → lme4's θ.

The profiled deviance (:mod:`multilevel.freq.deviance`) is a function of lme4's θ, the
lower triangles of the terms' relative covariance factors Tⱼ (Σⱼ = σ² TⱼTⱼ'). A
structured term (lme4 2.0's ``diag``/``cs``/``ar1``, glmmTMB's ``toep``) has fewer
parameters: relative SDs dᵢ = sdᵢ/σ and correlation parameters, with Σⱼ/σ² = D R D, so
its factor is T = D chol(R). The optimizer works on φ, the structure's parameters on
unconstrained scales, and the deviance is evaluated at θ(φ); σ is profiled as before
(every structure is closed under scaling). Plain and ``us`` terms keep lme4's θ.

Per structure (q columns; ``hom = TRUE`` ties the SDs to one):

* ``diag``: dᵢ ≥ 0 (bounded at 0, as lme4's θ diagonals, so a variance can be estimated
  at exactly 0); R = I.
* ``cs``: R = (1−ρ)I + ρ11', ρ = −1/(q−1) + (1 + 1/(q−1))·logistic(η), η ∈ ℝ.
* ``ar1``: Rᵢⱼ = ρ^|i−j|, ρ = tanh(η).
* ``toep``: Rᵢⱼ = r_|i−j|, the q−1 lag correlations from partial autocorrelations
  πₖ = tanh(ηₖ) by the Durbin–Levinson recursion: every π ∈ (−1, 1)^(q−1) gives a
  positive-definite Toeplitz R and every such R has one π (Barndorff-Nielsen &
  Schou 1973), so φ is unconstrained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multilevel.errors import SpecError
from multilevel.formula.structures import (  # noqa: F401 (re-exported: the engine's maths)
    correlation, cs_lower, pacf_from_toeplitz, toeplitz_from_pacf,
)

_CORR = {"cs": 1, "ar1": 1, "diag": 0}


@dataclass(frozen=True)
class TermMap:
    """Where one term's parameters sit in φ and in θ, and how they map."""

    name: str
    q: int
    kind: str | None        # None: lme4's θ (plain and us terms)
    hom: bool
    phi_start: int
    theta_start: int

    @property
    def n_sd(self) -> int:
        return 1 if self.hom else self.q

    @property
    def n_corr(self) -> int:
        return self.q - 1 if self.kind == "toep" else _CORR.get(self.kind, 0)

    @property
    def n_phi(self) -> int:
        return self.q * (self.q + 1) // 2 if self.kind is None else self.n_sd + self.n_corr

    def rho(self, eta: np.ndarray) -> np.ndarray:
        """Correlation parameters (cs/ar1: ρ; toep: lag correlations) from η."""
        if self.kind == "cs":
            lo = cs_lower(self.q)
            return lo + (1.0 - lo) / (1.0 + np.exp(-eta))
        if self.kind == "ar1":
            return np.tanh(eta)
        if self.kind == "toep":
            return toeplitz_from_pacf(np.tanh(eta))
        return np.zeros(0)

    def eta(self, rho: np.ndarray) -> np.ndarray:
        if self.kind == "cs":
            lo = cs_lower(self.q)
            u = np.clip((rho - lo) / (1.0 - lo), 1e-12, 1 - 1e-12)
            return np.log(u / (1 - u))
        if self.kind == "ar1":
            return np.arctanh(np.clip(rho, -1 + 1e-12, 1 - 1e-12))
        if self.kind == "toep":
            return np.arctanh(np.clip(pacf_from_toeplitz(rho), -1 + 1e-12, 1 - 1e-12))
        return np.zeros(0)

    def factor(self, phi: np.ndarray) -> np.ndarray:
        """T = D chol(R) for this term's φ."""
        sd = np.broadcast_to(phi[:self.n_sd], (self.q,))
        R = correlation(self.kind, self.q, self.rho(phi[self.n_sd:]))
        try:
            L = np.linalg.cholesky(R)
        except np.linalg.LinAlgError:  # η so extreme that R is singular in floating point
            L = np.linalg.cholesky(R + 1e-10 * np.eye(self.q))
        return sd[:, None] * L


class StructuredTheta:
    """The map φ → θ of a design with structured terms (lme4's θ order throughout).

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.formula import build_design, model_frame, parse_formula
    >>> parsed = parse_formula("yield ~ nitro + cs(0 + nitro | Block)")
    >>> oats = ml.datasets.load("oats")
    >>> m = StructuredTheta(build_design(parsed, model_frame(parsed, oats)))
    >>> m.names()
    ['Block.sd(nitro0.0cwt)', 'Block.sd(nitro0.2cwt)', 'Block.sd(nitro0.4cwt)', 'Block.sd(nitro0.6cwt)', 'Block.rho']
    """

    def __init__(self, design):
        self.terms: list[TermMap] = []
        phi, theta = 0, 0
        for term in design.reterms:
            s = term.bar.structure
            kind = None if s is None or s.kind == "us" else s.kind
            tm = TermMap(name=term.name, q=term.q, kind=kind, hom=bool(s and s.hom and kind),
                         phi_start=phi, theta_start=theta)
            self.terms.append(tm)
            phi += tm.n_phi
            theta += term.n_theta
        self.n_theta = theta
        self.n_phi = phi
        self._reterms = design.reterms

    @property
    def structured(self) -> bool:
        return any(t.kind is not None for t in self.terms)

    def theta(self, phi: np.ndarray) -> np.ndarray:
        phi = np.asarray(phi, dtype=float)
        out = np.empty(self.n_theta)
        for tm in self.terms:
            piece = phi[tm.phi_start:tm.phi_start + tm.n_phi]
            k = tm.q * (tm.q + 1) // 2
            if tm.kind is None:
                out[tm.theta_start:tm.theta_start + k] = piece
            else:
                T = tm.factor(piece)
                cols, rows = np.triu_indices(tm.q)
                out[tm.theta_start:tm.theta_start + k] = T[rows, cols]
        return out

    def start(self) -> np.ndarray:
        """lme4's start for plain terms; relative SDs 1 and correlations 0 for structures."""
        out = []
        for term, tm in zip(self._reterms, self.terms):
            if tm.kind is None:
                out.append(np.where(np.isfinite(term.theta_lower()), 1.0, 0.0))
            else:
                out.append(np.concatenate([np.ones(tm.n_sd), tm.eta(_zero_rho(tm))]))
        return np.concatenate(out)

    def lower(self) -> np.ndarray:
        out = []
        for term, tm in zip(self._reterms, self.terms):
            out.append(term.theta_lower() if tm.kind is None else
                       np.concatenate([np.zeros(tm.n_sd), np.full(tm.n_corr, -np.inf)]))
        return np.concatenate(out)

    def names(self) -> list[str]:
        """Names of φ's entries: lme4's θ names for plain terms, ``g.sd(col)``, ``g.sd``
        (hom), ``g.rho`` (cs, ar1), ``g.rho1``.. (toep lags) for structures."""
        out = []
        for term, tm in zip(self._reterms, self.terms):
            if tm.kind is None:
                out += term.theta_names()
                continue
            out += [f"{tm.name}.sd"] if tm.hom else [f"{tm.name}.sd({c})" for c in term.cnms]
            if tm.kind in ("cs", "ar1"):
                out.append(f"{tm.name}.rho")
            elif tm.kind == "toep":
                out += [f"{tm.name}.rho{k}" for k in range(1, tm.q)]
        return out


def _zero_rho(tm: TermMap) -> np.ndarray:
    return np.zeros(tm.n_corr)


def structure_map(design) -> StructuredTheta | None:
    """The φ → θ map of a design, or None when every term is plain or ``us``."""
    m = StructuredTheta(design)
    return m if m.structured else None


def n_covariance_parameters(design) -> int:
    """Covariance parameters a fit estimates (lme4's θ count for plain terms)."""
    return StructuredTheta(design).n_phi


def structured_deviance(deviance, mapping: StructuredTheta):
    """deviance(θ) as a function of φ, with ``.solution(φ)`` and ``.theta(φ)``."""
    def dev(phi) -> float:
        return deviance(mapping.theta(phi))

    dev.solution = lambda phi: deviance.solution(mapping.theta(phi))
    dev.theta = mapping.theta
    return dev


def check_family(design, family: str) -> None:
    """Structured terms are fitted by the linear mixed model's profiled deviance only."""
    mapping = structure_map(design)
    if mapping is not None and family != "gaussian":
        kinds = sorted({t.kind for t in mapping.terms if t.kind})
        raise SpecError(f"Structured group-effect terms ({', '.join(kinds)}) are fitted by "
                        f"method='reml'/'ml' for gaussian models; a {family} model with them "
                        "is available with method='bayes'.")


def structure_table(design, phi: np.ndarray, sigma: float):
    """Per structured term: its SDs and correlation parameters on the data scale.

    Parameters
    ----------
    design : Design
    phi : ndarray
        The fitted φ (:class:`StructuredTheta` order).
    sigma : float
        The residual SD (the SDs in φ are relative to it).

    Returns
    -------
    DataFrame with columns ``grp``, ``structure``, ``parameter`` (``sd(<column>)``, or
    ``sd`` for ``hom = TRUE``; ``rho``; ``rho<lag>`` for ``toep``) and ``estimate``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("y ~ arm + visit + ar1(0 + visit | subject)", "visits", method="reml")
    >>> structure_table(m.design, m.opt.phi, m.sigma).round(3)
           grp structure parameter  estimate
    0  subject       ar1        sd     2.816
    1  subject       ar1       rho     0.649
    """
    import pandas as pd

    mapping = StructuredTheta(design)
    rows = []
    for term, tm in zip(design.reterms, mapping.terms):
        if tm.kind is None:
            continue
        piece = np.asarray(phi, dtype=float)[tm.phi_start:tm.phi_start + tm.n_phi]
        sd = sigma * piece[:tm.n_sd]
        label = term.bar.structure.label
        names = ["sd"] if tm.hom else [f"sd({c})" for c in term.cnms]
        rows += [(tm.name, label, n, float(s)) for n, s in zip(names, sd)]
        rho = tm.rho(piece[tm.n_sd:])
        if tm.kind in ("cs", "ar1"):
            rows.append((tm.name, label, "rho", float(rho[0])))
        elif tm.kind == "toep":
            rows += [(tm.name, label, f"rho{k}", float(r)) for k, r in enumerate(rho, start=1)]
    return pd.DataFrame(rows, columns=["grp", "structure", "parameter", "estimate"])


def singular_parameters(design, phi: np.ndarray, tol: float) -> list[str]:
    """lme4's isSingular for a fit with structured terms: ``"group: column"`` for a
    relative SD below ``tol`` (plain terms: a diagonal of T below ``tol``, as lme4), and
    ``"group: rho"`` for a correlation within ``tol`` of its bound (ρ → ±1, or cs's −1/(q−1)),
    where the covariance matrix is singular too."""
    mapping = StructuredTheta(design)
    out = []
    phi = np.asarray(phi, dtype=float)
    for term, tm in zip(design.reterms, mapping.terms):
        piece = phi[tm.phi_start:tm.phi_start + tm.n_phi]
        if tm.kind is None:
            T = np.zeros((tm.q, tm.q))
            cols, rows = np.triu_indices(tm.q)
            T[rows, cols] = piece
            out += [f"{tm.name}: {term.cnms[i]}" for i in range(tm.q) if abs(T[i, i]) < tol]
            continue
        sd = np.broadcast_to(piece[:tm.n_sd], (tm.q,))
        out += [f"{tm.name}: {term.cnms[i]}" for i in range(tm.q) if sd[i] < tol]
        eta = piece[tm.n_sd:]
        if tm.kind == "cs":
            rho, lo = float(tm.rho(eta)[0]), cs_lower(tm.q)
            if rho > 1 - tol or rho < lo + tol:
                out.append(f"{tm.name}: rho = {rho:.4g} (at its bound)")
        elif tm.kind in ("ar1", "toep") and np.any(np.abs(np.tanh(eta)) > 1 - tol):
            out.append(f"{tm.name}: correlation at ±1")
    return out


# Which structure restricts which, on the same columns: (kind, hom) of the smaller model's
# term → kinds of the larger model's term that contain it. diag is cs/ar1/toep at ρ = 0,
# ar1 and cs are Toeplitz (all lags ρ^k, or all equal), and everything is within us.
_WITHIN = {"diag": {"diag", "cs", "ar1", "toep", "us"}, "cs": {"cs", "toep", "us"},
           "ar1": {"ar1", "toep", "us"}, "toep": {"toep", "us"}, "us": {"us"}}


def _kind_hom(term) -> tuple[str, bool]:
    s = term.bar.structure
    if s is None:
        return ("us" if term.q > 1 else "diag"), term.q == 1
    return s.kind, bool(s.hom) if s.kind != "us" else False


def term_within(small, large) -> bool:
    """Whether the covariance of ``small`` (a design term) is a restriction of that of
    ``large`` on the same grouping factor: the same columns with a structure inside the
    larger one (``cs`` within ``us``, ``ar1`` within ``toep``, hom within heterogeneous), or
    fewer columns inside an unstructured (or heterogeneous diag/cs) term.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.formula import build_design, model_frame, parse_formula
    >>> def term(f):
    ...     parsed = parse_formula("y ~ " + f)
    ...     return build_design(parsed, model_frame(parsed, ml.datasets.load("visits"))).reterms[0]
    >>> term_within(term("ar1(0 + visit | subject)"), term("toep(0 + visit | subject)"))
    True
    >>> term_within(term("ar1(0 + visit | subject)"), term("cs(0 + visit | subject)"))
    False
    """
    if small.group != large.group or not set(small.cnms) <= set(large.cnms):
        return False
    (ks, hs), (kl, hl) = _kind_hom(small), _kind_hom(large)
    if set(small.cnms) == set(large.cnms):
        if ks == "us" and small.q == 1:   # one column: any structure is one variance
            return not hl or large.q == 1
        return kl in _WITHIN[ks] and (hs or not hl)
    # fewer columns: the larger term's SDs of the others set to 0
    if kl == "us":
        return True
    return kl in ("diag", "cs") and not hl and ks in ("diag", "us") and (small.q == 1 or ks == "diag")


def structure_note(small, large) -> str | None:
    """A note for the LRT when the comparison restricts a structured term."""
    pairs = []
    for term in small.design.reterms:
        for big in large.design.reterms:
            if term_within(term, big) and _kind_hom(term) != _kind_hom(big) \
                    and set(term.cnms) == set(big.cnms):
                pairs.append(f"{term.bar.source} is nested in {big.bar.source} "
                             f"({_label(term)} is a restriction of {_label(big)})")
    return "; ".join(pairs) or None


def _label(term) -> str:
    kind, hom = _kind_hom(term)
    return f"{kind}(hom = TRUE)" if hom and kind != "us" and term.q > 1 else kind


def refuse_structured(fit, what: str) -> None:
    """Inference built on lme4's θ (profiles, bootstrap refits, Satterthwaite and
    Kenward-Roger df) does not yet know structured terms: refuse it for such fits."""
    design = getattr(fit, "design", None)
    if design is None or not getattr(design, "reterms", None) or structure_map(design) is None:
        return
    kinds = sorted({t.bar.structure.kind for t in design.reterms
                    if t.bar.structure is not None and t.bar.structure.kind != "us"})
    raise SpecError(f"{what} is not available for fits with structured group-effect terms "
                    f"({', '.join(kinds)}) yet: it works on lme4's unstructured θ. Use "
                    "confint(fit, method='wald') for the fixed effects, ml.lrt for nested "
                    "structures, or method='bayes' for intervals of the structure's parameters.")
