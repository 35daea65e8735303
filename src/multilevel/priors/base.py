"""Prior objects: a single distribution for one term, and coefficient presets.

Nothing here imports PyMC at import time; presets import it inside
:meth:`CoefficientPrior.build_coefficients`, which the Bayesian builder calls
inside the active ``pm.Model``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from multilevel.errors import PriorError


@dataclass(frozen=True)
class Prior:
    """A prior distribution for one term, by PyMC distribution name.

    Parameters
    ----------
    dist : str
        A PyMC distribution, e.g. ``"Normal"``, ``"StudentT"``, ``"HalfNormal"``.
    **args
        Its parameters; a parameter may itself be a :class:`Prior` (a hyperprior,
        as Bambi allows for group-level terms).

    Examples
    --------
    >>> Prior("Normal", mu=0, sigma=10)
    Prior('Normal', mu=0, sigma=10)
    """

    dist: str
    args: dict = field(default_factory=dict)

    def __init__(self, dist: str, **args):
        if not isinstance(dist, str) or not dist[:1].isupper():
            raise PriorError(f"Prior distribution must be a PyMC name such as 'Normal', got {dist!r}.")
        object.__setattr__(self, "dist", dist)
        object.__setattr__(self, "args", dict(args))

    def to_bambi(self):
        """The equivalent ``bambi.Prior``."""
        import bambi as bmb

        args = {k: v.to_bambi() if isinstance(v, Prior) else v for k, v in self.args.items()}
        return bmb.Prior(self.dist, **args)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"Prior({self.dist!r}{', ' + inner if inner else ''})"


class CoefficientPrior:
    """Base of the presets: a joint prior on all fixed-effect slopes.

    The penalty acts on standardized coefficients γ_j = β_j · sd(x_j), so that one
    scale fits all predictors; :meth:`build_coefficients` returns β on the data's
    scale. Subclasses define :meth:`standardized` (the PyMC variables of γ) and
    :meth:`penalty` (the negative log prior density of γ for the MAP, where it has a
    closed form).
    """

    name = "coef"

    def build_coefficients(self, X: np.ndarray, names: list[str], *, sigma=None, intercept: bool = True,
                           y_scale: float = 1.0):
        """Create the prior's variables in the active PyMC model; return β (data scale)."""
        import pymc as pm

        scale = _column_scale(X)
        gamma = self.standardized(len(names), sigma=sigma, y_scale=y_scale, n=X.shape[0])
        beta = gamma / scale
        dim = f"{self.name}__coef"  # a named dim: Bambi drops posterior dims it does not know
        pm.modelcontext(None).add_coords({dim: list(names)})
        pm.Deterministic(f"{self.name}_standardized", gamma, dims=dim)
        return beta

    def standardized(self, p: int, *, sigma, y_scale: float, n: int):
        raise PriorError(f"{type(self).__name__} does not define its coefficients.")

    def penalty(self, sigma: float, n: int) -> tuple[float, float]:
        """(l1, l2) of −log p(γ) = l1·Σ|γ_j| + l2/2·Σγ_j² (+ const), for the MAP."""
        raise PriorError(
            f"The {self.name} prior has no closed-form penalty; its posterior mode is not a "
            "penalized least-squares problem. Use a fixed-scale ridge, lasso or elastic_net."
        )

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{self.name}({fields})"


def _column_scale(X: np.ndarray) -> np.ndarray:
    scale = X.std(axis=0)
    if np.any(scale == 0):
        raise PriorError("A fixed-effect column is constant; it cannot be standardized for a "
                         "coefficient-prior preset. Remove it from the formula.")
    return scale


def standardize(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Z, center, scale) with Z = (X − center)/scale, population SD (sklearn's StandardScaler)."""
    center = X.mean(axis=0)
    scale = _column_scale(X)
    return (X - center) / scale, center, scale
