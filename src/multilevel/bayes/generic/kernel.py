"""The structure-generic log density: one compiled program, data and structure as inputs.

Every model of the class (:mod:`multilevel.bayes.generic`) is described by flat index and
value arrays (:class:`multilevel.bayes.generic.layout.Layout`): which elements of the
unconstrained vector ``x`` carry which prior, which are log-transformed, how the group
effects are built from offsets and scales, and how the linear predictor gathers its
pieces. The log density reads those arrays as inputs
(:mod:`multilevel.bayes.generic.density`), so the compiled code does not depend on the
model: nutpie's two C callbacks (log density + gradient, and the expansion of a draw into
the stored variables) are compiled once per toolchain, stored in the installation's
kernel folder, and serve every formula.

Terms, with ``c`` the constrained vector (``exp`` of the log-transformed elements)::

    log p = Σ log|J|                        the log transforms' Jacobian
          + Σ Normal(x_i | μ_i, σ_i)        fixed-scale normal priors
          + Σ Normal(x_i | μ_i, c_s(i))     centred group effects (σ a parameter)
          + Σ HalfNormal / HalfStudentT / Exponential / HalfCauchy (c_i)
          + Σ LKJCholeskyCov(packed c | η, HalfNormal SDs)   PyMC's density, per block
          + Σ log p(y_r | η_r)              the likelihood of the family

    b_e = Σ x_off · c_scale                 group effects (non-centred: offset × scale)
    η_r = η0_r + X_r · x[x_idx] + Σ_s w_sr · P[src_sr]   P = [x, b, 0]; s over the slots
                                              (a row's s-th entry; padding: w = 0 on the 0)

PyMC's formulas are kept term for term, so the value equals ``model.logp()`` to rounding;
:mod:`multilevel.bayes.generic` checks it on every new layout.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from multilevel.bayes.generic.density import FLOATS, INPUTS, INTS, PACKED, pool_offsets

# 5: the stored callbacks leave out the environments their code never reads
# (multilevel.bayes.objcode.slim), so that loading them imports no numba registries
GENERIC_VERSION = 5


def pack(arrays: dict) -> dict:
    """The named arrays as the compiled code's four buffers."""
    out = {}
    for names, kind, dtype in ((INTS, "ints", np.int64), (FLOATS, "floats", np.float64)):
        parts = [np.ascontiguousarray(np.asarray(arrays[name], dtype=dtype).reshape(-1))
                 for name in names]
        out[kind] = np.concatenate(parts) if parts else np.zeros(0, dtype)
        out[kind[:-1] + "_bounds"] = np.concatenate([[0], np.cumsum([len(a) for a in parts])]).astype(np.int64)
    return out


@functools.cache
def record_dtype() -> np.dtype:
    """The user-data record of the inputs: a pointer, a size and a shape per input vector,
    the layout nutpie's ``make_user_data`` gives (tested equal). Built here so that a
    process can run the kernel without importing nutpie's Python package (0.8 s: ArviZ,
    xarray), which only carries the record's address to the callbacks."""
    return np.dtype([("shared", [("data", [(name, np.uintp) for name in PACKED]),
                                 ("size", [(name, np.uintp) for name in PACKED]),
                                 ("shape", [(name, np.uint, (1,)) for name in PACKED])])])


@functools.lru_cache(maxsize=1)
def _example() -> dict:
    """A fixed tiny structure (one normal coefficient, a Gaussian response): the
    arrays the code is compiled and checked with."""
    arrays = {name: np.zeros(0, dtype=np.int64) for name in INTS}
    arrays |= {name: np.zeros(0) for name in FLOATS}
    arrays.update(family=np.array([0]), n_idx=np.array([0]), n_mu=np.array([0.5]), n_sd=np.array([2.0]),
                  log_idx=np.array([1]), h_idx=np.array([1]), h_sd=np.array([1.5]),
                  n_eff=np.array([0]), x_idx=np.array([0]), X=np.array([1.0, 2.0]),
                  eta0=np.zeros(2), y=np.array([0.0, 1.0]),
                  trials=np.ones(2), y_const=np.zeros(2), sig_idx=np.array([1]),
                  expand_idx=np.arange(4))
    return arrays


