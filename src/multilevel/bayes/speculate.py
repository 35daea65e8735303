"""A rerun's sampling, started in a child process while this one imports (``multilevel fit``).

A cached ``multilevel fit`` spends its first 1.3 s importing Bambi, PyMC and ArviZ on
one core while the other idles, and only then builds the model and samples it. When the
same spec ran before on the same data, the sampling problem is already known at the
start: the structure-generic kernel (:mod:`multilevel.bayes.generic`), its input arrays,
the start plan and nutpie's settings. So the CLI (:func:`begin`, in its own process only)
looks up that problem, recorded by the previous run under a key of the effective spec
and the data, and forks a child that samples it with nutpie's sampler core
(``nutpie._lib``, without nutpie's Python package) on the idle core.

The parent then does everything as usual: it builds the model with Bambi and PyMC, reads
and verifies the generic layout and reaches nutpie. There, just before nutpie would start
sampling (``_make_sampler``), the parent's own problem — arrays, kernel, start plan,
jitter scales, dims and coordinates, and nutpie's settings object with its seed — is
hashed, and the child's draws are used only when the child sampled a problem with the
same hash; nutpie's own code then turns them into the trace. Sampling is deterministic
given the problem (one thread or two: the chains do not depend on it; tested), so the
draws are the ones this process would have drawn, bit for bit. Anything else — no
record, another problem, a child that failed or stalls, unsupported settings — and the
parent samples as usual (and records the problem for the next run); an interrupt kills
the child. The record is a cache entry with the compile cache's trust rules (a private
folder, the owner, a checksum).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import os
import pickle
import signal
import sys

import numpy as np

STALL_S = 5.0      # a child without CPU time for this long is killed
DEADLINE_S = 60.0  # ... and one still sampling after this long (its problem took ≤ MAX_SAMPLE_S)
MAX_RECORDS = 20   # problems kept in the kernel folder (the oldest are removed)
MAX_RECORD_BYTES = 64 << 20   # a larger model's arrays are not recorded
# The child samples on one thread (two would slow the imports it runs beside). A problem
# whose recorded sampling took longer than this (on the run's threads) is not speculated:
# a child still sampling when this process gets there could finish after this process would.
MAX_SAMPLE_S = 1.0
# nutpie.sample's keywords that are not sampler settings (the others go to settings.update)
_NOT_SETTINGS = {"draws", "tune", "chains", "cores", "seed", "save_warmup", "progress_bar",
                 "progress_callback", "progress_rate", "progress_template", "progress_style",
                 "blocking", "sampler", "adaptation", "store_unconstrained", "init_mean",
                 "return_raw_trace", "zarr_store"}
_DEPRECATED = {"low_rank_modified_mass_matrix", "transform_adapt", "use_grad_based_mass_matrix"}
# the keywords of the nutpie.sample call being made (set by multilevel.bayes.sampling)
CALL: contextvars.ContextVar = contextvars.ContextVar("nutpie_call", default=None)
# what happened in this process: "record" (none/found/written), "child", "used", "why"
LAST: dict = {}
_STATE: dict = {}
_log = logging.getLogger("multilevel.cache")


# ------------------------------------------------------------------ the parent, at start
def begin(material: bytes) -> None:
    """Start sampling the recorded problem of this run in a child, if there is one.

    ``material`` identifies the run (the CLI: the effective spec and the data); the
    record of the run before is looked up under its hash. Called once, early, by the
    command's own process; afterwards :func:`attach` decides whether to use the child.
    """
    from multilevel.forked import can_fork, close_quietly, reply_spill

    LAST.clear()
    _STATE.clear()
    if not enabled():
        LAST["why"] = "off"
        return
    key = hashlib.sha256(b"speculate 1\n" + material).hexdigest()
    _STATE["key"] = key
    record = _read(key)
    LAST["record"] = "found" if record is not None else "none"
    if record is None or not can_fork():
        return
    if not record.get("sample_s", float("inf")) <= MAX_SAMPLE_S:
        LAST["why"] = "its sampling is long"
        return
    try:
        read_fd, write_fd = os.pipe()
    except OSError:   # no descriptors left: the usual run
        return
    # the draws (8 MB for sleepstudy) go through an in-memory file: the child writes them
    # and exits when it has sampled, instead of waiting for this process to read a pipe
    spill = reply_spill()
    try:
        pid = os.fork()
    except OSError:
        close_quietly(read_fd, write_fd, spill)
        return
    if pid == 0:   # the child: never returns
        os.close(read_fd)
        _child(write_fd, spill, record)
    os.close(write_fd)
    _STATE["child"] = (pid, read_fd, spill, record["digest"])
    LAST["child"] = pid


def enabled() -> bool:
    """On unless ``MULTILEVEL_SPECULATE=0`` (or ``MULTILEVEL_CACHE=0``: nothing kept on disk)."""
    off = ("0", "false", "off", "no")
    return all(os.environ.get(name, "1").strip().lower() not in off
               for name in ("MULTILEVEL_SPECULATE", "MULTILEVEL_CACHE"))


def active() -> bool:
    """Whether this process records or uses sampling problems (a CLI ``fit``)."""
    return "key" in _STATE


def stop() -> None:
    """Kill a child that is still running (an interrupt, the end of the command)."""
    from multilevel.forked import close_quietly, reap

    child = _STATE.pop("child", None)
    if child is not None:
        pid, fd, spill, _ = child
        reap(pid, kill=True)
        close_quietly(fd, spill)


# --------------------------------------------------------- the parent, at nutpie's start
def attach(compiled, n_free: int, kernel, packed: dict, plan: dict, scales) -> None:
    """Make ``compiled`` (nutpie's model on the generic kernel) take the child's draws when
    the child sampled exactly its problem, and record the problem otherwise.

    ``n_free`` counts the free variables (the start's), ``kernel`` is the generic kernel,
    ``packed`` its input arrays, ``plan`` the start plan and ``scales`` the jitter scales:
    :func:`problem`'s arguments. Where they cannot be read, ``compiled`` is left as it is.
    """
    try:
        problem_ = problem(compiled, n_free, kernel, packed, plan, scales)
    except Exception as exc:  # noqa: BLE001 - an optimization only: the usual sampling
        LAST["why"] = f"not speculated ({type(exc).__name__}: {exc})"
        stop()
        return
    original = compiled._make_sampler

    def make_sampler(settings, *args):
        if _STATE.get("first_done"):   # the run's own fit only, not refits after it
            return original(settings, *args)
        _STATE["first_done"] = True
        try:
            trace = _speculated(problem_, settings)
        except Exception as exc:  # noqa: BLE001 - an optimization only: the usual sampling
            LAST["why"] = f"not speculated ({type(exc).__name__}: {exc})"
            stop()
            trace = None
        if trace is not None:
            LAST["used"] = True
            return _Finished(trace)
        return original(settings, *args)

    object.__setattr__(compiled, "_make_sampler", make_sampler)


def _speculated(problem: dict, settings):
    """The child's trace of this very problem, or ``None`` (then the problem is left
    pending, to be recorded once this process has sampled it)."""
    if sum(a.nbytes for a in problem["packed"].values()) > MAX_RECORD_BYTES:
        stop()   # too large to record (and far too long to sample for a child)
        return None
    recipe = _recipe(CALL.get())
    if recipe is None:
        LAST["why"] = "settings nutpie would not take from a record"
        stop()
        return None
    chosen = settings.as_dict()
    digest = _digest(problem, chosen)
    trace = _take(digest)
    if trace is None:
        _STATE["pending"] = (problem, recipe, chosen, digest)   # recorded once sampled
    return trace


def sampled(seconds: float) -> None:
    """nutpie's sampling of this process's problem took ``seconds``: record the problem
    for the next run (:func:`attach` left it pending)."""
    pending = _STATE.pop("pending", None)
    if pending is not None:
        try:
            _write(*pending, seconds)
        except Exception as exc:  # noqa: BLE001 - not recorded (e.g. a value that does not pickle)
            _log.debug("sampling problem not recorded: %s", exc)


def _recipe(call: dict | None) -> dict | None:
    """nutpie.sample's keywords the child needs to make the same settings object, or
    ``None`` where a record cannot reproduce the call."""
    if call is None or any(k in call for k in _DEPRECATED):
        return None
    if call.get("zarr_store") is not None or call.get("init_mean") is not None \
            or call.get("return_raw_trace") or call.get("sampler", "nuts") != "nuts" \
            or call.get("adaptation", "diag") not in ("diag", "draw_diag"):
        return None
    recipe = {k: v for k, v in call.items()
              if k not in ("progress_bar", "progress_callback", "progress_rate", "progress_template",
                           "progress_style", "blocking", "cores", "save_warmup")}
    plain = (bool, int, float, str, type(None))
    return recipe if all(isinstance(v, plain) for v in recipe.values()) else None


def _take(digest: str):
    """The child's (draws, stats) record batches when it sampled ``digest``'s problem."""
    from multilevel.forked import close_quietly, collect_reply, reap

    child = _STATE.pop("child", None)
    if child is None:
        return None
    pid, fd, spill, expected = child
    if expected != digest:   # the record is of another problem: the parent samples
        LAST["why"] = "the recorded problem is not this run's"
        reap(pid, kill=True)
        close_quietly(fd, spill)
        return None
    problem, reply, _ = collect_reply(pid, fd, DEADLINE_S, STALL_S, spill_fd=spill)
    if problem is None and reply[0] != "ok":
        problem = reply[1]   # the child's error
    if problem is not None or reply[1] != digest:
        LAST["why"] = f"the child did not sample it ({problem or 'another problem'})"
        return None
    import arro3.core as arro

    return ([arro.RecordBatch.from_arrow(b) for b in reply[2]],
            [arro.RecordBatch.from_arrow(b) for b in reply[3]])


class _Finished:
    """Stands in for nutpie's sampler once the draws exist (what ``_BackgroundSampler``
    calls on it)."""

    def __init__(self, trace):
        self._trace = trace
        self._taken = False

    def wait(self, timeout=None):
        return None

    def take_results(self):
        self._taken = True
        return _Results(self._trace)

    inspect = abort = take_results

    def is_finished(self):
        return True

    def is_empty(self, ignore_error=False):
        return self._taken

    def pause(self):
        return None

    resume = pause


class _Results:
    def __init__(self, trace):
        self._trace = trace

    def is_zarr(self):
        return False

    def is_arrow(self):
        return True

    def get_arrow_trace(self):
        return self._trace


# ------------------------------------------------------------------------- the problem
def problem(compiled, n_free: int, kernel, packed: dict, plan: dict, scales) -> dict:
    """What the child needs to sample ``compiled`` (nutpie's model on the generic kernel)."""
    from multilevel.bayes.generic.kernel import record_dtype

    names, _, shapes = compiled.shape_info
    return {"kernel": kernel.key, "packed": dict(packed), "n_dim": int(compiled.n_dim),
            "n_expanded": int(compiled.n_expanded), "names": list(names),
            "shapes": [tuple(int(d) for d in s) for s in shapes],
            "dims": {k: list(v) for k, v in (compiled.dims or {}).items()},
            "coords": dict(compiled._coords or {}), "plan": plan,
            "scales": dict(scales) if scales else None, "descr": str(record_dtype().descr),
            "n_free": int(n_free)}


def _digest(problem: dict, settings: dict) -> str:
    h = hashlib.sha256(b"problem 1\n")
    _feed(h, problem)
    _feed(h, settings)
    return h.hexdigest()


def _feed(h, value) -> None:
    if isinstance(value, dict):
        h.update(b"{%d" % len(value))
        for key in sorted(value, key=repr):
            _feed(h, key)
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(b"[%d" % len(value))
        for item in value:
            _feed(h, item)
    elif isinstance(value, np.ndarray) or hasattr(value, "__array__") and not isinstance(value, str):
        array = np.ascontiguousarray(np.asarray(value))
        if array.dtype == object:
            _feed(h, [repr(v) for v in array.tolist()])
            return
        h.update(f"a{array.dtype.str}{array.shape}".encode())
        h.update(array.tobytes())
    else:
        h.update(f"{type(value).__name__}:{value!r};".encode())


# --------------------------------------------------------------------------- records
def _path(key: str):
    from multilevel.bayes.generic.kernel import kernel_dir

    return kernel_dir() / f"problem-{key[:24]}.pkl"


def _read(key: str) -> dict | None:
    from multilevel.bayes import cache as C

    path = _path(key)
    if not C.private_folder(path.parent):
        return None
    body = C._read_entry(path, key)
    if body is None:
        return None
    try:
        record = pickle.loads(body)   # only a body whose owner, key and checksum were verified
    except Exception:  # noqa: BLE001 - a record of another version: sampled as usual
        return None
    return record if isinstance(record, dict) and record.get("format") == C.CACHE_FORMAT else None


def _write(problem: dict, recipe: dict, settings: dict, digest: str, seconds: float) -> None:
    from multilevel.bayes import cache as C

    key = _STATE.get("key")
    if key is None:
        return
    path = _path(key)
    record = {"format": C.CACHE_FORMAT, "key": key, "problem": problem, "recipe": recipe,
              "settings": settings, "digest": digest, "sample_s": float(seconds)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not C.private_folder(path.parent):
            return
        C._write_atomic(path, record)
        LAST["record"] = "written"
        others = sorted(path.parent.glob("problem-*.pkl"), key=lambda p: p.stat().st_mtime)
        for old in others[:-MAX_RECORDS]:
            old.unlink()
    except OSError as exc:
        _log.debug("sampling problem not recorded: %s", exc)


# --------------------------------------------------------------------------- the child
def _child(fd: int, spill: int | None, record: dict) -> None:
    """Sample the record's problem and send ("ok", digest, draws, stats), or ("error",
    what went wrong), through ``spill`` where there is one; never returns."""
    from multilevel.forked import send_reply

    try:
        _die_with_parent()
        # the parent reports what goes wrong; the child's warnings and log records would
        # only repeat them on the terminal the two share
        import warnings

        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        with contextlib.suppress(OSError):
            os.nice(5)   # the parent's imports come first where the cores are busy
        try:
            reply = ("ok", *_sample(record))
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which samples itself
            reply = ("error", f"{type(exc).__name__}: {exc}")
        send_reply(fd, reply, spill)
        code = 0
    except BaseException:  # noqa: BLE001 - the parent has gone, or an interrupt: no reply
        code = 1
    finally:
        os._exit(code)   # no atexit handlers, no flushing of the parent's buffers


def _die_with_parent() -> None:
    """Linux: the child is killed when the parent dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
        if os.getppid() == 1:
            os._exit(1)


def _sample(record: dict):
    """nutpie's sampler on the record's problem, one thread; (digest, draws, stats) with the
    record batches as pyarrow's (they pickle)."""
    import pyarrow as pa

    from multilevel.bayes.generic.kernel import Kernel, load_kernel
    from multilevel.bayes.start import replay, scaled

    problem = record["problem"]
    lib = _nutpie_lib()
    settings = _settings(lib, record["recipe"])
    if settings.as_dict() != record["settings"]:
        raise RuntimeError("nutpie's settings differ from the record's")
    kernel = load_kernel(compile_missing=False)   # a missing kernel is the parent's to compile
    if kernel.key != problem["kernel"] or str(Kernel.user_data(problem["packed"]).dtype.descr) != problem["descr"]:
        raise RuntimeError("another kernel")
    digest = _digest(problem, settings.as_dict())
    if digest != record["digest"]:
        raise RuntimeError("the record does not hash to its digest")
    packed = {k: np.ascontiguousarray(v) for k, v in problem["packed"].items()}
    user = Kernel.user_data(packed)
    plan, names, shapes = problem["plan"], problem["names"], problem["shapes"]
    free = list(zip(names, shapes))[:problem["n_free"]]
    start = scaled(lambda seed: replay(plan, seed), plan["support"], problem["scales"]) \
        if problem["scales"] else (lambda seed: replay(plan, seed))

    def initial_point(seed=None):   # nutpie's flat array of the start, in model order
        values = start(seed)
        return np.concatenate([np.asarray(values[n], dtype="float64").reshape(s).reshape(-1)
                               for n, s in free]).astype("float64")

    keep = (packed, user)
    expand = lib.ExpandFunc(problem["n_dim"], problem["n_expanded"], kernel.expand.address,
                            user.ctypes.data, keep)
    logp = lib.LogpFunc(kernel.logp.address, user.ctypes.data, keep)
    coords = problem["coords"]
    sizes = {name: len(values) for name, values in coords.items()}
    variables = lib.PyVariable.new_variables(names, ["float64"] * len(names), shapes, sizes,
                                             problem["dims"])
    model = lib.PyMcModel(logp, expand, variables, problem["n_dim"], sizes, coords,
                          initial_point, None)
    sampler = lib.PySampler.from_pymc(settings, 1, model, lib.ProgressType.none(), None, 100,
                                      lib.PyStorage.arrow())
    sampler.wait(None)
    draws, stats = sampler.take_results().get_arrow_trace()
    return digest, [pa.record_batch(b) for b in draws], [pa.record_batch(b) for b in stats]


def _settings(lib, recipe: dict):
    """nutpie.sample's settings object for these keywords (its code, for the cases
    :func:`_recipe` lets through)."""
    call = dict(recipe)
    settings = lib.PyNutsSettings.Diag(call.get("seed"))
    if call.get("adaptation", "diag") == "draw_diag":
        settings.use_grad_based_mass_matrix = False
    updates = {k: v for k, v in call.items() if k not in _NOT_SETTINGS}
    for name, setting in (("tune", "num_tune"), ("draws", "num_draws"), ("chains", "num_chains")):
        if call.get(name) is not None:
            updates[setting] = call[name]
    settings.update(updates)
    if call.get("store_unconstrained"):
        settings.store_unconstrained = True
    return settings


def _nutpie_lib():
    """nutpie's compiled core without its Python package (which imports ArviZ, xarray and
    pandas' IO: 0.8 s); in the child only, where nothing else will import nutpie."""
    import importlib.util
    import types
    from pathlib import Path

    if "nutpie._lib" in sys.modules:
        return sys.modules["nutpie._lib"]
    spec = importlib.util.find_spec("nutpie")
    if spec is None or spec.origin is None:
        raise RuntimeError("nutpie is not installed")
    folder = Path(spec.origin).parent
    found = sorted(p for p in folder.iterdir() if p.name.startswith("_lib.") and p.suffix in (".so", ".pyd"))
    if not found:
        raise RuntimeError("nutpie's compiled core was not found")
    package = types.ModuleType("nutpie")
    package.__path__ = [str(folder)]
    sys.modules.setdefault("nutpie", package)
    lib_spec = importlib.util.spec_from_file_location("nutpie._lib", found[0])
    lib = importlib.util.module_from_spec(lib_spec)
    lib_spec.loader.exec_module(lib)
    sys.modules["nutpie._lib"] = lib
    return lib
