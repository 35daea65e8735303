"""One exception hierarchy for everything the package raises on bad input.

Every message names the offending column, term, key or value, and says what to do.
Catch :class:`MultilevelError` to handle all of them.
"""

from __future__ import annotations

import numbers
import os
import warnings

__all__ = [
    "MultilevelError",
    "FormulaError",
    "DataError",
    "SpecError",
    "PriorError",
    "FamilyError",
    "FitError",
    "ComparisonError",
    "RunFolderError",
    "ConvergenceWarning",
    "SingularFitWarning",
    "DataWarning",
    "warn",
    "check_level",
    "check_seed",
]


class MultilevelError(Exception):
    """Base class of all errors raised by ``multilevel``."""


class FormulaError(MultilevelError, ValueError):
    """The model formula cannot be parsed or refers to something that is not allowed."""


class DataError(MultilevelError, ValueError):
    """The data do not fit the model: missing columns, wrong types, too few groups."""


class SpecError(MultilevelError, ValueError):
    """A model spec (TOML) has an unknown key, a missing key or a bad value."""


class PriorError(MultilevelError, ValueError):
    """A prior is unknown, malformed, or names a term the model does not have."""


class FamilyError(MultilevelError, ValueError):
    """The response family is unknown or not supported by the chosen method."""


class FitError(MultilevelError, RuntimeError):
    """Fitting failed, or a fit result lacks what an operation needs."""


class ComparisonError(MultilevelError, ValueError):
    """Models cannot be compared: different data, missing log-likelihood, mixed families."""


class ConvergenceWarning(UserWarning):
    """The fit finished but its convergence diagnostics are not clean."""


class SingularFitWarning(UserWarning):
    """A variance component is estimated at (or next to) zero: the fit is singular."""


class DataWarning(UserWarning):
    """Something was done to the data that the user should know about (rows removed, ...)."""


class RunFolderError(MultilevelError, OSError):
    """A run folder cannot be written: the target is not a run folder of ours, or not writable."""


#: Frames in files under this folder are the package's own; a warning names the first
#: frame outside it (the user's call), however deep inside the package it was issued.
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue ``message`` attributed to the user's line, not to the package's file.

    A fixed ``stacklevel`` is right for one call path only (``ml.fit`` → ... →
    ``check_convergence`` is deeper than ``fit.summary()``); skipping every frame of
    the package (Python 3.12's ``skip_file_prefixes``) points at the caller's code
    from any entry. Python's default filter then shows a warning once per line.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("check the data", DataWarning)
    >>> caught[0].filename.startswith(PACKAGE_DIR)
    False
    """
    warnings.warn(message, category, skip_file_prefixes=(PACKAGE_DIR,))


def check_level(value, name: str = "ci", error: type[MultilevelError] = DataError) -> float:
    """An interval's coverage as a float strictly between 0 and 1, else ``error`` naming ``name``.

    One check for every verb that takes ``ci=`` or ``level=``: a string, None, a list or a
    bool is refused by name rather than by ``float()``'s or ``<``'s own message.

    Examples
    --------
    >>> check_level(0.9)
    0.9
    >>> check_level("0.9", "level")
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: level must lie strictly between 0 and 1 (a number such as 0.95), got '0.9'.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < 1:
        raise error(f"{name} must lie strictly between 0 and 1 (a number such as 0.95), got {value!r}.")
    return float(value)


def check_seed(seed, error: type[MultilevelError] = DataError):
    """``seed`` as numpy's generators take it: None or an integer >= 0, else ``error``.

    One check for every verb that takes ``seed=``, so that a string or a negative number
    is refused by name rather than by numpy's SeedSequence.

    Examples
    --------
    >>> check_seed(7)
    7
    >>> check_seed("7")
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: seed must be None or an integer >= 0, got '7'.
    """
    import numpy as np

    if seed is None or isinstance(seed, (np.random.SeedSequence, np.random.Generator,
                                         np.random.BitGenerator)):
        return seed   # what the package passes on internally (spawned streams)
    if isinstance(seed, (list, tuple)) and seed and all(_seed_integer(s) for s in seed):
        return seed   # numpy's entropy sequence (a seed and a stream number)
    if not _seed_integer(seed):
        raise error(f"seed must be None or an integer >= 0, got {seed!r}.")
    return int(seed)


def _seed_integer(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral) and value >= 0
