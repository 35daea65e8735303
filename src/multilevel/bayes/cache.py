"""A disk cache of nutpie's compiled models: a second run of the same model skips compilation.

nutpie turns a PyMC model into two C callbacks (log density + gradient, and the
expansion of a draw into all stored variables) compiled by numba. That compilation
takes 6–13 s for a model as small as sleepstudy's and is not cached by nutpie (its
callbacks embed per-process identifiers). Sampling the same model takes 0.5 s.

This module compiles the same callbacks itself (with nutpie's own graph builders),
keeps numba's compile results, and stores their object code under a key that hashes
the model's *structure*: the model is first rewritten with its data as inputs
(:mod:`multilevel.bayes.datainputs`: design matrices, group indices, response,
trials, offsets, weights and prior parameters read from shared buffers), and the key
hashes that graph — every operation, every shape, the structural constants,
transforms, initial values, the stored variables — with the buffers by type and
shape only, together with the versions of the compiling libraries and the CPU. Every
data set of the same structure and shapes (each K-fold training set of equal size,
each SBC replicate, each point of a prior grid) runs the same compiled code with its
own buffers: within a process the loaded compilation is kept in memory, across
processes (Dask workers) it is loaded from the folder; a file lock per key lets one
process compile while the others wait and load. :func:`compilations` counts the
compilations of this process (``fit.timings["compilations"]`` those of one fit).

* Where: ``$MULTILEVEL_CACHE_DIR`` or ``$XDG_CACHE_HOME/multilevel`` (default
  ``~/.cache/multilevel``), sub-folder ``nutpie/``. ``MULTILEVEL_CACHE=0`` turns the
  cache off. Files are written atomically (temporary file + rename), so concurrent
  processes (Dask workers) can share the folder. :func:`clear` empties it.
* Trust: the folder is created private to the user (0700) and is not used when it is
  owned by someone else or writable by group or others. An entry is a header (a magic
  line, the model's key, the SHA-256 of the key and the body) followed by the pickled
  body. It is used only when it is a regular file owned by the user and not writable
  by group or others, its stored key equals the key computed for this model, and its
  checksum matches — all checked before anything is unpickled or linked. A mismatch
  (another model's entry, damaged bytes, a truncated write) is deleted and recompiled,
  logged once on the ``multilevel.cache`` logger. A loaded entry is further checked by
  evaluating the log density and gradient at the initial point of the data it was
  compiled with (stored in the entry) against the values stored at compile time; any
  mismatch or load error falls back to compiling (and replaces the entry).
* Same draws: the compiled code is the same as nutpie's and the start is nutpie's
  default (PyMC's support point + Uniform(-1, 1) jitter, seeded the same way; stored
  as a verified replay plan, :mod:`multilevel.bayes.start`; for other data of the same
  structure the plan's support point is recomputed from that data), so a fit gives the
  same draws whether its compilation was loaded or reused for other data. One exception
  seen: the first compilation of a structure in a process can differ from later ones
  in the last bit of a gradient element (PyTensor links its kernels from its disk cache
  the first time, from memory later), so a recompilation in the same process (cache
  off, or the entry dropped from memory) may give draws that differ after many steps;
  the posterior is the same.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import functools
import hashlib
import logging
import os
import pickle
import stat
import sys
import tempfile
import threading
import types
from importlib.metadata import version
from pathlib import Path

import numpy as np

from multilevel.bayes import callbacks
from multilevel.bayes.datainputs import (
    DATA_TAG,
    Lifted,
    lift_data,
    set_values,
    with_prior_values,
)
from multilevel.bayes.parallel_compile import cacheable as _cacheable
from multilevel.bayes.parallel_compile import compile_pair, rebuild
from multilevel.bayes.scoped import scoped
from multilevel.bayes.start import JITTER_SCALES, replay, replay_plan, scaled

CACHE_FORMAT = 6  # 2: the replayable start (multilevel.bayes.start) is stored; 3: key + checksum
#                  header; 4: compiled without fastmath (NUMBA_FLAGS); 5: data as inputs, keyed
#                  on the structure (multilevel.bayes.datainputs); 6: the callbacks' wrappers of
#                  multilevel.bayes.callbacks
MAGIC = b"multilevel-nutpie-cache 6\n"
# nutpie's own callback wrappers instead of multilevel.bayes.callbacks' (same arithmetic; the
# tests compare the two)
NUTPIE_WRAPPERS = False
# PyTensor's numba kernels are compiled with fastmath by default. With fastmath, LLVM may
# reassociate and fuse floating-point operations across the kernels it inlines, and what it
# inlines depends on whether PyTensor's own on-disk kernel cache was warm: the same model
# then gave different log densities in the last bits on a fresh machine than later, and a
# seeded fit different draws (160 divergences once, none after). Strict IEEE arithmetic makes
# the compiled code's results independent of that cache, so seeded fits are bit-reproducible
# across processes and machines. Measured cost: none on sleepstudy's logp+gradient (10 µs),
# 1.5x on a 20,000-row design (where "auto" prefers the marginal sampler anyway).
NUMBA_FLAGS = {"numba__fastmath": False}
_log = logging.getLogger("multilevel.cache")
_logged: set = set()
_LIBS = ("multilevel", "nutpie", "numba", "llvmlite", "pytensor", "pymc", "numpy")
# This process's compilations, by key: a later fit of the same structure reuses them
# (a few MB of machine code each; the oldest is dropped beyond MEMORY_ENTRIES).
MEMORY_ENTRIES = 32
_MEMORY: dict = {}
_COMPILED = [0]
_PROCESS_LOCK = threading.RLock()


def compilations() -> int:
    """How many models this process has compiled for nutpie (loads and reuses not counted;
    a generic kernel, :mod:`multilevel.bayes.generic`, counts once when it is compiled).

    Examples
    --------
    >>> from multilevel.bayes import cache
    >>> isinstance(cache.compilations(), int)
    True
    """
    return _COMPILED[0]


class Uncacheable(Exception):
    """The model holds something without a stable digest; it is compiled uncached."""


# --------------------------------------------------------------------------- where
def cache_dir() -> Path | None:
    """The folder of cached compiled models, or ``None`` when caching is off."""
    if os.environ.get("MULTILEVEL_CACHE", "1").strip().lower() in ("0", "false", "off", "no"):
        return None
    root = os.environ.get("MULTILEVEL_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "multilevel")
    return Path(root) / "nutpie"


def clear() -> int:
    """Delete every cached compiled model; returns how many files were removed.

    Examples
    --------
    >>> from multilevel.bayes import cache
    >>> isinstance(cache.clear(), int)
    True
    """
    _MEMORY.clear()
    folder = cache_dir()
    if folder is None or not folder.exists():
        return 0
    removed = 0
    for path in [*folder.glob("*.pkl"), *folder.glob("*.lock")]:
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


# ----------------------------------------------------------------------------- key
def model_key(model, var_names=None, row_dims: tuple = ()) -> str:
    """A hex digest of everything that determines the compiled code of ``model``.

    ``row_dims``: dims whose length is an input of the graph (a model lifted with
    symbolic rows, :attr:`multilevel.bayes.datainputs.Lifted.row_dims`); their lengths
    are left out of the key. Raises :class:`Uncacheable` when some part has no stable
    digest (an object whose only description is its memory address).
    """
    h = hashlib.sha256()
    h.update(_toolchain())
    _GraphDigest(h).model(model, var_names, tuple(row_dims))
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def _toolchain() -> bytes:
    """The compiling libraries' versions and the CPU, once per process: reading package
    metadata lists site-packages (0.1-0.3 s, paid by every K-fold refit before)."""
    from numba.core.registry import cpu_target

    return (repr((CACHE_FORMAT, sorted(NUMBA_FLAGS.items()), sys.version_info[:3],
                  [version(n) for n in _LIBS])).encode()
            + repr(cpu_target.target_context.codegen().magic_tuple()).encode())


class _GraphDigest:
    """Feeds a PyMC model's graph into a hash in a process-independent way."""

    def __init__(self, h):
        self.h = h
        self.ids: dict = {}

    def put(self, *parts) -> None:
        for part in parts:
            self.h.update(part if isinstance(part, bytes) else str(part).encode())
            self.h.update(b"\x00")

    def model(self, model, var_names, row_dims: tuple = ()) -> None:
        groups = {
            "free": model.free_RVs, "observed": model.observed_RVs,
            "deterministic": model.deterministics, "potential": model.potentials,
        }
        observed_values = [model.rvs_to_values[rv] for rv in model.observed_RVs]
        self.graph([v for vs in groups.values() for v in vs] + observed_values)
        for group, variables in groups.items():
            for var in variables:
                self.put(group, var.name, self.ids[var], model.named_vars_to_dims.get(var.name))
        for rv, value in zip(model.observed_RVs, observed_values):
            self.put("obs", rv.name, self.ids[value])
        for rv in model.free_RVs:
            self.put("transform", rv.name)
            self.value(model.rvs_to_transforms.get(rv))
            self.put("initval")
            self.value(model.rvs_to_initial_values.get(rv))
        for name, labels in model.coords.items():   # labels are not compiled: only sizes
            size = None if labels is None else len(labels)
            self.put("coord", name, "rows" if name in row_dims else size)   # rows: read at run time
        if row_dims:
            self.put("row_dims", repr(row_dims))
        self.put("check_bounds", model.check_bounds, "var_names", repr(sorted(var_names or [])))

    def graph(self, outputs) -> None:
        from pytensor.graph.traversal import toposort

        for var in outputs:
            if var.owner is None:
                self.variable(var)
        for node in toposort(outputs):
            for var in node.inputs:
                if var not in self.ids:
                    self.variable(var)
            self.put("apply", [self.ids[v] for v in node.inputs])
            self.op(node.op)
            for out in node.outputs:
                self.ids[out] = len(self.ids)
                self.put("out", out.type, out.name)

    def variable(self, var) -> None:
        from pytensor.compile.sharedvalue import SharedVariable
        from pytensor.graph.basic import Constant

        self.ids[var] = len(self.ids)
        self.put("var", type(var).__name__, var.type, var.name)
        if getattr(var.tag, DATA_TAG, False):
            return   # a data input: its type and shape are the structure, its values are not
        if isinstance(var, Constant):
            self.value(var.data)
        elif isinstance(var, SharedVariable):
            value = var.get_value(borrow=True)
            # Random generators are re-seeded by the sampler; only their kind matters.
            self.value(value if isinstance(value, np.ndarray) else type(value).__name__)

    def op(self, op) -> None:
        kind = type(op)
        self.put("op", kind.__module__, kind.__qualname__)
        props = getattr(op, "__props__", None)
        if props:
            for name in props:
                self.put(name)
                self.value(getattr(op, name))
        elif hasattr(op, "fgraph"):  # OpFromGraph / symbolic random variables
            inner = _GraphDigest(self.h)
            for var in op.fgraph.inputs:
                inner.variable(var)
            inner.graph(op.fgraph.outputs)
            self.put("inner", [inner.ids[v] for v in op.fgraph.outputs])
        else:
            self.value(str(op))
        for attr in ("ndim_supp", "extended_signature", "dtype"):
            if hasattr(op, attr):
                self.put(attr, getattr(op, attr))

    def code(self, code: types.CodeType) -> None:
        self.put("code", code.co_code, code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                self.code(const)
            else:
                self.put(repr(const))

    def value(self, value, depth: int = 0) -> None:
        from pytensor.graph.basic import Variable

        if isinstance(value, np.ndarray):
            if value.dtype == object:
                raise Uncacheable("object array")
            self.put("nd", value.dtype.str, value.shape, np.ascontiguousarray(value).tobytes())
        elif value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
            self.put(type(value).__name__, repr(value))
        elif isinstance(value, (tuple, list)):
            self.put("seq", len(value))
            for item in value:
                self.value(item, depth + 1)
        elif isinstance(value, dict):
            self.put("map", len(value))
            for key in sorted(value, key=repr):
                self.put(repr(key))
                self.value(value[key], depth + 1)
        elif isinstance(value, type):
            self.put("type", value.__module__, value.__qualname__)
        elif isinstance(value, Variable):  # e.g. the index vectors held by a transform
            inner = _GraphDigest(self.h)
            inner.graph([value])
            self.put("subgraph", inner.ids[value])
        elif hasattr(value, "__props__") or hasattr(value, "fgraph"):
            self.op(value)
        elif isinstance(value, types.FunctionType) and depth < 4:
            # e.g. the bounds function of an interval transform (pm.Uniform priors):
            # its behaviour is its code and the values it closes over.
            self.put("fn", value.__module__, value.__qualname__)
            self.code(value.__code__)
            for cell in value.__closure__ or ():
                self.value(cell.cell_contents, depth + 1)
        elif hasattr(value, "__dict__") and not callable(value) and depth < 4:
            self.put("obj", type(value).__module__, type(value).__qualname__)
            fields = {k: v for k, v in vars(value).items() if not k.startswith("_")}
            self.put("map", len(fields))
            for key in sorted(fields):
                self.put(key)
                self.value(fields[key], depth + 1)
        else:
            text = repr(value)
            if " at 0x" in text:
                raise Uncacheable(f"no stable description for {type(value).__name__}")
            self.put("repr", type(value).__qualname__, text)


# ------------------------------------------------------------------------ compile
def _initial_point_fn(model, shape_info, plan: dict | None = None):
    """nutpie's default start, exactly: PyMC's support point + Uniform(-1, 1) jitter
    (shrunk for the coefficients of wide predictors under a log link:
    :func:`multilevel.bayes.start.jitter_scales`, set by the sampler for its model).

    With a replay ``plan`` (:mod:`multilevel.bayes.start`, measured at compile time)
    the start is computed in numpy; without one, PyMC's function is compiled from the
    live model (0.1-0.5 s). Either way a fit gives the same draws as plain nutpie with
    the same seed.
    """
    from nutpie import compile_pymc as ncp

    jittered = functools.partial(replay, plan) if plan is not None else _jittered_start(model)
    scales = JITTER_SCALES.get()   # a log link's wide predictors (multilevel.bayes.start)
    if scales:
        support = plan["support"] if plan is not None else _support_point(model)
        jittered = scaled(jittered, support, scales)
    shapes = dict(zip(shape_info[0], shape_info[2]))
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    flat = ncp._rv_dict_to_flat_array_wrapper(jittered, names=names,
                                               shapes=[shapes[n] for n in names])
    return ncp._wrap_with_lock(flat)


def _support_point(model) -> dict:
    from pymc.initial_point import make_initial_point_fn

    return make_initial_point_fn(model=model, jitter_rvs=set(), return_transformed=True,
                                 default_strategy="support_point")(0)


def _jittered_start(model):
    from pymc.initial_point import make_initial_point_fn

    return make_initial_point_fn(model=model, jitter_rvs=set(model.free_RVs),
                                 return_transformed=True, default_strategy="support_point")


def _compile(model, var_names, lifted: Lifted | None = None):
    """nutpie's numba compilation, keeping what is needed to store and reload it; with
    :data:`NUMBA_FLAGS` (strict arithmetic), so that its results do not depend on which of
    PyTensor's kernels were already in PyTensor's own cache."""
    import pytensor

    with pytensor.config.change_flags(**NUMBA_FLAGS):
        return _compile_strict(model, var_names, lifted)


def _compile_strict(model, var_names, lifted: Lifted | None):
    from nutpie import compile_pymc as ncp
    from pymc.initial_point import make_initial_point_fn

    point_fn = make_initial_point_fn(model=model, jitter_rvs=set(), return_transformed=True,
                                     default_strategy="support_point")
    # Evaluated once, before nutpie builds its graphs: after that, PyTensor's Python draw of an
    # LKJ block's HalfNormal SDs (in the block's support point) failed on a read-only constant
    # shared with a scalar HalfNormal term ("cannot set WRITEABLE flag to True"), so any model
    # with both, e.g. (1 | g) + (x | h), failed to compile. Without jitter the point does not
    # depend on the seed.
    support = point_fn(0)

    def support_fn(seed):
        return {name: np.array(value, copy=True) for name, value in support.items()}

    start = replay_plan(_jittered_start(model), support_fn(0))
    n_dim, n_expanded, logp_pt, expand_pt, flat_support, shape_info, reparam = ncp._make_functions(
        model, mode="NUMBA", compute_grad=True, join_expanded=True,
        pymc_initial_point_fn=support_fn, var_names=var_names,
    )
    buffers = {} if lifted is None else {id(b): i for i, b in enumerate(lifted.buffers)}
    shared_data, shared_keys, sources, placeholders = {}, {}, {}, {}
    for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        if var not in shared_keys:
            # Deterministic keys (nutpie uses random ones) keep the compiled code reproducible.
            key = shared_keys[var] = f"shared{len(shared_keys)}"
            shared_data[key] = np.array(var.get_value(), order="C", copy=True)
            sources[key] = buffers.get(id(var))
            # the code reads data inputs through the user data at run time; an empty
            # stand-in of the same dtype keeps this data set's values out of the object code
            placeholders[key] = (shared_data[key] if sources[key] is None
                                 else np.zeros((0,) * shared_data[key].ndim, shared_data[key].dtype))
    user_data = ncp.make_user_data(shared_keys, shared_data)
    if NUTPIE_WRAPPERS:
        logp_raw, logp_sig = ncp._make_c_logp_func(
            n_dim, logp_pt.vm.jit_fn, user_data, [shared_keys[v] for v in logp_pt.get_shared()],
            placeholders)
        expand_raw, expand_sig = ncp._make_c_expand_func(
            n_dim, n_expanded, expand_pt.vm.jit_fn, user_data,
            [shared_keys[v] for v in expand_pt.get_shared()], placeholders)
    else:   # the same callbacks without numba's string-formatting error paths (8-10 s)
        logp_raw, logp_sig = callbacks.logp_callback(
            n_dim, logp_pt.vm.jit_fn, [shared_keys[v] for v in logp_pt.get_shared()],
            shared_data, user_data.dtype)
        expand_raw, expand_sig = callbacks.expand_callback(
            n_dim, n_expanded, expand_pt.vm.jit_fn, [shared_keys[v] for v in expand_pt.get_shared()],
            shared_data, user_data.dtype)
    names, slices, shapes = shape_info
    # the two callbacks at once: the expansion in a forked child where possible
    logp, expand = compile_pair((logp_raw, logp_sig), (expand_raw, expand_sig))
    return {
        "logp": logp, "expand": expand,
        "n_dim": int(n_dim), "n_expanded": int(n_expanded),
        "shape_info": (list(names), list(slices), [tuple(int(i) for i in s) for s in shapes]),
        "reparam": list(reparam), "shared_data": shared_data, "sources": sources,
        "user_dtype": user_data.dtype, "support": flat_support(0), "start": start,
        "data_digest": None if lifted is None else lifted.digest(),
    }


def _logp_at(callback_address: int, n_dim: int, x: np.ndarray, user_data: np.ndarray):
    proto = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p,
                             ctypes.c_void_p, ctypes.c_void_p)
    x = np.ascontiguousarray(x, dtype="float64")
    grad, logp = np.zeros(n_dim), np.zeros(())
    code = proto(callback_address)(n_dim, x.ctypes.data, grad.ctypes.data, logp.ctypes.data,
                                   user_data.ctypes.data)
    return int(code), float(logp), grad


