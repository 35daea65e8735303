"""The documentation site: `mkdocs build --strict` passes, no internal link, anchor or
image of the built site is broken, every README section is a page, and the home page
renders in headless Chromium.

The build (about 20-30 s) runs once per session, into a temporary folder.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
from conftest import skip_or_fail as _skip_or_fail


def _need_mkdocs():
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        _skip_or_fail("mkdocs is not installed: `pip install -e '.[docs]'` (the dev extra includes it)")


def _hook():
    _need_mkdocs()
    spec = importlib.util.spec_from_file_location("docs_readme_hook", ROOT / "docs" / "hooks" / "readme.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    _need_mkdocs()
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{log[-6000:]}"
    warnings = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert warnings == []
    return out


class _Links(HTMLParser):
    """The ids (anchor targets) of a page and the URLs it refers to."""

    REFS = {"a": "href", "link": "href", "img": "src", "script": "src", "iframe": "src", "source": "src"}

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str]] = []
        self.title = ""
        self.h1: list[str] = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(key):
                self.ids.add(attrs[key])
        ref = attrs.get(self.REFS.get(tag, ""))
        if ref:
            self.refs.append((tag, ref))
        if tag in ("title", "h1"):
            self._in = tag
            if tag == "h1":
                self.h1.append("")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1[-1] += data.replace("\u00b6", "")


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _target(page: Path, site: Path, url: str) -> tuple[Path, str] | None:
    """The file and anchor an internal URL of ``page`` points to; None for external ones."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith("//"):
        return None  # http(s), mailto, data: ... (the site has no internet to check them against)
    path = unquote(parts.path)
    if not path:
        return page, parts.fragment  # "#anchor" on the page itself
    base = site if path.startswith("/") else page.parent
    resolved = (base / path.lstrip("/")).resolve()
    if path.endswith("/") or resolved.is_dir():
        resolved = resolved / "index.html"
    return resolved, parts.fragment


def test_site_has_no_broken_internal_links_anchors_or_images(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 25
    parsed = {page.resolve(): _parse(page) for page in pages}
    broken, checked = [], 0
    for page, links in parsed.items():
        for tag, url in links.refs:
            target = _target(page, site, url)
            if target is None:
                continue
            path, anchor = target
            checked += 1
            where = f"{page.relative_to(site.resolve())}: <{tag}> {url}"
            if not path.is_file():
                broken.append(f"{where} -> missing {path}")
            elif anchor and path.suffix == ".html" and anchor not in parsed[path].ids:
                broken.append(f"{where} -> no id {anchor!r} in {path.relative_to(site.resolve())}")
    assert broken == [], "\n".join(broken)
    assert checked > 1000  # navigation, stylesheets, scripts, anchors


def test_every_readme_section_is_a_page_and_the_api_is_generated(site):
    hook = _hook()
    _, sections = hook.parse_readme((ROOT / "README.md").read_text(encoding="utf-8"))
    titles = {h1.strip() for page in site.rglob("*.html") for h1 in _parse(page).h1}
    for title, section in sections.items():
        if section.level == 2:
            assert title in titles, f"README section {title!r} has no page"
    # GitHub-flavoured details the hook carries over: a list right after a paragraph
    # line, and escaped pipes inside a table's code spans
    html = "".join(page.read_text(encoding="utf-8") for page in site.rglob("*.html"))
    for item in _items_after_paragraph_lines(ROOT / "README.md"):
        assert f"<li>{item}" in html, f"README list item {item!r} is not a list item on the site"
    formulas = (site / "formulas" / "index.html").read_text(encoding="utf-8")
    assert "<code>(x | g)</code>" in formulas and "\\|" not in formulas
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Bayesian multilevel (mixed-effects) models in Python" in home
    fit_page = (site / "api" / "fit" / "index.html").read_text(encoding="utf-8")
    # the numpydoc Parameters section rendered as a table, with fit's own parameter text
    assert 'id="multilevel.api.fit"' in fit_page and "Parameters" in fit_page and "lme4 syntax" in fit_page
    # the namespace table links every public name to its documentation (autorefs resolved it)
    index = _parse(site / "api" / "index.html")
    for name in ("fit", "lrt", "compare", "icc", "vif", "priors", "regularization_path", "compare_priors", "sbc"):
        assert f"ml.{name}" in (site / "api" / "index.html").read_text(encoding="utf-8")
    assert sum(1 for _, url in index.refs if "#multilevel." in url) >= 10


def _items_after_paragraph_lines(readme: Path) -> list[str]:
    """The plain-text start of README list items that directly follow a paragraph line."""
    items, fenced, previous = [], False, ""
    for line in readme.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"^[-*+] ([A-Za-z][A-Za-z ]{6,})", line)):
            if previous.strip() and not re.match(r"^\s*([-*+|]|\d+\.)", previous):
                items.append(m.group(1))
        previous = line
    return items


