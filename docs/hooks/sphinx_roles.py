"""Griffe extension: the docstrings' Sphinx roles as links in the API reference.

The package's numpydoc docstrings cross-reference with Sphinx roles
(``:func:`compare```, ``:class:`~multilevel.bayes.BayesFit```), which Markdown would
show literally. Each becomes an optional mkdocs-autorefs reference: a link where the
API reference documents the object, plain code where it does not (a name from another
library, or a module without a page), so no docstring can break ``--strict``.
"""

from __future__ import annotations

import html
import re

import griffe

ROLE = re.compile(r":(?:py:)?(func|class|mod|meth|attr|data|exc|obj|const|type):`(~?)([^`<>]+?)`")


def identifier(name: str, obj: griffe.Object) -> str:
    """The dotted path a role's target names, relative names read from where it is written."""
    name = name.lstrip(".")
    if name.startswith("multilevel") or "." in name and not name.split(".")[0] in _members(obj):
        return name
    # a bare or partly qualified name: a member of the class or module of the docstring
    scope = obj if obj.is_class or obj.is_module else obj.parent
    while scope is not None:
        if name.split(".")[0] in _members(scope):
            return f"{scope.path}.{name}"
        scope = scope.parent
    return f"{obj.module.path}.{name}"


def _members(obj) -> set[str]:
    try:
        return set(obj.members)
    except Exception:  # an alias that cannot be resolved statically
        return set()


def convert(text: str, obj: griffe.Object) -> str:
    def repl(m: re.Match) -> str:
        _role, short, name = m.groups()
        target = identifier(name.strip(), obj)
        shown = name.strip().rsplit(".", 1)[-1] if short else name.strip()
        return (f'<autoref identifier="{html.escape(target)}" optional>'
                f"<code>{html.escape(shown)}</code></autoref>")

    return ROLE.sub(repl, text)


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, node, obj: griffe.Object, agent, **kwargs) -> None:
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = convert(obj.docstring.value, obj)