class _Compiled:
    """A compilation of one model structure, ready to serve any data set of that structure."""

    def __init__(self, parts: dict):
        self.parts = parts
        self._support = None   # (PyMC's support-point function, the Lifted it reads)
        self._lock = threading.Lock()

    def shared_data(self, lifted: Lifted | None) -> dict:
        """The user data of ``lifted``'s data set (the compile-time values where none)."""
        stored, sources = self.parts["shared_data"], self.parts["sources"]
        out = {key: (value if lifted is None or sources.get(key) is None
                     else lifted.values[sources[key]]) for key, value in stored.items()}
        return {key: np.array(value, order="C", copy=False) for key, value in out.items()}

    def start_plan(self, lifted: Lifted | None):
        """The replayable start for ``lifted``'s data: the stored plan with this data's
        support point (which random stream jitters which variable is structural)."""
        plan = self.parts["start"]
        if plan is None or lifted is None or lifted.digest() == self.parts["data_digest"]:
            return plan
        with self._lock:
            if self._support is None:
                from pymc.initial_point import make_initial_point_fn

                fn = make_initial_point_fn(model=lifted.model, jitter_rvs=set(),
                                           return_transformed=True, default_strategy="support_point")
                self._support = (fn, lifted)
            fn, owner = self._support
            set_values(owner, lifted.values)
            support = {name: np.asarray(value, dtype="float64") for name, value in fn(0).items()}
        return {**plan, "support": support}

    def assemble(self, model, lifted: Lifted | None):
        """A nutpie ``CompiledPyMCModel`` of ``model`` running this compilation."""
        from nutpie import compile_pymc as ncp

        parts = self.parts
        shared_data = self.shared_data(lifted)
        for value in shared_data.values():
            value.flags.writeable = False
        user_data = ncp.update_user_data(np.zeros((), dtype=parts["user_dtype"]), shared_data)
        names, _, shapes = parts["shape_info"]
        dims, coords = ncp._prepare_dims_and_coords(model, parts["shape_info"], parts["reparam"])
        return ncp.CompiledPyMCModel(
            dims=dims, compiled_logp_func=parts["logp"], compiled_expand_func=parts["expand"],
            initial_point_func=_initial_point_fn(model, parts["shape_info"], self.start_plan(lifted)),
            shared_data=shared_data,
            shared_var_keys={}, user_data=user_data, n_expanded=parts["n_expanded"],
            shape_info=parts["shape_info"], logp_func=None, expand_func=None, _n_dim=parts["n_dim"],
            _shapes=dict(zip(names, shapes)), _coords=coords,
        )

    def check(self):
        """(code, log density, gradient) at the compile-time data's support point."""
        from nutpie import compile_pymc as ncp

        parts = self.parts
        user_data = ncp.update_user_data(np.zeros((), dtype=parts["user_dtype"]),
                                         parts["shared_data"])
        return _logp_at(parts["logp"].address, parts["n_dim"], parts["support"], user_data)


