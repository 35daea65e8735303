"""nutpie's default start, replayed in numpy so a cached model skips a PyTensor compile.

nutpie starts each chain at PyMC's support point plus Uniform(-1, 1) jitter, from a
PyTensor function compiled by ``pymc.initial_point.make_initial_point_fn``. That
compilation costs 0.5 s per process for a model with an LKJ block (the whole start
of a cached sleepstudy fit is otherwise ~1 s), and it depends only on the model.

PyMC seeds the function by spawning one ``SeedSequence`` child per random stream in
the compiled graph and drawing each variable's jitter from its stream. Which stream
jitters which variable follows PyMC's graph traversal, so instead of relying on that
order this module *measures* it once, when the model is compiled: it finds, for each
variable, the stream whose draw reproduces PyMC's start exactly, and checks the
result on several seeds. The plan (support point, stream per variable) is stored with
the compiled model; a later process replays it with numpy. When the start cannot be
replayed bit for bit — a variable whose start is a prior draw, an unknown stream
layout — there is no plan and PyMC's function is used, as before.
"""

from __future__ import annotations

import contextvars
from typing import Callable

import numpy as np

CHECK_SEEDS = (0, 1, 20261122, 2 ** 40 + 7)


def _uniform(stream: np.random.SeedSequence, shape: tuple) -> np.ndarray:
    return np.random.Generator(np.random.PCG64(stream)).uniform(-1.0, 1.0, size=shape)


def replay(plan: dict, seed) -> dict[str, np.ndarray]:
    """The start PyMC's jittered initial-point function gives for ``seed``.

    Parameters
    ----------
    plan : dict
        From :func:`replay_plan`.
    seed : int or None
        As nutpie passes it to ``initial_point_func``.

    Returns
    -------
    dict
        Transformed value-variable name -> start value.
    """
    streams = np.random.SeedSequence(seed).spawn(plan["n_streams"])
    return {name: support + _uniform(streams[plan["stream"][name]], support.shape)
            for name, support in plan["support"].items()}


def replay_plan(jittered: Callable, support: dict[str, np.ndarray]) -> dict | None:
    """Measure which random stream jitters each variable; ``None`` if not replayable.

    Parameters
    ----------
    jittered : callable
        ``make_initial_point_fn(model=..., jitter_rvs=set(model.free_RVs),
        return_transformed=True)``: seed -> {name: value}.
    support : dict
        The same function without jitter, evaluated once: {name: support point}.

    Returns
    -------
    dict or None
        ``{"support", "stream", "n_streams"}``, verified to reproduce ``jittered``
        exactly on :data:`CHECK_SEEDS`.
    """
    support = {name: np.asarray(value, dtype="float64") for name, value in support.items()}
    # PyMC spawns one child per stream; child i does not depend on how many are spawned,
    # so a generous count finds every stream PyMC uses
    n_streams = 8 + 4 * len(support)
    probe = jittered(CHECK_SEEDS[0])
    if set(probe) != set(support):
        return None
    streams = np.random.SeedSequence(CHECK_SEEDS[0]).spawn(n_streams)
    stream = {}
    for name, value in support.items():
        hits = [i for i, child in enumerate(streams)
                if np.array_equal(value + _uniform(child, value.shape), probe[name])]
        if len(hits) != 1:
            return None
        stream[name] = hits[0]
    if len(set(stream.values())) != len(stream):
        return None
    plan = {"support": support, "stream": stream, "n_streams": n_streams}
    for seed in CHECK_SEEDS:
        expected, replayed = jittered(seed), replay(plan, seed)
        if not all(np.array_equal(replayed[name], expected[name]) for name in support):
            return None
    return plan


# --------------------------------------------------------------- the jitter's reach
# Under a log link a start's jitter moves η by (jitter × predictor): PyMC's Uniform(-1, 1)
# on the coefficient of a predictor of range ±70 (grouseticks' centred HEIGHT) puts
# η at ±70, exp(η) at 1e30 and the log density at -1e22; nutpie's step size then
# collapsed to 1e-11 in the chains so started and they never moved (R-hat 3-18 for
# ``TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)``, seeds 2-4). The jitter of a common term's
# coefficient is scaled so that it moves η by at most this much on the fitted rows.
MAX_ETA_JITTER = 2.0
# the context the sampler sets for the model it samples (read when nutpie's start
# function is assembled, in the sampling thread)
JITTER_SCALES: contextvars.ContextVar = contextvars.ContextVar("jitter_scales", default=None)


def jitter_scales(bambi_model) -> dict[str, np.ndarray] | None:
    """``{value variable: scale}`` of the common terms whose start jitter must be shrunk
    (log links only, where η enters through exp), None when none need it.

    A column x gets min(1, :data:`MAX_ETA_JITTER` / max|x|); the other variables keep
    PyMC's jitter, so a model without such a column starts exactly as before.
    """
    try:
        family = bambi_model.family
        parent = family.likelihood.parent
        link = family.link[parent].name
        # Bambi 0.17 renamed Model.components to Model.parameters
        parts = bambi_model.parameters if hasattr(type(bambi_model), "parameters") else bambi_model.components
        terms = parts[parent].common_terms
    except (AttributeError, KeyError):
        return None
    if link != "log":
        return None
    scales = {}
    for name, term in terms.items():
        x = np.asarray(term.data, dtype=float)
        x = x.reshape(len(x), -1)
        reach = np.nanmax(np.abs(x), axis=0) if len(x) else np.zeros(x.shape[1])
        scale = np.minimum(1.0, MAX_ETA_JITTER / np.where(reach > 0, reach, 1.0))
        if np.all(np.isfinite(scale)) and (scale < 1).any():
            scales[name] = scale if scale.size > 1 else scale.reshape(())
    return scales or None


def scaled(jittered: Callable, support: dict[str, np.ndarray], scales: dict | None) -> Callable:
    """``jittered`` (seed -> start) with each scaled variable's jitter multiplied by its
    scale; unchanged without scales (or for variables of another shape)."""
    if not scales:
        return jittered

    def start(seed):
        point = dict(jittered(seed))
        for name, scale in scales.items():
            if name in point and name in support and np.shape(point[name])[-1:] == np.shape(scale)[-1:]:
                base = np.asarray(support[name], dtype="float64")
                point[name] = base + (np.asarray(point[name], dtype="float64") - base) * scale
        return point

    return start