class Kernel:
    """The two compiled callbacks (every family).

    A kernel read from the kernel folder is linked on first use: ``link`` makes the two
    callbacks from the stored code (checked against the stored values), and ``logp`` and
    ``expand`` stand in for them until then. A rerun whose draws a child process took
    (:mod:`multilevel.bayes.speculate`) needs the kernel's key, not its code: linking
    it is 30-45 ms of the cached CLI run's critical path.
    """

    def __init__(self, logp, expand, key: str = "", link=None):
        self._callbacks, self._link, self.key = (logp, expand), link, key
        if link is not None:
            logp, expand = _Linked(self, 0), _Linked(self, 1)
        self.logp, self.expand = logp, expand
        self.verified: set = set()   # layouts verified in this process

    @property
    def linked(self) -> bool:
        """Whether the machine code is in this process (linked, or compiled here)."""
        return self._link is None

    def callbacks(self) -> tuple:
        """The two callbacks, linked now where they were not yet."""
        with _LOCK:
            if self._link is not None:
                self._callbacks = self._link()
                self._link = None
        return self._callbacks

    @staticmethod
    def user_data(packed: dict) -> np.ndarray:
        """The record pointing at ``packed`` (:func:`pack`; keep it alive as long)."""
        record = np.zeros((), dtype=record_dtype())
        for name, value in packed.items():
            record["shared"]["data"][name] = value.ctypes.data
            record["shared"]["size"][name] = value.size
            record["shared"]["shape"][name] = value.shape
        return record

    def logp_at(self, x: np.ndarray, arrays: dict):
        """(code, log density, gradient) of the compiled callback at ``x``."""
        from multilevel.bayes.cache import _logp_at

        packed = pack(arrays)
        return _logp_at(self.logp.address, len(x), x, self.user_data(packed))

    def expand_at(self, x: np.ndarray, arrays: dict) -> tuple[int, np.ndarray]:
        """(code, the stored values) of the compiled expansion at ``x``."""
        import ctypes

        proto = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p,
                                 ctypes.c_void_p, ctypes.c_void_p)
        x = np.ascontiguousarray(x, dtype="float64")
        out = np.zeros(len(arrays["expand_idx"]))
        packed = pack(arrays)
        user = self.user_data(packed)
        code = proto(self.expand.address)(len(x), len(out), x.ctypes.data, out.ctypes.data,
                                          user.ctypes.data)
        return int(code), out


class _Linked:
    """One of a stored kernel's callbacks before it is linked: reading any attribute (the
    ``address`` nutpie passes to its sampler) links the kernel."""

    def __init__(self, kernel: Kernel, which: int):
        self._kernel, self._which = kernel, which

    def __getattr__(self, name: str):
        return getattr(self._kernel.callbacks()[self._which], name)


def _compile() -> Kernel:
    from multilevel.bayes import callbacks
    from multilevel.bayes.generic.density import functions
    from multilevel.bayes.parallel_compile import compile_pair

    logp_grad, expand = functions()
    example, dtype = pack(_example()), record_dtype()
    keys = list(PACKED)
    raw_logp = callbacks.logp_callback(None, logp_grad, keys, example, dtype)
    raw_expand = callbacks.expand_callback(None, None, expand, keys, example, dtype)
    first, second = compile_pair(raw_logp, raw_expand)
    return Kernel(first, second, kernel_key())


# ----------------------------------------------------------------------- the store
_MEMORY: dict = {}
_LOCK = threading.RLock()