def _log_once(what: str, path: Path) -> None:
    if (what, str(path)) not in _logged:
        _logged.add((what, str(path)))
        _log.warning("compile cache: %s: %s", path, what)


def _checksum(key: str, body: bytes) -> str:
    return hashlib.sha256(key.encode() + b"\x00" + body).hexdigest()


def private_folder(folder: Path) -> bool:
    """Create ``folder`` private to the user (0700); whether it may be trusted.

    A folder owned by another user, or writable by group or others, is not used
    (anyone who can write it could plant an entry).
    """
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
    except OSError as exc:
        _log_once(f"not used ({exc.strerror or exc})", folder)
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        _log_once("not used: not a folder owned by this user and private to it (chmod 700)", folder)
        return False
    if info.st_mode & 0o077:   # made by an earlier version (0755): nobody else could write it
        with contextlib.suppress(OSError):
            folder.chmod(0o700)
    return True


def private_file(info: os.stat_result) -> bool:
    """A regular file owned by this user and not writable by group or others."""
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022


def _read_entry(path: Path, key: str) -> bytes | None:
    """The pickled body of the entry at ``path`` when it may be trusted, else ``None``.

    Untrusted (not a regular file, another owner, group/world-writable): ignored and
    left alone. Untrue (another key, a checksum mismatch, damaged header): deleted.
    Nothing is unpickled here.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None   # absent, or a symbolic link
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not private_file(info):
            _log_once("ignored: not a regular file owned by this user and private to it", path)
            return None
        data = fh.read()
    head, _, rest = data.partition(b"\n")
    stored_key, _, rest = rest.partition(b"\n")
    digest, _, body = rest.partition(b"\n")
    if head + b"\n" != MAGIC or stored_key != key.encode() or digest != _checksum(key, body).encode():
        what = ("another model's entry" if head + b"\n" == MAGIC and stored_key != key.encode()
                else "damaged entry")
        _log_once(f"{what}: deleted and compiled again", path)
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return body


def _write_atomic(path: Path, payload: dict) -> None:
    key = payload["key"]
    body = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pkl")   # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + key.encode() + b"\n" + _checksum(key, body).encode() + b"\n" + body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _load(body: bytes, key: str) -> _Compiled | None:
    payload = pickle.loads(body)   # only a body whose owner, key and checksum were verified
    if not isinstance(payload, dict) or payload.get("format") != CACHE_FORMAT or payload.get("key") != key:
        return None
    parts = dict(payload["parts"])
    for name in ("logp", "expand"):
        parts[name] = rebuild(payload[name])
    compiled = _Compiled(parts)
    code, logp, grad = compiled.check()
    ref_code, ref_logp, ref_grad = payload["check"]
    if code != ref_code or not np.allclose([logp, *grad], [ref_logp, *ref_grad], rtol=1e-9,
                                           atol=1e-12, equal_nan=True):
        return None
    return compiled


def _lift(model, stats: dict, var_names=None) -> Lifted | None:
    rows = _SYMBOLIC_ROWS.get() and not _stores_rows(model, var_names)
    try:
        lifted = lift_data(model, rows=rows)
    except Exception as exc:  # a model PyMC cannot convert is compiled with its data, as before
        stats["lift"] = f"{type(exc).__name__}: {exc}"
        return None
    if lifted is not None and lifted.row_dims:
        stats["rows"] = "symbolic"
    return lifted


_SYMBOLIC_ROWS: contextvars.ContextVar = contextvars.ContextVar("multilevel_symbolic_rows",
                                                                default=False)


@contextlib.contextmanager
def symbolic_rows(on: bool = True):
    """Within this block, models are compiled with their row count as an input
    (:func:`multilevel.bayes.datainputs.lift_data` with ``rows=True``): training sets of
    one formula with different numbers of rows (K-fold folds of unequal size, grouped
    folds, reloo) share one compilation. Ordinary fits keep the fixed-row code (and its
    cache entries): refits ask for this (:func:`multilevel.compare.refit.run_job`).

    Examples
    --------
    >>> from multilevel.bayes import cache
    >>> with cache.symbolic_rows():
    ...     cache._SYMBOLIC_ROWS.get()
    True
    """
    with scoped(_SYMBOLIC_ROWS, bool(on)):
        yield


def _stores_rows(model, var_names) -> bool:
    """Whether the trace stores a variable along the rows (e.g. ``mu`` when it is not
    left out): its length would be compiled into the expansion callback."""
    stored = var_names if var_names is not None else [v.name for v in model.unobserved_value_vars]
    observed = {(model.named_vars_to_dims.get(rv.name) or (None,))[0] for rv in model.observed_RVs}
    return any((model.named_vars_to_dims.get(name) or (None,))[0] in observed - {None}
               for name in stored)


@contextlib.contextmanager
def _key_lock(path: Path | None):
    """One process compiles a key while the others (Dask workers) wait, then load it."""
    try:
        import fcntl
    except ImportError:   # no advisory locks (Windows): concurrent compiles, still correct
        fcntl = None
    if path is None or fcntl is None:
        yield
        return
    try:
        fd = os.open(path.with_suffix(".lock"), os.O_CREAT | os.O_RDWR | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)   # releases the lock


_LIFT_FAILED: set = set()   # structure keys whose lifted code failed (this process)


class _LiftFailed(Exception):
    """The data-as-inputs compilation fails where the model with its data does not."""


_FIXED_PRIORS: contextvars.ContextVar = contextvars.ContextVar("multilevel_fixed_priors", default=None)


@contextlib.contextmanager
def fixed_priors(values: dict | None):
    """Within this block, models run with the prior parameters ``values``
    (:func:`multilevel.bayes.datainputs.prior_values` of another data set of the same
    structure) instead of their own data-scaled ones.

    SBC needs it: the default priors are scaled by the response, and a replicate refitted
    with priors rescaled to its simulated response is not fitted under the prior that
    simulated it. Yields a list that gets one entry per model it was applied to.
    """
    applied: list = []
    with scoped(_FIXED_PRIORS, None if values is None else (values, applied)):
        yield applied


def compile_nutpie(model, var_names=None, stats: dict | None = None, lift: bool = True,
                   generic=None):
    """A nutpie ``CompiledPyMCModel`` for ``model``, compiled at most once per structure.

    The model's data become inputs (:mod:`multilevel.bayes.datainputs`); a compilation
    of the same structure made earlier in this process, or stored in the disk cache, is
    reused with this model's data.

    Parameters
    ----------
    model : pymc.Model
    var_names : list of str, optional
        The variables to store in the trace (as ``nutpie.compile_pymc_model``).
    lift : bool
        Compile with the data as inputs (one compilation per structure). A lifted
        compilation whose code fails at the support point (seen with the hurdle negative
        binomial) is replaced by one with the data in the code, keyed by the data too.
    generic : callable, optional
        ``(model, var_names, stats) -> compiled model or None``, tried first:
        :func:`multilevel.bayes.generic.compile_generic` (the structure-generic density)
        where the sampler passes it; ``None`` (declined) compiles per structure.
    stats : dict, optional
        Filled with ``{"cache": "hit" | "miss" | "off" | "uncacheable" | "untrusted",
        "source": "memory" | "disk" (hits), "compiled": 0 | 1, "key": ...}``.

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.bayes.model import build_model
    >>> from multilevel.bayes.cache import compile_nutpie
    >>> built = build_model("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"))
    >>> info = {}
    >>> compiled = compile_nutpie(built.pymc, stats=info)  # doctest: +SKIP
    >>> info["cache"] in ("hit", "miss")  # doctest: +SKIP
    True
    """
    stats = {} if stats is None else stats
    stats["compiled"] = 0
    fixed = _FIXED_PRIORS.get()
    if generic is not None and lift and fixed is None:   # one density for every structure
        compiled = _generic_first(generic, model, var_names, stats)
        if compiled is not None:
            return compiled
    lifted = _lift(model, stats, var_names) if lift else None
    if fixed is not None:
        if lifted is None:
            from multilevel.errors import FitError

            raise FitError("Fixed prior parameters (SBC) need the model with its data as inputs, "
                           f"which this model could not be converted to ({stats.get('lift')}).")
        try:
            lifted = with_prior_values(lifted, fixed[0])
        except ValueError as exc:
            from multilevel.errors import FitError

            raise FitError(f"Fixed prior parameters (SBC) do not fit this model: {exc}.") from None
        fixed[1].append(1)
        if generic is not None:   # the model with the fixed priors, on the generic density
            compiled = _generic_first(generic, lifted.model, var_names, stats)
            if compiled is not None:
                return compiled
    target = model if lifted is None else lifted.model
    folder = cache_dir()
    try:
        key = (model_key(target, var_names, () if lifted is None else lifted.row_dims)
               if folder is not None else None)
    except Uncacheable as exc:
        key, stats["reason"] = None, str(exc)
    stats["key"] = key
    if lifted is not None and key is not None and key in _LIFT_FAILED:
        return compile_nutpie(model, var_names, stats, lift=False)
    with _PROCESS_LOCK:
        compiled = _MEMORY.get(key) if key is not None else None
        if compiled is not None:
            stats["cache"], stats["source"] = "hit", "memory"
            return compiled.assemble(model, lifted)
        trusted = key is None or private_folder(folder)
        if not trusted:
            stats["reason"] = f"{folder} is not private to this user"
        path = folder / f"{key}.pkl" if key and trusted else None
        with _key_lock(path):
            compiled = _from_disk(path, key, stats) if path is not None else None
            if compiled is not None and lifted is not None and compiled.check()[0] != 0:
                compiled = None   # an entry stored before the check below existed
                _LIFT_FAILED.add(key)
            elif compiled is None:
                try:
                    compiled = _compile_and_store(target, var_names, lifted, folder, key, trusted,
                                                  path, stats)
                except _LiftFailed:
                    compiled = None
                    if key is not None:
                        _LIFT_FAILED.add(key)
        if compiled is None:
            stats["lift"] = "the data-as-inputs code failed at the support point; compiled with the data"
        elif key is not None:
            _MEMORY[key] = compiled
            while len(_MEMORY) > MEMORY_ENTRIES:   # the oldest structure goes first
                _MEMORY.pop(next(iter(_MEMORY)))
    if compiled is None:
        return compile_nutpie(model, var_names, stats, lift=False)
    return compiled.assemble(model, lifted)


def _generic_first(generic, model, var_names, stats: dict):
    """``generic(model, var_names, stats)``, counting a kernel it had to compile."""
    compiled = generic(model, var_names, stats)
    if compiled is not None:
        stats["compiled"] = int(stats.get("kernel") == "compiled")
    return compiled


def _from_disk(path: Path, key: str, stats: dict) -> _Compiled | None:
    body = _read_entry(path, key)
    if body is None:
        return None
    try:
        compiled = _load(body, key)
    except Exception as exc:  # a stale or damaged entry is recompiled, never fatal
        compiled, stats["reason"] = None, f"{type(exc).__name__}: {exc}"
    if compiled is not None:
        stats["cache"], stats["source"] = "hit", "disk"
    return compiled


def _compile_and_store(target, var_names, lifted, folder, key, trusted, path, stats) -> _Compiled:
    compiled = _Compiled(_compile(target, var_names, lifted))
    _COMPILED[0] += 1
    stats["compiled"] = 1
    if lifted is not None and compiled.check()[0] != 0:
        raise _LiftFailed   # neither stored nor kept in memory
    parts = compiled.parts
    stats["cache"] = "off" if folder is None else (
        "uncacheable" if key is None else "miss" if trusted else "untrusted")
    if path is not None and all(_cacheable(parts[n]._cres) for n in ("logp", "expand")):
        stored = {k: v for k, v in parts.items() if k not in ("logp", "expand")}
        payload = {"format": CACHE_FORMAT, "key": key, "parts": stored, "check": compiled.check(),
                   "logp": parts["logp"].reduce(), "expand": parts["expand"].reduce()}
        try:
            _write_atomic(path, payload)
        except OSError as exc:  # a read-only home must not stop a fit
            stats["reason"] = f"not written: {exc}"
    elif path is not None:
        stats["cache"] = "uncacheable"
    return compiled


@contextlib.contextmanager
def nutpie_compile_cache(stats: dict | None = None, generic=None):
    """Route PyMC's call of ``nutpie.compile_pymc_model`` through :func:`compile_nutpie`
    (``generic``: as there).

    PyMC's ``pm.sample(nuts_sampler="nutpie")`` (what Bambi runs) compiles with
    ``nutpie.compile_pymc_model(model, var_names=..., backend="numba")``; inside this
    context that call is served by the cache. Calls with other options (the JAX
    backend, initial points) go to nutpie unchanged.
    """
    import nutpie

    original = nutpie.compile_pymc_model

    def cached(model, *, var_names=None, backend="numba", **kwargs):
        if backend != "numba" or kwargs:
            return original(model, var_names=var_names, backend=backend, **kwargs)
        return compile_nutpie(model, var_names=var_names, stats=stats, generic=generic)

    nutpie.compile_pymc_model = cached
    try:
        yield stats
    finally:
        nutpie.compile_pymc_model = original
