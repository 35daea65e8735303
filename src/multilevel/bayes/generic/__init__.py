"""A structure-generic log density: a new formula samples without a compilation of its own.

nutpie runs a log density compiled by numba; compiled per model structure it costs 4-6 s
for a model as small as sleepstudy's, paid by every new formula. The package's core class
of models — Gaussian, Bernoulli, binomial (logit) and Poisson (log) likelihoods; normal
priors on the coefficients; group effects centred or non-centred, alone, ``||`` or in
correlated blocks with PyMC's ``LKJCholeskyCov``; HalfNormal, HalfStudentT, Exponential
and HalfCauchy priors on standard deviations — shares one density written with the
structure as data (:mod:`multilevel.bayes.generic.kernel`). It is compiled once per
installation (kept in ``~/.cache/multilevel/kernels``, or ``$MULTILEVEL_KERNEL_DIR``); a
model of the class is read into that density's arrays (:mod:`multilevel.bayes.generic.layout`,
0.01-0.06 s, nothing compiled) and sampled by nutpie as before.

It is the same model. The arrays are read from the PyMC model Bambi built, and before a
model is sampled this way its log density and every stored variable are compared with
PyMC's own (evaluated without compilation) at the support point and at a jittered point;
any difference beyond rounding, or anything outside the class, sends the model to the
per-structure compilation (:mod:`multilevel.bayes.cache`) as before. The unconstrained
parameter vector is nutpie's layout, so the trace, ``keep_unconstrained`` and the bridge
sampler read it as before. Chains start at PyMC's support point with Uniform(-1, 1) jitter,
drawn from one seeded stream per variable (:mod:`multilevel.bayes.start`'s replay): the
same seed gives the same draws, though not the per-structure route's draws.

``MULTILEVEL_GENERIC=0`` (or :data:`ENABLED` = False) turns the route off.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from multilevel.bayes.generic.layout import Layout, NotGeneric, build_layout

ENABLED = True
RTOL = 1e-9   # the agreement with PyMC's log density and stored values a layout must show
_log = logging.getLogger("multilevel.cache")


class Mismatch(NotGeneric):
    """A model read into the arrays whose density or stored values differ from PyMC's."""


def enabled() -> bool:
    """Whether models of the class take the generic route in this process."""
    flag = os.environ.get("MULTILEVEL_GENERIC", "1").strip().lower()
    return ENABLED and flag not in ("0", "false", "off", "no")


def verify(layout: Layout, kernel) -> None:
    """Raise :class:`NotGeneric` unless the compiled density and expansion equal PyMC's
    at the layout's check points (support point and a jittered one).

    A layout verified before (the same arrays, storage and model variables: a rerun of a
    spec, a refit on the same data) is recorded in the kernel folder and not evaluated
    again.
    """
    from multilevel.bayes.generic.kernel import check_arrays, is_verified, mark_verified

    try:
        check_arrays(layout.arrays, layout.n_dim)
    except ValueError as exc:
        raise NotGeneric(f"malformed layout: {exc}") from None
    fingerprint = layout.fingerprint()
    if is_verified(kernel, fingerprint):
        return
    for x, logp, stored in layout.reference_points():
        code, value, grad = kernel.logp_at(x, layout.arrays)
        ecode, expanded = kernel.expand_at(x, layout.arrays)
        if code != 0 or ecode != 0 or not np.all(np.isfinite(grad)):
            raise NotGeneric(f"the generic density failed at a check point (codes {code}, {ecode})")
        if not np.isclose(value, logp, rtol=RTOL, atol=RTOL):
            raise Mismatch(f"log density {value!r} differs from PyMC's {logp!r}")
        if expanded.shape != stored.shape or not np.allclose(expanded, stored, rtol=RTOL, atol=1e-12):
            raise Mismatch("a stored variable differs from PyMC's")
    mark_verified(kernel, fingerprint)


def compile_generic(model, var_names=None, stats: dict | None = None):
    """A nutpie ``CompiledPyMCModel`` of ``model`` on the generic density, or ``None``
    when the model is outside the class (``stats["generic"]`` says why) or the route is off.
    """
    stats = {} if stats is None else stats
    if not enabled():
        return None
    from multilevel.bayes.generic.kernel import load_kernel

    try:
        layout = build_layout(model, var_names)
        kernel = load_kernel(stats)
        verify(layout, kernel)
    except NotGeneric as exc:
        stats["generic"] = str(exc)
        if isinstance(exc, Mismatch):   # a model read wrongly: a defect to report
            _log.warning("generic density: %s; compiled per structure instead", exc)
        return None
    except Exception as exc:  # noqa: BLE001 - reading an unforeseen graph: the other route is always right
        stats["generic"] = f"not read ({type(exc).__name__}: {exc})"
        _log.debug("generic density: %s", stats["generic"])
        return None
    stats["generic"] = layout.family
    stats["cache"], stats["source"] = "generic", stats.get("kernel")
    return assemble(model, layout, kernel)


def start_plan(layout: Layout) -> dict:
    """PyMC's support point with one jitter stream per value variable, in model order
    (replayed by :func:`multilevel.bayes.start.replay`)."""
    names = list(layout.support)
    return {"support": dict(layout.support), "stream": {n: i for i, n in enumerate(names)},
            "n_streams": len(names)}


def assemble(model, layout: Layout, kernel):
    """nutpie's compiled model running ``kernel`` on ``layout``'s arrays."""
    from nutpie import compile_pymc as ncp

    from multilevel.bayes.cache import _initial_point_fn
    from multilevel.bayes.generic.kernel import pack

    packed = pack(layout.arrays)
    for value in packed.values():
        value.flags.writeable = False
    from multilevel.bayes import speculate
    from multilevel.bayes.start import JITTER_SCALES

    names, _, shapes = layout.shape_info
    dims, coords = ncp._prepare_dims_and_coords(model, layout.shape_info, layout.reparam)
    plan = start_plan(layout)
    compiled = ncp.CompiledPyMCModel(
        dims=dims, compiled_logp_func=kernel.logp, compiled_expand_func=kernel.expand,
        initial_point_func=_initial_point_fn(model, layout.shape_info, plan),
        shared_data=packed, shared_var_keys={}, user_data=kernel.user_data(packed),
        n_expanded=int(sum(int(np.prod(s)) for s in shapes)), shape_info=layout.shape_info,
        logp_func=None, expand_func=None, _n_dim=layout.n_dim,
        _shapes=dict(zip(names, shapes)), _coords=coords,
    )
    if speculate.active():   # a CLI rerun: a child may have sampled this problem already
        speculate.attach(compiled, len(layout.values), kernel, packed, plan, JITTER_SCALES.get())
    return compiled


__all__ = ["Mismatch", "NotGeneric", "compile_generic", "enabled", "verify"]
