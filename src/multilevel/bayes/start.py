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
