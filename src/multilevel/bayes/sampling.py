"""Which sampler runs the model, and running it reproducibly.

``sampler="auto"`` takes the first installed sampler of :data:`AUTO_ORDER`, the
order measured in ``bench/bench_bayes.py`` on the project machine (2 cores):
sleepstudy ``(Days | Subject)`` 4 x 1000, second fit in one process, nutpie 1.5 s vs
PyMC's NUTS 26 s (same load); nutpie's compile (9-13 s) is cached on disk
(:mod:`multilevel.bayes.cache`), PyMC's by PyTensor. The JAX samplers (numpyro 31 s /
blackjax 72 s on sleepstudy, 0.36 vs nutpie's 1.3 ESS/s on InstEval, CPU) are for GPUs
and are never chosen automatically. Gaussian models with many rows go to the marginal
sampler (group effects and coefficients integrated out, :mod:`multilevel.bayes.marginal`).
The choice is recorded on the fit.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import threading
import time
from dataclasses import dataclass

from multilevel.errors import FitError

SAMPLERS = ("nutpie", "pymc", "marginal", "numpyro", "blackjax")
AUTO_ORDER = ("nutpie", "pymc")
_PACKAGES = {"nutpie": "nutpie", "pymc": "pymc", "marginal": "scipy", "numpyro": "numpyro",
             "blackjax": "blackjax"}
# "auto" hands a Gaussian model to the marginal sampler (multilevel.bayes.marginal) when
# NUTS's gradient runs over many rows and the marginal sampler's factorization is cheap:
# InstEval (73,421 rows, Schur complement 1,142 columns) 2 x 1000 draws gave a min ESS of
# 911 in 46 s against Bambi + nutpie's 181 in 65 s (bench/bench_bayes.py, bench/README.md).
MARGINAL_MIN_ROWS = 10_000
# nutpie's low-rank mass matrix for the models built centred by the data
# (multilevel.bayes.parameterization): it adapts to the intercept's correlation with
# every centred effect, which a diagonal mass matrix cannot (bench/bench_mixing.py)
LOW_RANK_MASS_MATRIX = True
# Stan's draw-variance diagonal adaptation for models with a correlated LKJ block
# (mass_matrix_option)
DRAW_VARIANCE_MASS_MATRIX = True
MARGINAL_MAX_SCHUR = 2_000


@dataclass(frozen=True)
class SamplingSettings:
    """What was asked of the sampler; stored on the fit for reproducibility."""

    sampler: str
    draws: int
    tune: int
    chains: int
    seed: int | None
    target_accept: float


def installed(name: str) -> bool:
    return importlib.util.find_spec(_PACKAGES[name]) is not None


def choose_sampler(requested: str) -> str:
    """Resolve ``"auto"`` and check that the requested sampler is installed."""
    requested = str(requested).lower()
    if requested == "auto":
        for name in AUTO_ORDER:
            if installed(name):
                return name
        return "pymc"
    if requested not in SAMPLERS:
        raise FitError(f"Unknown sampler {requested!r}. Use 'auto' or one of: {', '.join(SAMPLERS)}.")
    if not installed(requested):
        extra = " (pip install 'multilevel[jax]')" if requested in ("numpyro", "blackjax") else ""
        raise FitError(f"sampler={requested!r} needs the package {_PACKAGES[requested]!r}{extra}.")
    return requested


def prefers_marginal(built) -> bool:
    """Whether ``"auto"`` should try the marginal sampler: many rows, a small dense Schur
    complement (the factorization each draw costs), a Gaussian likelihood."""
    if (built.family != "gaussian" or not built.design.reterms or built.design.n < MARGINAL_MIN_ROWS
            or getattr(built, "aux", ())):   # sigma ~ x: no single σ to condition on
        return False
    levels = [t.q * t.n_levels for t in built.design.reterms]
    return sum(levels) - max(levels) <= MARGINAL_MAX_SCHUR


# Far beyond any real run: a larger count made nutpie ask for terabytes and abort the
# process (its allocation failure is not an exception). The spec's bounds are the same
# (multilevel.spec.SAMPLING_MAX; tests/test_hostile_spec.py checks they agree).
MAX_SETTINGS = {"draws": 10_000_000, "tune": 10_000_000, "chains": 1_000}


def check_settings(draws, tune, chains, target_accept) -> None:
    for name, value, low in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise FitError(f"{name} must be an integer >= {low}, got {value!r}.")
        if value > MAX_SETTINGS[name]:
            raise FitError(f"{name} = {value:,} is more than a sampler can hold in memory; use at "
                           f"most {MAX_SETTINGS[name]:,}.")
    if not 0.5 <= float(target_accept) < 1.0:
        raise FitError(f"target_accept must lie in [0.5, 1), got {target_accept!r}.")


def run(bambi_model, settings: SamplingSettings, progress: bool, stats: dict | None = None,
        log_likelihood: bool = True, keep_unconstrained: bool = False):
    """Sample the built Bambi model; returns the ArviZ DataTree (with ``log_likelihood``
    computed by PyMC unless ``log_likelihood=False``: :mod:`multilevel.bayes.loglik`).

    With nutpie the compiled model comes from the disk cache when the same model was
    compiled before (:mod:`multilevel.bayes.cache`); ``stats`` receives whether it did.
    The PyMC traceback of a failed run is replaced by a :class:`FitError` that says
    what to try. ``keep_unconstrained`` (nutpie): ``sample_stats.unconstrained_draw``
    holds each draw's unconstrained parameter vector (PyMC's ``include_transformed``).
    """
    cores = min(settings.chains, os.cpu_count() or 1)
    nuts = {"target_accept": settings.target_accept}
    if settings.sampler == "nutpie":
        nuts.update(mass_matrix_option(bambi_model.backend))
    if settings.sampler == "nutpie":
        from multilevel.bayes.cache import nutpie_compile_cache
        from multilevel.bayes.generic import compile_generic

        compile_cache = nutpie_compile_cache(stats, generic=compile_generic)
        skip_steps = _nuts_for_all(bambi_model.backend.model)
        interrupts = _nutpie_raises_on_interrupt()
        starts = _jitter_scaled(bambi_model)
    else:
        compile_cache = skip_steps = interrupts = starts = contextlib.nullcontext()
    try:
        with _noting_interrupts() as noted, compile_cache, skip_steps, interrupts, starts, \
                _quiet_sampler_logs(not progress):
            idata = bambi_model.fit(
                draws=settings.draws,
                tune=settings.tune,
                chains=settings.chains,
                cores=cores,
                random_seed=settings.seed,
                inference_method=settings.sampler,
                nuts=nuts,
                idata_kwargs={"log_likelihood": log_likelihood,
                              **({"include_transformed": True} if keep_unconstrained else {})},
                progressbar=progress,
            )
    except (ValueError, RuntimeError, FloatingPointError) as exc:
        if noted:   # PyMC swallowed the interrupt, then failed on the few draws it had
            raise KeyboardInterrupt(f"sampling interrupted ({exc})") from None
        raise FitError(
            f"Sampling with {settings.sampler!r} failed: {exc}. Check the data for extreme "
            "values, rescale predictors, or try sampler='pymc' / a higher target_accept."
        ) from exc
    if noted:
        raise KeyboardInterrupt("sampling interrupted")
    check_complete(idata, settings)
    return idata


@contextlib.contextmanager
def _jitter_scaled(bambi_model):
    """The starts of this model's chains with the jitter of wide predictors' coefficients
    shrunk under a log link (:func:`multilevel.bayes.start.jitter_scales`)."""
    from multilevel.bayes.start import JITTER_SCALES, jitter_scales

    token = JITTER_SCALES.set(jitter_scales(bambi_model))
    try:
        yield
    finally:
        JITTER_SCALES.reset(token)


def mass_matrix_option(backend) -> dict:
    """nutpie's mass-matrix adaptation for a built model: the low-rank one for models
    centred by the data (:mod:`multilevel.bayes.parameterization`), Stan's draw-variance
    diagonal for models with a correlated LKJ block, else nutpie's default (the diagonal
    adapted from draws and gradients).

    Measured (4 x 1000, seeds 1-3, min ESS_bulk; bench/README "Mass matrix of models with
    a correlated block"): the gradient-based default left the correlation of sleepstudy's
    ``(Days | Subject)`` at 667-871 (brms 1,061), a Poisson ``(1 + visit | patient)`` at
    296-418 and a simulated ``(x1 + x2 | g) + (1 | h)`` at R-hat 1.011-1.014; the
    draw-variance adaptation gives 962-1,066, 937-1,057 and 811-1,111 with R-hat <= 1.007.
    On scalar non-centred terms with few levels (Dyestuff, Pastes) it diverged or mixed
    worse, so those keep the default.
    """
    if LOW_RANK_MASS_MATRIX and getattr(backend, "low_rank_mass_matrix", False):
        return _adaptation("low_rank")
    if DRAW_VARIANCE_MASS_MATRIX and getattr(backend, "draw_variance_mass_matrix", False):
        return _adaptation("draw_diag")
    return {}


def _adaptation(kind: str) -> dict:
    """nutpie's ``adaptation=kind`` (0.16.x and later); before 0.16 the low-rank matrix was
    a flag and the draw-variance diagonal did not exist (nutpie's default then)."""
    import inspect

    import nutpie

    if "adaptation" in inspect.signature(nutpie.sample).parameters:
        return {"adaptation": kind}
    return {"low_rank_modified_mass_matrix": True} if kind == "low_rank" else {}


# PyMC's loggers: sampler assignment ("NUTS[nutpie]: [...]"), chains and timing notes
SAMPLER_LOGGERS = ("pymc", "pymc.sampling", "pymc.sampling.mcmc", "pymc.stats.convergence")


@contextlib.contextmanager
def _quiet_sampler_logs(quiet: bool):
    """With ``progress=False`` PyMC's informational log lines (``NUTS[nutpie]: [...]``,
    "Sampling 4 chains ...") are not printed; its warnings still are."""
    import logging

    if not quiet:
        yield
        return
    loggers = [logging.getLogger(name) for name in SAMPLER_LOGGERS]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        if lg.getEffectiveLevel() < logging.WARNING:
            lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, before):
            lg.setLevel(level)


@contextlib.contextmanager
def _noting_interrupts():
    """Note SIGINT/SIGTERM while sampling, then let the installed handler act as before.

    PyMC's samplers catch KeyboardInterrupt and go on with the draws they have (or fail
    for having too few); the note lets :func:`run` raise KeyboardInterrupt instead.
    Only Python-level handlers (Python's Ctrl-C handler, the CLI's) are wrapped.
    """
    noted: list = []
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if callable(handler):
            def noting(signum, frame, _handler=handler):
                noted.append(signum)
                return _handler(signum, frame)

            previous[sig] = handler
            signal.signal(sig, noting)
    try:
        yield noted
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def check_complete(idata, settings: SamplingSettings) -> None:
    """Raise KeyboardInterrupt when the posterior has fewer chains or draws than asked for.

    nutpie and PyMC's sequential sampler catch Ctrl-C and return the draws made so far;
    such a truncated sample is an interrupted run, never a fit.
    """
    sizes = idata["posterior"].sizes
    chains, draws = int(sizes.get("chain", 0)), int(sizes.get("draw", 0))
    if chains < settings.chains or draws < settings.draws:
        raise KeyboardInterrupt(f"sampling stopped after {draws} of {settings.draws} draws "
                                f"({chains} of {settings.chains} chains)")


@contextlib.contextmanager
def _nutpie_raises_on_interrupt():
    """Make ``nutpie.sample`` (as PyMC calls it) raise on Ctrl-C instead of returning the
    draws it has: it runs in the background and an interrupt of the wait cancels it.
    Dimension names with "," (``poly(x, 2)_dim``), which nutpie's trace conversion
    splits, are replaced by placeholders for nutpie and restored in the trace
    (:mod:`multilevel.bayes.nutpie_names`)."""
    import nutpie

    from multilevel.bayes import nutpie_names, speculate

    original = nutpie.sample

    def sample(compiled, *args, **kwargs):
        if kwargs.get("blocking", True) is False:
            return original(compiled, *args, **kwargs)
        compiled, back = nutpie_names.sanitize(compiled)
        call = speculate.CALL.set(kwargs)   # read where nutpie starts its sampler
        started = time.perf_counter()
        try:
            background = original(compiled, *args, **{**kwargs, "blocking": False})
        finally:
            speculate.CALL.reset(call)
        try:
            idata = background.wait()
        except BaseException:
            background.cancel()
            raise
        speculate.sampled(time.perf_counter() - started)
        return nutpie_names.restore(idata, back)

    nutpie.sample = sample
    try:
        yield
    finally:
        nutpie.sample = original


@contextlib.contextmanager
def _nuts_for_all(model):
    """Skip PyMC's step-method assignment when handing the model to nutpie.

    ``pm.sample`` assigns a step method to every variable (differentiating the model
    graph, ~0.4 s) even when an external sampler will run, only to check that NUTS
    covers everything. For a model whose free variables are all continuous — every
    model this package builds — the answer is known: NUTS for all.
    """
    import pymc.sampling.mcmc as mcmc

    if not all(str(rv.dtype).startswith("float") for rv in model.free_RVs):
        yield
        return
    original = mcmc.assign_step_methods

    def assign(model_, step=None, methods=None):
        if step is not None or model_ is not model:
            return original(model_, step, methods=methods)
        return [], {mcmc.NUTS: list(model.value_vars)}

    mcmc.assign_step_methods = assign
    try:
        yield
    finally:
        mcmc.assign_step_methods = original
