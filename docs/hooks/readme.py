"""MkDocs build hook: README.md is the single source of the user-guide pages.

A page under ``docs/`` shows a README section with a line of its own::

    <!-- README: Set-up -->

naming the section's heading (``<!-- README: (intro) -->`` is the text before the
first ``##`` heading). The section runs to the next heading of the same or a higher
level, or to a subsection that another page shows itself; its headings are moved up
so that the section's own heading becomes the page title. README.md therefore reads
well on GitHub and nothing is copied by hand. A ``##`` section that no page shows is
a warning, so ``mkdocs build --strict`` fails until a page is added for it.

The hook also adds ``notebooks/*.ipynb`` (outside ``docs/``) to the site, where
mkdocs-jupyter renders them with the outputs they were committed with, and fills
``<!-- PUBLIC-NAMES -->`` with the table of ``multilevel``'s public names, read from
``src/multilevel/__init__.py``.

A package that exports a function under the name of its own submodule
(``multilevel.freq`` exports ``lrt`` from ``freq/lrt.py``) hides that function from
griffe, which sees the submodule; after each ``::: package`` line the hook adds a
``::: package.name.name`` line for every such export, so its page shows it.
"""

from __future__ import annotations

import ast
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.readme")

DIRECTIVE = re.compile(r"^<!--[ \t]*README:[ \t]*(.+?)[ \t]*-->[ \t]*$", re.MULTILINE)
PUBLIC_NAMES = "<!-- PUBLIC-NAMES -->"
INTRO = "(intro)"
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
BULLET = re.compile(r"^\s*([-*+]|1[.)])\s+\S")
CODE_SPAN = re.compile(r"`[^`]*`")
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


@dataclass
class Section:
    level: int
    title: str
    start: int  # index of the heading line (0 for the intro)
    stop: int  # index one past the last line of its own text and subsections


_state: dict = {}


def _root(config) -> Path:
    return Path(config["config_file_path"]).resolve().parent


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line index, level, title) of every Markdown heading outside code fences."""
    found, fenced = [], False
    for i, line in enumerate(lines):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := HEADING.match(line)):
            found.append((i, len(m.group(1)), m.group(2)))
    return found


def parse_readme(text: str) -> tuple[list[str], dict[str, Section]]:
    """The README's lines and its sections by title (``(intro)`` for the opening)."""
    lines = text.splitlines()
    heads = _headings(lines)
    sections: dict[str, Section] = {}
    first_h2 = next((i for i, level, _ in heads if level == 2), len(lines))
    sections[INTRO] = Section(1, INTRO, 0, first_h2)
    for k, (i, level, title) in enumerate(heads):
        if level == 1:
            continue
        stop = next((j for j, lv, _ in heads[k + 1:] if lv <= level), len(lines))
        if title in sections:
            raise PluginError(f"README.md has two sections titled {title!r}; the docs pages "
                              "name sections by title, so make the titles unique.")
        sections[title] = Section(level, title, i, stop)
    return lines, sections


def _claims(docs_dir: Path) -> dict[str, str]:
    """Section title -> the docs page that shows it."""
    claims: dict[str, str] = {}
    for page in sorted(docs_dir.rglob("*.md")):
        for title in DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            rel = page.relative_to(docs_dir).as_posix()
            if title in claims:
                raise PluginError(f"README section {title!r} is shown by both {claims[title]} and "
                                  f"{rel}; show it on one page.")
            claims[title] = rel
    return claims


def on_config(config):
    root = _root(config)
    lines, sections = parse_readme((root / "README.md").read_text(encoding="utf-8"))
    claims = _claims(Path(config["docs_dir"]))
    for title, page in claims.items():
        if title not in sections:
            known = ", ".join(repr(t) for t in sections)
            raise PluginError(f"{page} shows README section {title!r}, which README.md does not "
                              f"have. Its sections: {known}.")
    for title, section in sections.items():
        if section.level == 2 and title not in claims and not _inside_claimed(section, sections, claims):
            log.warning(f"README section '## {title}' is on no docs page: add a page under docs/ "
                        f"containing the line '<!-- README: {title} -->' and list it in mkdocs.yml's nav.")
    _state.update(root=root, lines=lines, sections=sections, claims=claims)
    return config


def _inside_claimed(section: Section, sections: dict[str, Section], claims: dict[str, str]) -> bool:
    return any(other.start < section.start < other.stop and t in claims and t != INTRO
               for t, other in sections.items())


def section_markdown(title: str) -> str:
    """The section's Markdown with its heading as the page's H1."""
    lines, sections, claims = _state["lines"], _state["sections"], _state["claims"]
    section = sections[title]
    stop = section.stop
    # a subsection shown on a page of its own ends this section's text
    for other_title, other in sections.items():
        if other_title in claims and other_title != title and section.start < other.start < stop:
            stop = other.start
    shift = section.level - 1
    out, fenced = [], False
    for line in lines[section.start:stop]:
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := HEADING.match(line)):
            line = "#" * max(1, len(m.group(1)) - shift) + " " + m.group(2)
        out.append(line)
    return _links(_gfm_tables(_gfm_lists("\n".join(out))))


