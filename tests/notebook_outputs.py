"""Compare a notebook's fresh text outputs with its committed ones (tests/test_notebooks.py).

What a reader sees on GitHub and in the documentation site is the committed outputs;
they must be what the code gives today. Per code cell, the text is compared piece by
piece: stdout, stderr, and each displayed result (its MIME types, and its HTML, or its
plain text where it has no HTML). Images are compared by presence only.

Texts are split into numbers and the words between them. The words must be equal (after
whitespace is collapsed and the notebook's temporary paths are blanked). The numbers:

* cells without the ``sampled`` tag (REML, least squares, MAP, data) are deterministic: each
  number must agree to ``RTOL`` relative, or within one unit of its last printed digit
  (rounding), or ``ATOL`` absolute (floating-point noise such as 7e-14);
* cells tagged ``sampled`` show posterior draws, which change with any change to the
  sampler: their numbers (and True/False) are placeholders and only the structure is
  compared — the same words, the same count of numbers in the same places. A
  ConvergenceWarning there depends on the draws too: it is left out of the comparison,
  but it must point at the notebook's cell, not at the package.
"""

from __future__ import annotations

import re

RTOL = 1e-6
ATOL = 1e-9
SAMPLED = "sampled"
NUMBER = re.compile(r"(?<![\w.])-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")
BOOLEAN = re.compile(r"(?<!\w)(?:True|False)(?!\w)")
# the kernel's per-cell file names (``/tmp/ipykernel_1949/2104472937.py``) change per run
CELL_FILE = re.compile(r"\S*/ipykernel_\d+/\d+\.py")
ADDRESS = re.compile(r" at 0x[0-9a-f]+")
WARNING_HEADER = re.compile(r"^(\S+):\d+: ConvergenceWarning: ", re.M)
REFRESH = ("re-execute it (README, Notebooks: jupyter nbconvert --to notebook --execute --inplace "
           "notebooks/NAME.ipynb) and commit it")


def pieces(cell) -> list[tuple[str, str, str]]:
    """(kind, MIME types, text) of a code cell's outputs; streams joined per name."""
    streams: dict[str, str] = {}
    shown = []
    for out in cell.get("outputs", []):
        kind = out["output_type"]
        if kind == "stream":
            streams[out["name"]] = streams.get(out["name"], "") + _text(out["text"])
        elif kind in ("execute_result", "display_data"):
            data = out["data"]
            text = _text(data["text/html"]) if "text/html" in data else _text(data.get("text/plain", ""))
            shown.append((kind, " ".join(sorted(data)), text))
        elif kind == "error":
            shown.append(("error", out.get("ename", ""), out.get("evalue", "")))
    return [("stream", name, streams[name]) for name in sorted(streams)] + shown


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def normalize(text: str) -> str:
    return ADDRESS.sub(" at 0x…", CELL_FILE.sub("<cell>", text))


def drop_convergence_warnings(text: str) -> tuple[str, list[str]]:
    """stderr without ConvergenceWarning blocks (header line and its indented lines);
    also the file each one was attributed to."""
    where = WARNING_HEADER.findall(text)
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        if WARNING_HEADER.match(line):
            skipping = True
            continue
        if skipping and line.startswith("  "):
            continue
        skipping = False
        kept.append(line)
    return "".join(kept), where


def tokens(text: str, sampled: bool) -> list[tuple[str, str]]:
    """("word", text) and ("number", digits) tokens; words with whitespace collapsed."""
    pattern = re.compile(f"{NUMBER.pattern}|{BOOLEAN.pattern}") if sampled else NUMBER
    out, last = [], 0
    for match in pattern.finditer(text):
        word = " ".join(text[last:match.start()].split())
        if word:
            out.append(("word", word))
        out.append(("number", match.group()))
        last = match.end()
    word = " ".join(text[last:].split())
    if word:
        out.append(("word", word))
    return out


def _unit(number: str) -> float:
    """One unit in the last printed digit of ``number``."""
    mantissa, _, exponent = number.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return 10.0 ** ((int(exponent) if exponent else 0) - decimals)


def numbers_agree(new: str, old: str) -> bool:
    a, b = float(new), float(old)
    return abs(a - b) <= max(ATOL, RTOL * max(abs(a), abs(b)), _unit(old) * 1.0001, _unit(new) * 1.0001)


def compare_texts(new: str, old: str, sampled: bool) -> str | None:
    """None when ``new`` matches ``old``; else what differs first."""
    a, b = tokens(normalize(new), sampled), tokens(normalize(old), sampled)
    for i, (x, y) in enumerate(zip(a, b)):
        if x[0] != y[0]:
            return f"token {i}: {x[1]!r} where the committed output has {y[1]!r}"
        if x[0] == "word" and x[1] != y[1]:
            return f"text {x[1][:160]!r} where the committed output has {y[1][:160]!r}"
        if x[0] == "number" and not sampled and not numbers_agree(x[1], y[1]):
            return f"number {x[1]} where the committed output has {y[1]}"
    if len(a) != len(b):
        longer, what = (a, "more") if len(a) > len(b) else (b, "less")
        extra = " ".join(t[1] for t in longer[min(len(a), len(b)):])[:200]
        return f"{what} output than committed: {extra!r}"
    return None


def compare_cells(new_cell, old_cell) -> list[str]:
    """Differences between a freshly executed code cell and its committed version."""
    sampled = SAMPLED in old_cell.get("metadata", {}).get("tags", [])
    new, old = pieces(new_cell), pieces(old_cell)
    problems = []
    if [p[:2] for p in new] != [p[:2] for p in old]:
        return [f"outputs {[p[:2] for p in new]} where the committed cell has {[p[:2] for p in old]}"]
    for (kind, name, text), (_, _, committed) in zip(new, old):
        if sampled and name == "stderr":
            text, where = drop_convergence_warnings(text)
            committed, _ = drop_convergence_warnings(committed)
            problems += [f"a ConvergenceWarning attributed to {w}, not to the cell" for w in where
                         if normalize(w) != "<cell>"]
        difference = compare_texts(text, committed, sampled)
        if difference:
            problems.append(f"{kind} {name}: {difference}")
    return problems


def compare_notebooks(new_nb, old_nb) -> list[str]:
    """Every difference, as 'cell N: ...', between the code cells of two notebooks."""
    new_cells = [c for c in new_nb.cells if c.cell_type == "code"]
    old_cells = [c for c in old_nb.cells if c.cell_type == "code"]
    if len(new_cells) != len(old_cells):
        return [f"{len(new_cells)} code cells where the committed notebook has {len(old_cells)}"]
    problems = []
    for n, (new, old) in enumerate(zip(new_cells, old_cells), 1):
        problems += [f"code cell {n} ({old.source.splitlines()[0][:60] if old.source else ''!r}): {p}"
                     for p in compare_cells(new, old)]
    return problems