def test_notebooks_are_rendered_from_their_committed_cells(site):
    import json

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        page = site / "notebooks" / path.stem / "index.html"
        assert page.is_file(), f"{path.name} is not on the site"
        html = page.read_text(encoding="utf-8")
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = next(c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip())
        first_line = "".join(code["source"]).strip().splitlines()[0]
        words = re.findall(r"[A-Za-z_]{4,}", first_line)
        assert words and all(word in html for word in words), (path.name, first_line)


# ------------------------------------------------------------ the README hook
README = """# pkg

Intro text.

## Set-up

Install.
Steps:
- one
- two

```python
# not a heading
```

| formula | meaning |
|---|---|
| `(x \\| g)` | a \\| b |

### Detail

More.

## Extra

Not on a page.
"""


def _fake_project(tmp_path: Path, pages: dict[str, str]) -> dict:
    (tmp_path / "README.md").write_text(README, encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text("site_name: x\n", encoding="utf-8")
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in pages.items():
        (docs / name).write_text(text, encoding="utf-8")
    return {"config_file_path": str(tmp_path / "mkdocs.yml"), "docs_dir": str(docs)}


def test_hook_splits_sections_moves_headings_and_fixes_lists(tmp_path):
    hook = _hook()
    config = _fake_project(tmp_path, {"index.md": "<!-- README: (intro) -->", "setup.md": "<!-- README: Set-up -->",
                                      "detail.md": "<!-- README: Detail -->", "extra.md": "<!-- README: Extra -->"})
    hook.on_config(config)
    assert hook.section_markdown("(intro)") == "# pkg\n\nIntro text."
    setup = hook.section_markdown("Set-up")
    # the section's heading becomes the page title; the subsection shown elsewhere is cut
    assert setup.startswith("# Set-up\n") and "Detail" not in setup
    assert "Steps:\n\n- one\n- two" in setup  # GitHub starts a list after a paragraph line
    assert "# not a heading" in setup  # code fences are left alone
    # GitHub's escaped pipe in a table's code span; Python-Markdown would show the backslash
    assert "| `(x | g)` | a \\| b |" in setup
    assert hook.section_markdown("Detail") == "# Detail\n\nMore."


def test_hook_warns_about_a_readme_section_on_no_page(tmp_path, caplog):
    hook = _hook()
    config = _fake_project(tmp_path, {"index.md": "<!-- README: (intro) -->", "setup.md": "<!-- README: Set-up -->"})
    with caplog.at_level("WARNING", logger="mkdocs.hooks.readme"):
        hook.on_config(config)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "'## Extra' is on no docs page" in messages[0]
    assert "<!-- README: Extra -->" in messages[0]


def test_hook_refuses_a_page_naming_a_section_the_readme_lacks(tmp_path):
    hook = _hook()
    from mkdocs.exceptions import PluginError

    config = _fake_project(tmp_path, {"x.md": "<!-- README: Set up -->"})
    with pytest.raises(PluginError, match=r"x.md shows README section 'Set up', which README.md does not have"):
        hook.on_config(config)


def test_hook_documents_functions_hidden_by_their_submodule(tmp_path):
    hook = _hook()
    config = _fake_project(tmp_path, {"index.md": "<!-- README: (intro) -->", "setup.md": "<!-- README: Set-up -->",
                                      "extra.md": "<!-- README: Extra -->"})
    pkg = tmp_path / "src" / "multilevel" / "inference"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from multilevel.inference.confint import confint\n"
                                     "from multilevel.inference.tests import anova\n"
                                     "__all__ = ['anova', 'confint']\n", encoding="utf-8")
    (pkg / "confint.py").write_text("def confint(fit):\n    pass\n", encoding="utf-8")
    (pkg / "tests.py").write_text("def anova(fit):\n    pass\n", encoding="utf-8")
    (tmp_path / "src" / "multilevel" / "__init__.py").write_text(
        "from multilevel.api import fit\n_LAZY = {'confint': ('multilevel.inference', 'confint'),\n"
        "         'anova': ('multilevel.inference', 'anova'), 'inference': ('multilevel.inference', None)}\n",
        encoding="utf-8")
    hook.on_config(config)
    assert hook.shadowed_exports("multilevel.inference") == ["confint"]
    page = hook._with_shadowed_exports("# Inference\n\n::: multilevel.inference\n    options:\n      x: 1\n\nEnd.")
    assert page == ("# Inference\n\n::: multilevel.inference\n    options:\n      x: 1\n\n"
                    "::: multilevel.inference.confint.confint\n\nEnd.")
    assert hook.public_names() == [("fit", "multilevel.api.fit"),
                                   ("confint", "multilevel.inference.confint.confint"),
                                   ("anova", "multilevel.inference.anova"), ("inference", "multilevel.inference")]