def _gfm_lists(text: str) -> str:
    """A blank line before a list that follows a paragraph line.

    GitHub starts a list there; Python-Markdown needs the blank line.
    """
    out, fenced, in_list = [], False, False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        if not fenced:
            if not line.strip():
                in_list = False
            elif BULLET.match(line):
                if not in_list and out and out[-1].strip() and not out[-1].lstrip().startswith("|"):
                    out.append("")
                in_list = True
        out.append(line)
    return "\n".join(out)


def _gfm_tables(text: str) -> str:
    """``\\|`` inside a code span of a table row as ``|``.

    GitHub needs the backslash there and drops it; Python-Markdown keeps it, and
    does not split cells at a pipe inside backticks anyway.
    """
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.lstrip().startswith("|"):
            line = CODE_SPAN.sub(lambda m: m.group(0).replace("\\|", "|"), line)
        out.append(line)
    return "\n".join(out)


def _links(text: str) -> str:
    """Relative links in README.md point into the repository; keep those the site has."""
    root = _state["root"]

    def repl(m: re.Match) -> str:
        bang, label, target = m.groups()
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            return m.group(0)
        path = target.split("#", 1)[0]
        if path.startswith("notebooks/") and path.endswith(".ipynb") and (root / path).is_file():
            # the user-guide pages sit at docs/ top level, the notebooks at notebooks/
            return m.group(0)
        log.info(f"README link to {target!r} is not part of the site; shown as text")
        return f"{label} (`{target}`)" if label != target else f"`{target}`"

    return LINK.sub(repl, text)


def on_page_markdown(markdown, page, config, files):
    def include(m: re.Match) -> str:
        return section_markdown(m.group(1))

    markdown = DIRECTIVE.sub(include, markdown)
    markdown = _with_shadowed_exports(markdown)
    if PUBLIC_NAMES in markdown:
        markdown = markdown.replace(PUBLIC_NAMES, public_names_table(_state["root"]))
    return markdown


@event_priority(50)  # before mkdocs-jupyter's on_files, which renders the notebooks
def on_files(files, config):
    root = _root(config)
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        files.append(File(path.relative_to(root).as_posix(), str(root), config["site_dir"],
                          config["use_directory_urls"]))
    return files


def on_serve(server, config, builder):
    """`mkdocs serve` rebuilds when the README, a notebook or a docstring changes."""
    root = _root(config)
    for path in (root / "README.md", root / "notebooks", root / "src" / "multilevel"):
        server.watch(str(path))
    return server


AUTODOC = re.compile(r"^::: (multilevel(?:\.\w+)*)[ \t]*$")


def _module_file(module: str) -> Path | None:
    base = _state["root"] / "src" / Path(*module.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _top_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def shadowed_exports(module: str) -> list[str]:
    """Names a package exports (``__all__``) that are also its submodules defining them."""
    init = _module_file(module)
    if init is None or init.name != "__init__.py":
        return []
    exported: list[str] = []
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if isinstance(target, ast.Name) and target.id == "__all__":
            exported = list(ast.literal_eval(node.value))
    found = []
    for name in exported:
        sub = _module_file(f"{module}.{name}")
        if sub is not None and name in _top_level_names(sub):
            found.append(name)
    return found


def _with_shadowed_exports(markdown: str) -> str:
    lines, out, k = markdown.splitlines(), [], 0
    fenced = False
    while k < len(lines):
        line = lines[k]
        out.append(line)
        k += 1
        if FENCE.match(line):
            fenced = not fenced
        m = None if fenced else AUTODOC.match(line)
        if m:
            while k < len(lines) and lines[k].startswith((" ", "\t")):  # the directive's options
                out.append(lines[k])
                k += 1
            for name in shadowed_exports(m.group(1)):
                out += ["", f"::: {m.group(1)}.{name}.{name}"]
    return "\n".join(out)


def public_names() -> list[tuple[str, str]]:
    """``(name, dotted target)`` for every public name of ``multilevel``, read statically."""
    init = _state["root"] / "src" / "multilevel" / "__init__.py"
    tree = ast.parse(init.read_text(encoding="utf-8"))
    names: list[tuple[str, str]] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("multilevel"):
            for alias in node.names:
                if not alias.name.startswith("_"):
                    names.append((alias.asname or alias.name, f"{node.module}.{alias.name}"))
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if isinstance(target, ast.Name) and target.id == "_LAZY":
            for name, value in ast.literal_eval(node.value).items():
                module, attr = value
                if attr is None:
                    names.append((name, module))
                elif attr in shadowed_exports(module):  # documented from its submodule
                    names.append((name, f"{module}.{attr}.{attr}"))
                else:
                    names.append((name, f"{module}.{attr}"))
    return names


def public_names_table(root: Path) -> str:
    rows = ["| name | documented as |", "|---|---|"]
    for name, target in public_names():
        rows.append(f"| `ml.{name}` | [`{target}`][{target}] |")
    return "\n".join(rows)
