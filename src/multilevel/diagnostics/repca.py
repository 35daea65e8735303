"""lme4's ``rePCA``: principal components of each grouping factor's random-effect
covariance, to see how many dimensions a random-effects structure really uses.

For each grouping factor, the relative covariance factors T (Λ's template, lme4's
``getME(fit, "Tlist")``) of its terms are put block-diagonally, as lme4 does for
``(1 | g) + (0 + x | g)`` and ``(x || g)``, and their singular values are the standard
deviations of the components, relative to the residual SD (or to 1 for a GLMM). A
component with a standard deviation near zero is a direction of the random effects with
no variance: the structure is over-parameterized (Bates et al. 2015, "Parsimonious mixed
models"), as ``isSingular`` says for the fit as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg as sla

from multilevel.errors import DataError


@dataclass(frozen=True)
class REPCA:
    """The components of one grouping factor's random effects (R's ``prcomp``).

    Attributes
    ----------
    sdev : ndarray
        Standard deviations of the components, largest first, relative to the residual SD
        (LMMs) or on the linear predictor's scale (GLMMs).
    rotation : DataFrame
        The components (columns ``PC1``, ...) over the group-effect columns (rows; named
        ``term: column`` where two terms share a column name). Their signs are arbitrary,
        as in R.
    """

    sdev: np.ndarray
    rotation: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """R's ``summary(rePCA(fit))``: standard deviation, proportion of variance and
        cumulative proportion per component."""
        var = self.sdev**2
        share = var / var.sum() if var.sum() > 0 else np.full_like(var, np.nan)
        return pd.DataFrame([self.sdev, share, np.cumsum(share)],
                            index=["Standard deviation", "Proportion of Variance", "Cumulative Proportion"],
                            columns=self.rotation.columns)


def re_pca(fit) -> dict[str, REPCA]:
    """Principal components of the random effects per grouping factor (lme4's ``rePCA``).

    Parameters
    ----------
    fit : FreqFit or GLMMFit
        A REML/ML fit with group terms (not a smooth's or a known covariance's block).

    Returns
    -------
    dict
        Grouping factor → :class:`REPCA`, in the order the factors first appear.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> re_pca(m)["Subject"].summary().round(4)
                               PC1     PC2
    Standard deviation      0.9669  0.2309
    Proportion of Variance  0.9461  0.0539
    Cumulative Proportion   0.9461  1.0000
    """
    terms = getattr(getattr(fit, "design", None), "reterms", None)
    if not hasattr(fit, "_term_factors") or not terms:
        raise DataError("re_pca needs a REML/ML fit with group terms (ml.fit(..., method='reml' or "
                        f"'ml')); got {type(fit).__name__}.")
    blocks: dict[str, list] = {}
    for term, T in zip(terms, fit._term_factors()):
        if term.smooth is not None or term.known is not None:
            continue
        blocks.setdefault(term.group, []).append((term, T))
    if not blocks:
        raise DataError("re_pca: the model's group terms are smooths or have a known covariance; "
                        "there is no estimated covariance to decompose.")
    out = {}
    for group, parts in blocks.items():
        T = sla.block_diag(*[T for _, T in parts])
        U, s, _ = np.linalg.svd(T)
        names = [c for term, _ in parts for c in term.cnms]
        if len(set(names)) < len(names):   # (1 | g) + (1 | g): the term names tell them apart
            names = [f"{term.name}: {c}" for term, _ in parts for c in term.cnms]
        out[group] = REPCA(sdev=s, rotation=pd.DataFrame(U, index=names,
                                                        columns=[f"PC{i + 1}" for i in range(len(s))]))
    return out