# ------------------------------------------------------------ the griffe extension
def _docstrings_extension():
    pytest.importorskip("griffe", reason="griffe comes with mkdocstrings-python (the docs extra)")
    spec = importlib.util.spec_from_file_location("docs_docstrings_ext", ROOT / "docs" / "hooks" / "docstrings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sphinx_roles_become_optional_links():
    import griffe

    ext = _docstrings_extension()
    package = griffe.Module("pkg")
    package.set_member("compare", griffe.Function("compare", parent=package))
    function = griffe.Function("loo", parent=package)
    text = ext.convert("See :func:`compare`, :class:`~pkg.sub.Fit` and :mod:`pandas`.", function)
    assert text == ('See <autoref identifier="pkg.compare" optional><code>compare</code></autoref>, '
                    '<autoref identifier="pkg.sub.Fit" optional><code>Fit</code></autoref> and '
                    '<autoref identifier="pandas" optional><code>pandas</code></autoref>.')


def test_grouped_parameters_become_one_entry_each():
    ext = _docstrings_extension()
    text = ("Fit.\n\nParameters\n----------\nformula : str\n    The formula.\ndraws, tune\n    Sampling;\n"
            "    shared.\nna : str\n    Rows.\n\nReturns\n-------\na, b\n    Not parameters.")
    assert ext.split_groups(text) == (
        "Fit.\n\nParameters\n----------\nformula : str\n    The formula.\ndraws\n    Sampling;\n    shared.\n"
        "tune\n    Sampling;\n    shared.\nna : str\n    Rows.\n\nReturns\n-------\na, b\n    Not parameters.")


# ------------------------------------------------------------ headless Chromium
def test_home_page_renders_in_chromium(site, tmp_path, headless_browser):
    browser = headless_browser
    page = (site / "index.html").as_uri()
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run([*flags, "--dump-dom", page], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    parsed = _Links()
    parsed.feed(dom)
    assert parsed.title.strip() == "multilevel"
    # Material's JavaScript ran: it builds the search box and the code-copy buttons
    assert "md-search__input" in dom and "Bayesian multilevel (mixed-effects) models" in dom
    shot = tmp_path / "index.png"
    subprocess.run([*flags, "--window-size=1280,900", f"--screenshot={shot}", page], capture_output=True,
                   timeout=120, check=True)
    assert shot.read_bytes()[:8] == PNG_MAGIC
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (900, 1280)
    # a rendered page, not a blank one: the header bar and text cover a good part of it
    background = np.all(pixels > 0.98, axis=-1).mean()
    assert 0.05 < 1 - background < 0.9
