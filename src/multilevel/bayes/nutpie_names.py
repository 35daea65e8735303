"""Names nutpie can store, mapped back to the model's names in the trace.

nutpie writes each variable's dimension names into its Arrow trace as one string
joined by "," and splits it at "," when converting the trace to ArviZ
(``nutpie.sample._add_arrow_data``). Bambi names a term's dimension after the term
(``poly(x, 2)_dim``; ``cbind(s, n - s)`` gives dimensions of the same kind), so such
a name comes back as two dimensions and the conversion fails. The compiled model
handed to nutpie gets comma-free placeholder names instead, and the trace gets the
model's names back before PyMC, Bambi or the user see it: the posterior of a nutpie
fit has the same variables, dimensions and coordinates as one of PyMC's sampler.
"""

from __future__ import annotations

import dataclasses

# nutpie's trace groups that carry the compiled model's dimensions
_TRACE_GROUPS = ("posterior", "warmup_posterior", "sample_stats", "warmup_sample_stats",
                 "unconstrained_posterior", "warmup_unconstrained_posterior")


def placeholders(names) -> dict[str, str]:
    """``{model name: placeholder}`` for every name containing ",", the placeholders
    free of "," and distinct from each other and from all of ``names``.

    Examples
    --------
    >>> placeholders(["poly(x, 2)_dim", "g__factor_dim"])
    {'poly(x, 2)_dim': 'nutpie_dim_0'}
    """
    names = list(dict.fromkeys(names))
    taken = set(names)
    mapping: dict[str, str] = {}
    counter = 0
    for name in names:
        if "," not in name:
            continue
        while f"nutpie_dim_{counter}" in taken:
            counter += 1
        mapping[name] = f"nutpie_dim_{counter}"
        taken.add(mapping[name])
    return mapping


def sanitize(compiled):
    """``(compiled model with placeholder dimension names, {placeholder: model name})``.

    ``compiled`` is nutpie's ``CompiledPyMCModel`` (a dataclass with ``dims``:
    variable -> dimension names, and ``_coords``: dimension -> labels). A model
    without commas in its dimension names is returned unchanged with ``{}``.
    """
    dims = dict(compiled.dims or {})
    coords = dict(compiled._coords or {})
    names = [*coords, *(d for ds in dims.values() for d in ds)]
    mapping = placeholders(names)
    if not mapping:
        return compiled, {}
    safe = {var: tuple(mapping.get(d, d) for d in ds) for var, ds in dims.items()}
    safe_coords = {mapping.get(d, d): labels for d, labels in coords.items()}
    return (dataclasses.replace(compiled, dims=safe, _coords=safe_coords),
            {v: k for k, v in mapping.items()})


def restore(idata, back: dict[str, str]):
    """The trace with the model's dimension names in place of the placeholders."""
    if not back:
        return idata
    import xarray as xr

    for group in _TRACE_GROUPS:
        if group not in idata.children:
            continue
        ds = idata[group].to_dataset()
        present = {k: v for k, v in back.items() if k in ds.dims or k in ds.variables}
        if present:
            idata[group] = xr.DataTree(ds.rename(present))
    return idata
