"""Griffe extension: two numpydoc habits of the package's docstrings, for mkdocstrings.

Sphinx roles become links. The package's numpydoc docstrings cross-reference with Sphinx roles
(``:func:`compare```, ``:class:`~multilevel.bayes.BayesFit```), which Markdown would
show literally. Each becomes an optional mkdocs-autorefs reference: a link where the
API reference documents the object, plain code where it does not (a name from another
library, or a module without a page), so no docstring can break ``--strict``.

Parameters documented together (``draws, tune, chains`` on one line) become one entry
each with the shared description: griffe would give every name of the group the first
one's type and default (``chains`` showed ``1000``), where one entry each takes them
from the signature.
"""

from __future__ import annotations

import html
import re

import griffe

ROLE = re.compile(r":(?:py:)?(func|class|mod|meth|attr|data|exc|obj|const|type):`(~?)([^`<>]+?)`")


def identifier(name: str, obj: griffe.Object) -> str:
    """The dotted path a role's target names, relative names read from where it is written."""
    name = name.lstrip(".")
    if name.startswith("multilevel."):
        return name
    # a bare or partly qualified name: a member of the docstring's class or module, or of
    # a module around it
    scope = obj if obj.is_class or obj.is_module else obj.parent
    while scope is not None:
        if name.split(".")[0] in _members(scope):
            return f"{scope.path}.{name}"
        scope = scope.parent
    return name  # another library's name (pandas.DataFrame): plain code, no link


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


SECTIONS = ("Parameters", "Other Parameters", "Attributes")
GROUP = re.compile(r"^(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)+)\s*(:.*)?$")


def split_groups(text: str) -> str:
    """One entry per name for entries that document several parameters together."""
    lines = text.splitlines()
    out, section, k = [], None, 0
    while k < len(lines):
        line = lines[k]
        if k + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[k + 1].strip()) and line.strip():
            section = line.strip()
            out += [line, lines[k + 1]]
            k += 2
            continue
        m = GROUP.match(line) if section in SECTIONS else None
        if not m:
            out.append(line)
            k += 1
            continue
        body = []
        k += 1
        while k < len(lines) and (not lines[k].strip() or lines[k].startswith((" ", "\t"))):
            body.append(lines[k])
            k += 1
        trailing = []
        while body and not body[-1].strip():
            trailing.append(body.pop())
        names, kind = m.groups()
        for name in re.split(r"\s*,\s*", names):
            out.append(f"{name} {kind}" if kind else name)
            out += body
        out += trailing
    return "\n".join(out)


class NumpydocHabits(griffe.Extension):
    def on_instance(self, *, node, obj: griffe.Object, agent, **kwargs) -> None:
        if obj.docstring is None:
            return
        text = obj.docstring.value
        if ":" in text:
            text = convert(text, obj)
        if "," in text:
            text = split_groups(text)
        obj.docstring.value = text
