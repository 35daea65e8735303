"""A context variable set for the duration of a ``with`` block.

The settings that ride along with one fit without being arguments of every function on
its way (SBC's fixed prior parameters, refits' symbolic rows and fixed parameterisation)
are context variables, so that threads and Dask tasks each see their own.
"""

from __future__ import annotations

import contextlib
import contextvars


@contextlib.contextmanager
def scoped(variable: contextvars.ContextVar, value):
    """Set ``variable`` to ``value`` inside the block, and back to what it was after.

    Examples
    --------
    >>> flag = contextvars.ContextVar("flag", default=False)
    >>> with scoped(flag, True):
    ...     flag.get()
    True
    >>> flag.get()
    False
    """
    token = variable.set(value)
    try:
        yield
    finally:
        variable.reset(token)
