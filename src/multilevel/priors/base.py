"""Prior objects: a single distribution for one term, and coefficient presets.

Nothing here imports PyMC at import time; presets import it inside
:meth:`CoefficientPrior.build_coefficients`, which the Bayesian builder calls
inside the active ``pm.Model``.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import numbers
from dataclasses import dataclass, field

import numpy as np

from multilevel.errors import PriorError

# Parameters that are scales or rates in every PyMC distribution that has them: a number
# given for one must be positive (PyMC would otherwise fail deep inside the sampler).
POSITIVE_PARAMETERS = frozenset({"sigma", "tau", "lam", "b", "nu", "beta"})


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
        check_distribution(dist, args)
        object.__setattr__(self, "dist", dist)
        object.__setattr__(self, "args", dict(args))

    def to_bambi(self):
        """The equivalent ``bambi.Prior``."""
        import bambi as bmb

        args = {k: v.to_bambi() if isinstance(v, Prior) else v for k, v in self.args.items()}
        return bmb.Prior(self.dist, **explicit_arguments(self.dist, args))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"Prior({self.dist!r}{', ' + inner if inner else ''})"


@functools.cache
def distribution_parameters(dist: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(all parameter names, required ones) of a PyMC distribution, from its ``dist`` signature.

    Imports PyMC (priors only matter for Bayesian fits, which import it anyway).

    Examples
    --------
    >>> distribution_parameters("Normal")
    (('mu', 'sigma', 'tau'), ())
    """
    import pymc as pm

    cls = getattr(pm, dist, None)
    if not (isinstance(cls, type) and issubclass(cls, pm.Distribution)) or not hasattr(cls, "dist"):
        names = [n for n in dir(pm) if isinstance(getattr(pm, n, None), type)
                 and issubclass(getattr(pm, n), pm.Distribution) and n[:1].isupper()]
        close = difflib.get_close_matches(dist, names, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise PriorError(f"{dist!r} is not a PyMC distribution.{hint} Use a name such as 'Normal', "
                         "'StudentT', 'HalfNormal', 'Exponential' (see pymc.distributions).")
    params = [p for p in inspect.signature(cls.dist).parameters.values()
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in ("cls", "self")]
    return (tuple(p.name for p in params),
            tuple(p.name for p in params if p.default is inspect.Parameter.empty))


MAX_DEPTH = 10  # hyperpriors nest a few levels, never more: refuse (cyclic) deeper records


def check_distribution(dist: str, args: dict, where: str = "", depth: int = 0) -> None:
    """Refuse parameters a PyMC distribution does not have, missing required ones, and
    values that are not numbers (or nested priors).

    PyMC would silently ignore an unknown name (``Normal(mean=100, sd=0.001)`` fits
    Normal(0, 1)) and fail deep inside PyTensor on a string.

    Parameters
    ----------
    dist : str
        PyMC distribution name.
    args : dict
        Its parameters; values are numbers, arrays of numbers or priors (with ``name`` and
        ``args``: :class:`Prior` or ``bambi.Prior``), which are checked recursively.
    where : str
        Prefix for messages (e.g. the spec key).

    Examples
    --------
    >>> check_distribution("Normal", {"mu": 0, "sigma": 1})
    >>> check_distribution("Normal", {"mean": 100, "sd": 0.001})
    Traceback (most recent call last):
    ...
    multilevel.errors.PriorError: Normal has no parameter(s) 'mean', 'sd'. ...
    """
    prefix = f"{where}: " if where else ""
    if depth > MAX_DEPTH:
        raise PriorError(f"{prefix}priors nest more than {MAX_DEPTH} levels deep (a cyclic prior?).")
    if not isinstance(dist, str):
        raise PriorError(f"{prefix}a prior's distribution must be a PyMC name such as 'Normal', "
                         f"got {dist!r}.")
    valid, required = distribution_parameters(dist)
    unknown = [k for k in args if k not in valid]
    if unknown:
        raise PriorError(f"{prefix}{dist} has no parameter(s) {', '.join(map(repr, unknown))}. "
                         f"Valid parameters of {dist}: {', '.join(valid) or 'none'}.")
    missing = [k for k in required if k not in args]
    if missing:
        raise PriorError(f"{prefix}{dist} needs the parameter(s) {', '.join(map(repr, missing))}. "
                         f"Valid parameters of {dist}: {', '.join(valid)}.")
    for key, value in args.items():
        _check_value(dist, key, value, valid, prefix, depth)
    _try_build(dist, args, prefix)


def _try_build(dist: str, args: dict, prefix: str) -> None:
    """Let PyMC itself refuse incompatible parameterizations (Gamma with alpha alone, sigma
    and tau together) now rather than when the model is built; hyperpriors stand in as 1."""
    import pymc as pm

    values = {k: 1.0 if hasattr(v, "args") else np.asarray(v, dtype=float) for k, v in args.items()}
    try:
        getattr(pm, dist).dist(**values)
    except Exception as exc:  # noqa: BLE001 - PyMC raises ValueError/TypeError/NotImplementedError
        shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
        raise PriorError(f"{prefix}PyMC cannot make {dist}({shown}): {exc}") from None


def explicit_arguments(dist: str, args: dict) -> dict:
    """``args`` with the defaults PyMC would use written out, so that what a report shows is
    the whole prior that is fitted (``Normal(mu=0)`` is Normal(mu=0, sigma=1) in PyMC)."""
    import pymc as pm

    out = dict(args)
    params = inspect.signature(getattr(pm, dist).dist).parameters
    for name, p in params.items():
        if name not in out and p.default is not inspect.Parameter.empty and p.default is not None \
                and not isinstance(p.default, bool) and isinstance(p.default, numbers.Real):
            out[name] = p.default
    # PyMC's location-scale families fall back to sigma = 1 without sigma/tau/lam
    scale_names = {"sigma", "tau", "lam"} & set(params)
    if "sigma" in params and not scale_names & set(out) and \
            all(params[n].default is None for n in scale_names):
        out["sigma"] = 1.0
    if dist == "Exponential" and not {"lam", "scale"} & set(out):
        out["lam"] = 1.0
    return out


def _check_value(dist: str, key: str, value, valid, prefix: str, depth: int) -> None:
    if isinstance(value, Prior):
        return  # checked when it was made
    if hasattr(value, "args") and hasattr(value, "name"):  # a bambi.Prior
        check_distribution(value.name, dict(value.args), f"{prefix}{dist} {key}", depth + 1)
        return
    if isinstance(value, (bool, np.bool_)):
        ok = False
    elif isinstance(value, numbers.Real):
        ok = True
        arr = np.asarray(float(value))
    else:
        try:
            arr = np.asarray(value, dtype=float)
            ok = arr.size > 0 and np.asarray(value).dtype.kind in "iuf"
        except (TypeError, ValueError):
            ok = False
    if not ok:
        raise PriorError(
            f"{prefix}{dist} parameter {key}={value!r} must be a number, an array of numbers or a "
            f"Prior (a hyperprior). Valid parameters of {dist}: {', '.join(valid)}."
        )
    if not np.all(np.isfinite(arr)):
        raise PriorError(f"{prefix}{dist} parameter {key}={value!r} must be finite.")
    if key in POSITIVE_PARAMETERS and not np.all(arr > 0):
        raise PriorError(f"{prefix}{dist} parameter {key}={value!r} must be positive.")


class CoefficientPrior:
    """Base of the presets: a joint prior on all fixed-effect slopes.

    The penalty acts on standardized coefficients γ_j = β_j · sd(x_j), so that one
    scale fits all predictors; :meth:`build_coefficients` returns β on the data's
    scale. Subclasses define :meth:`standardized` (the PyMC variables of γ) and
    :meth:`penalty` (the negative log prior density of γ for the MAP, where it has a
    closed form).

    ``target_accept`` is the NUTS target acceptance rate the prior's geometry needs (the
    heavy-tailed scale mixtures have narrow necks that a 0.9 step size diverges in); a
    fit uses it when the user gives none.
    """

    name = "coef"
    target_accept = 0.9

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
