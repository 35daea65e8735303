"""nutpie's two C callbacks, generated without numba's generic error-formatting paths.

nutpie wraps PyTensor's compiled log density (and its expansion of a draw) in a C
callback that reads the shared data from a record of pointers. Its wrapper reshapes
each buffer (``data.reshape(shape)``) and copies results by slice assignment
(``out[...] = grad``); in numba both carry error paths that format shapes into strings,
and numba compiles its generic ``str``/``repr``/unicode implementations for them anew in
every process: on sleepstudy 8-10 of the 12 s that compiling the callbacks took with
PyTensor's kernels already cached (now 3.5-4.5 s for both). The wrappers here do the
same work through code written out per model: each buffer is viewed with the shape
stored in the record, results are copied element by element, and the return codes are
nutpie's (0 ok, -1 wrong dimension, 1 or -2 an exception, 3 a non-finite gradient,
4 a non-finite log density). The arithmetic is PyTensor's compiled function itself;
LLVM inlines it into the wrapper and optimizes it there, and on sleepstudy
``(Days | Subject)`` one gradient element of 42 came out 1 ulp apart from nutpie's
wrapper's (on ``(1 | Subject)`` the draws are identical). ``tests/test_callbacks.py``
compares both wrappers and PyMC's own log density and gradient, and the posteriors.
"""

from __future__ import annotations

import numpy as np

_LOGP = """
def logp_numba(dim, x_, out_, logp_, user_data_):
{dim_check}
    try:
        x = carray(x_, ({dim},))
        out = carray(out_, ({dim},))
        logp = carray(logp_, ())
{views}
        logp_val, grad = inner(x{args})
        logp[()] = logp_val
        finite = True
        for i in range({dim}):
            out[i] = grad[i]
            if not np.isfinite(grad[i]):
                finite = False
        if not finite:
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:  # noqa: BLE001
        return 1
    return 0
"""

_EXPAND = """
def expand_numba(dim, expanded, x_, out_, user_data_):
{dim_check}
    try:
        x = carray(x_, ({dim},))
        out = carray(out_, ({expanded},))
{views}
        (values,) = inner(x{args})
        for i in range({expanded}):
            out[i] = values[i]
    except Exception:  # noqa: BLE001
        return -2
    return 0
"""


def _views(keys: list[str], shared_data: dict, record_dtype) -> tuple[str, str, dict]:
    """Source lines viewing each shared buffer of the user data record with its
    (constant) shape, the argument list, and the names the source refers to."""
    if not keys:
        return "", "", {}
    lines = ["        record = carray(user_data_, (), record_dtype)",
             '        shared = record["shared"]']
    env = {"record_dtype": record_dtype}
    for i, key in enumerate(keys):
        value = shared_data[key]
        env[f"dtype{i}"] = np.dtype(value.dtype)
        # the shape is read at run time, as nutpie does: a constant shape let LLVM specialize
        # the inlined kernels, and the gradient differed from nutpie's in the last bits
        dims = [f'shared["shape"]["{key}"][{d}]' for d in range(value.ndim)]
        shape = "(" + "".join(f"{d}, " for d in dims) + ")"
        size = " * ".join(dims) if dims else "1"
        lines.append(f'        if shared["size"]["{key}"][()] != {size}:')
        lines.append("            raise ValueError()")
        lines.append(f'        a{i} = carray(as_pointer(shared["data"]["{key}"][()]), {shape}, dtype{i})')
    return "\n".join(lines), "".join(f", a{i}" for i in range(len(keys))), env


def _size(value, argument: str) -> str:
    """A compiled-in size, or the callback's own argument where the code is generic."""
    return argument if value is None else str(int(value))


def _build(template: str, name: str, inner, env: dict, **fields):
    import numba
    from nutpie.compile_pymc import address_as_void_pointer

    # a structure-generic callback (multilevel.bayes.generic) reads its sizes at run time
    checks = [f"    if {arg} != {fields[arg]}:\n        return -1"
              for arg in ("dim", "expanded") if arg in fields and fields[arg] != arg]
    fields = {**fields, "dim_check": "\n".join(checks) or "    pass"}
    # __name__: numba stores the globals of cached code by module name (these names are
    # module-level here too), and code with nameless globals is not cacheable
    namespace = {"__name__": __name__, "np": np, "carray": numba.carray, "inner": inner,
                 "as_pointer": address_as_void_pointer, **env}
    exec(compile(template.format(**fields), f"<multilevel {name}>", "exec"), namespace)  # noqa: S102
    return namespace[name]


def logp_callback(n_dim: int, inner, keys: list[str], shared_data: dict, record_dtype):
    """The Python function of nutpie's log-density C callback and its C signature.

    Parameters
    ----------
    n_dim : int or None
        Length of the unconstrained parameter vector; ``None``: read from the call
        (a structure-generic density, :mod:`multilevel.bayes.generic`).
    inner : numba dispatcher
        PyTensor's compiled ``(x, *shared) -> (logp, grad)``.
    keys : list of str
        The user-data keys of ``inner``'s shared inputs, in order.
    shared_data : dict
        An array per key with the dtype and shape the code is compiled for.
    record_dtype : numpy.dtype
        nutpie's user-data record (``nutpie.compile_pymc.make_user_data``).

    Examples
    --------
    >>> import numba, numpy as np
    >>> inner = numba.njit(lambda x: (-0.5 * (x ** 2).sum(), -x))
    >>> fn, sig = logp_callback(2, inner, [], {}, np.dtype([]))
    >>> fn.__name__
    'logp_numba'
    """
    import numba

    views, args, env = _views(keys, shared_data, record_dtype)
    fn = _build(_LOGP, "logp_numba", inner, env, dim=_size(n_dim, "dim"), views=views, args=args)
    sig = numba.types.int64(numba.types.uint64, numba.types.CPointer(numba.types.double),
                            numba.types.CPointer(numba.types.double),
                            numba.types.CPointer(numba.types.double), numba.types.voidptr)
    return fn, sig


def expand_callback(n_dim: int, n_expanded: int, inner, keys: list[str], shared_data: dict,
                    record_dtype):
    """The Python function of nutpie's expansion C callback and its C signature
    (arguments as :func:`logp_callback`, ``n_expanded`` as ``n_dim``; ``inner`` returns
    the expanded draw).

    Examples
    --------
    >>> import numba, numpy as np
    >>> inner = numba.njit(lambda x: (2.0 * x,))
    >>> fn, sig = expand_callback(2, 2, inner, [], {}, np.dtype([]))
    >>> fn.__name__
    'expand_numba'
    """
    import numba

    views, args, env = _views(keys, shared_data, record_dtype)
    fn = _build(_EXPAND, "expand_numba", inner, env, dim=_size(n_dim, "dim"),
                expanded=_size(n_expanded, "expanded"), views=views, args=args)
    sig = numba.types.int64(numba.types.uint64, numba.types.uint64,
                            numba.types.CPointer(numba.types.double),
                            numba.types.CPointer(numba.types.double), numba.types.voidptr)
    return fn, sig
