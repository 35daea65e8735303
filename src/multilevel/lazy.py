"""Package names loaded on first use (PEP 562): a package's ``__init__`` maps each public
name to the module that defines it, and importing the package imports none of them."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_names(package: str, names: dict[str, str]) -> tuple[Callable, Callable]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` for ``names`` (name -> module).

    Examples
    --------
    >>> getattr_, dir_ = lazy_names("multilevel", {"dumps": "json"})
    >>> getattr_("dumps")([1])
    '[1]'
    """
    def __getattr__(name: str):
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