def kernel_dir() -> Path:
    """The installation's folder of generic kernels (``$MULTILEVEL_KERNEL_DIR``, default
    ``~/.cache/multilevel/kernels``).

    It is separate from the per-structure compile cache (``$MULTILEVEL_CACHE_DIR``,
    ``MULTILEVEL_CACHE=0``): the kernel serves every model of the class and is compiled
    once per installation (library versions and CPU are in its key), like PyTensor's own
    kernel cache. ``MULTILEVEL_GENERIC=0`` turns the generic route off.
    """
    root = os.environ.get("MULTILEVEL_KERNEL_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "multilevel", "kernels")
    return Path(root)


def kernel_key() -> str:
    from multilevel.bayes.cache import _toolchain
    from multilevel.bayes.generic.density import source

    h = hashlib.sha256(repr(("generic", GENERIC_VERSION, INPUTS)).encode() + source().encode())
    h.update(_toolchain())
    return h.hexdigest()


def _check_values(kernel: Kernel):
    arrays = _example()
    x = np.array([0.3, -0.2])
    code, logp, grad = kernel.logp_at(x, arrays)
    ecode, expanded = kernel.expand_at(x, arrays)
    return [code, ecode], np.concatenate([[logp], grad, expanded])


def load_kernel(stats: dict | None = None, compile_missing: bool = True) -> Kernel:
    """The compiled kernel: from this process, the kernel folder, or compiled (and
    stored) now; with ``compile_missing=False`` a kernel that is not stored raises LookupError.

    A stored kernel is linked on first use (:class:`Kernel`); stored code that does not
    compute its stored values is compiled again then (or raises LookupError there).
    """
    from multilevel.bayes import cache as C

    stats = {} if stats is None else stats
    with _LOCK:
        if "kernel" in _MEMORY:
            stats["kernel"] = "memory"
            return _MEMORY["kernel"]
        folder = kernel_dir()
        key = kernel_key()
        path = folder / f"generic-{key[:24]}.pkl" if C.private_folder(folder) else None
        # under the entry's lock: a process compiling the kernel stores it before another reads
        with C._key_lock(path):
            body = C._read_entry(path, key) if path is not None else None
            payload = _payload(key, body) if body is not None else None
            if payload is not None:
                stats["kernel"] = "disk"
                kernel = Kernel(None, None, key, link=functools.partial(
                    _link, key, payload, path, stats, compile_missing))
            elif not compile_missing:
                raise LookupError("no stored generic kernel")
            else:
                kernel = _compile_and_store(key, path, stats)
        _MEMORY["kernel"] = kernel
        return kernel


def _payload(key: str, body: bytes) -> dict | None:
    import pickle

    from multilevel.bayes import cache as C

    with contextlib.suppress(Exception):   # an unreadable entry is compiled again
        payload = pickle.loads(body)   # only a body whose owner, key and checksum were verified
        if isinstance(payload, dict) and payload.get("format") == C.CACHE_FORMAT \
                and payload.get("key") == key:
            return payload
    return None


def _link(key: str, payload: dict, path, stats: dict, compile_missing: bool) -> tuple:
    """The stored callbacks linked into this process and checked against the stored values;
    compiled again (and stored) where they do not compute them."""
    from multilevel.bayes import cache as C

    kernel = None
    with contextlib.suppress(Exception):   # stale object code: compiled again
        kernel = _from_payload(key, payload)
    if kernel is None:
        if not compile_missing:
            raise LookupError("the stored generic kernel does not compute its stored values")
        with C._key_lock(path):
            kernel = _compile_and_store(key, path, stats)
    return kernel.logp, kernel.expand


def _compile_and_store(key: str, path, stats: dict) -> Kernel:
    from multilevel.bayes import cache as C
    from multilevel.bayes.parallel_compile import cacheable

    kernel = _compile()
    C._COMPILED[0] += 1   # counted with the per-structure compilations
    stats["kernel"] = "compiled"
    if path is not None and cacheable(kernel.logp._cres) and cacheable(kernel.expand._cres):
        codes, values = _check_values(kernel)
        payload = {"format": C.CACHE_FORMAT, "key": key, "logp": kernel.logp.reduce(),
                   "expand": kernel.expand.reduce(), "check": (codes, values)}
        with contextlib.suppress(OSError):
            C._write_atomic(path, payload)
    return kernel


def _from_payload(key: str, payload: dict) -> Kernel | None:
    from multilevel.bayes.parallel_compile import rebuild

    kernel = Kernel(rebuild(payload["logp"]), rebuild(payload["expand"]), key)
    codes, values = _check_values(kernel)
    ref_codes, ref_values = payload["check"]
    if codes != ref_codes or not np.allclose(values, ref_values, rtol=1e-12, atol=1e-14):
        return None
    return kernel


def check_arrays(arrays: dict, n_dim: int) -> None:
    """Raise ValueError unless every index of ``arrays`` lies in what it indexes.

    The compiled code does not check bounds (an index outside its vector would read
    or write outside the buffer), so a layout is checked before it reaches it.
    """
    sizes = {name: len(np.asarray(arrays[name]).reshape(-1)) for name in INPUTS}
    n_rows, n_pairs = sizes["y"], sizes["cp_j"]
    n_sd = sizes["r_diag"]
    n_eff = int(np.asarray(arrays["n_eff"]).reshape(-1)[0]) if sizes["n_eff"] == 1 else -1
    if n_eff < 0:
        raise ValueError("n_eff must hold one number")
    pool = pool_offsets(n_dim, n_sd, n_pairs, n_eff, n_rows)["end"]
    limits = {"log_idx": n_dim, "n_idx": n_dim, "m_idx": n_dim, "m_sidx": n_dim, "h_idx": n_dim,
              "t_idx": n_dim, "e_idx": n_dim, "k_idx": n_dim, "l_ent": n_dim, "l_row": n_sd,
              "r_diag": n_dim, "g_eff": n_eff, "g_off": n_dim, "g_scale": n_dim,
              "x_idx": n_dim, "z_src": n_dim + n_eff + 1, "cp_a": n_dim, "cp_b": n_dim,
              "cp_pair": n_pairs, "cp_j": n_sd, "cp_k": n_sd, "sig_idx": n_dim, "expand_idx": pool}
    for name, limit in limits.items():
        index = np.asarray(arrays[name]).reshape(-1)
        if index.size and (index.min() < 0 or index.max() >= limit):
            raise ValueError(f"{name}: an index outside 0..{limit - 1}")
    same = [("n_idx", "n_mu", "n_sd"), ("m_idx", "m_mu", "m_sidx"), ("h_idx", "h_sd"),
            ("t_idx", "t_nu", "t_sd", "t_const"), ("e_idx", "e_scale"), ("k_idx", "k_beta"),
            ("l_ent", "l_row"), ("r_diag", "r_sd", "r_coef", "r_pos"), ("g_eff", "g_off", "g_scale"),
            ("z_src", "z_w"), ("cp_pair", "cp_a", "cp_b"), ("cp_j", "cp_k"),
            ("y", "trials", "y_const", "eta0")]
    for group in same:
        if len({sizes[name] for name in group}) != 1:
            raise ValueError(f"{', '.join(group)}: of different lengths")
    family = np.asarray(arrays["family"]).reshape(-1)
    if family.size != 1 or family[0] not in (0, 1, 2):
        raise ValueError("family must hold one code (0, 1 or 2)")
    if sizes["X"] != n_rows * sizes["x_idx"]:
        raise ValueError("X must hold one value per row and coefficient")
    if sizes["z_src"] and (n_rows == 0 or sizes["z_src"] % n_rows):
        raise ValueError("z_src must hold whole slots, one entry per row each")
    if sizes["sig_idx"] != (1 if family[0] == 0 else 0):
        raise ValueError("sig_idx holds one index for a Gaussian response, none otherwise")


def _verified_path(kernel: Kernel, fingerprint: str) -> Path | None:
    from multilevel.bayes import cache as C

    folder = kernel_dir()
    if not kernel.key or not C.private_folder(folder):
        return None
    return folder / "verified" / f"{kernel.key[:16]}-{fingerprint}"


def is_verified(kernel: Kernel, fingerprint: str) -> bool:
    """Whether this kernel's outputs were checked against PyMC's for this layout."""
    from multilevel.bayes.cache import private_file

    if fingerprint in kernel.verified:
        return True
    path = _verified_path(kernel, fingerprint)
    try:
        trusted = path is not None and private_file(path.lstat())
    except OSError:
        return False
    if trusted:
        kernel.verified.add(fingerprint)
    return trusted


# records kept in the kernel folder's verified/ (empty files); beyond this the oldest half goes
MAX_VERIFIED = 4096


def mark_verified(kernel: Kernel, fingerprint: str) -> None:
    """Record that this layout's outputs equal PyMC's (an empty, private file)."""
    kernel.verified.add(fingerprint)
    path = _verified_path(kernel, fingerprint)
    if path is None:
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o600)
        os.close(fd)
        records = list(os.scandir(path.parent))
        if len(records) > MAX_VERIFIED:   # a record only saves a check: drop the oldest half
            records.sort(key=lambda entry: entry.stat(follow_symlinks=False).st_mtime)
            for entry in records[:len(records) // 2]:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
