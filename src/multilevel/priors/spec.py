"""``[priors]`` tables of model specs → the ``priors=`` argument of ``ml.fit``.

    [priors]
    preset = "ridge"          # weakly-informative | ridge | lasso | elastic_net | horseshoe |
    scale = 2.0               #   regularized_horseshoe; further keys are the preset's arguments
    [priors.terms]
    Days = { dist = "Normal", mu = 0, sigma = 10 }
    "1|Subject" = { dist = "Normal", mu = 0, sigma = { dist = "HalfNormal", sigma = 20 } }
"""

from __future__ import annotations

import inspect

from multilevel.errors import PriorError
from multilevel.priors.base import MAX_DEPTH, Prior
from multilevel.priors.presets import PRESETS

DEFAULT = "weakly-informative"


def from_spec(table: dict):
    """Turn a ``[priors]`` table into what :func:`multilevel.fit` accepts as ``priors``.

    Examples
    --------
    >>> from_spec({"preset": "ridge", "scale": 2.0})
    ridge(scale=2.0)
    """
    if not isinstance(table, dict):
        raise PriorError("[priors] must be a table.")
    table = dict(table)
    preset_name = table.pop("preset", DEFAULT)
    terms = table.pop("terms", {})
    out: dict = {}
    if preset_name != DEFAULT:
        if preset_name not in PRESETS:
            raise PriorError(f"[priors] preset {preset_name!r} is unknown. Valid presets: "
                             f"{', '.join([DEFAULT, *PRESETS])}.")
        factory = PRESETS[preset_name]
        allowed = set(inspect.signature(factory).parameters)
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise PriorError(f"[priors] key(s) {', '.join(map(repr, unknown))} are not arguments of "
                             f"{preset_name}. Valid keys: preset, terms, {', '.join(sorted(allowed))}.")
        out["common"] = factory(**table)
    elif table:
        raise PriorError(f"[priors] key(s) {', '.join(map(repr, sorted(table)))} need a preset; "
                         "valid keys with the default: preset, terms.")
    if not isinstance(terms, dict):
        raise PriorError("[priors.terms] must be a table of term = { dist = ..., ... }.")
    for term, spec in terms.items():
        number = isinstance(spec, (int, float)) and not isinstance(spec, bool)
        if not isinstance(spec, dict) and not (number and term.startswith("sd__")):
            # a number is a prior's parameter, or a group SD held fixed; never a coefficient's prior
            raise PriorError(f"[priors.terms] {term} = {spec!r} is not a prior; give a table with "
                             "a 'dist' key, e.g. { dist = \"Normal\", mu = 0, sigma = 10 } (a "
                             "number only as an sd__ term's fixed SD).")
        out[term] = _prior(spec, f"[priors.terms] {term}")
    if not out:
        return None
    if list(out) == ["common"]:
        return out["common"]
    return out


def _prior(spec, where: str, depth: int = 0) -> Prior:
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return spec
    if depth > MAX_DEPTH:
        raise PriorError(f"{where}: priors nest more than {MAX_DEPTH} levels deep (a cyclic table?).")
    if not isinstance(spec, dict) or "dist" not in spec:
        raise PriorError(f"{where} must be a table with a 'dist' key, e.g. {{ dist = \"Normal\", "
                         "mu = 0, sigma = 10 }.")
    args = {k: _prior(v, f"{where}.{k}", depth + 1) if isinstance(v, dict) else v
            for k, v in spec.items() if k != "dist"}
    try:
        return Prior(spec["dist"], **args)
    except PriorError as exc:
        raise PriorError(f"{where}: {exc}") from None
