"""``multilevel compare-priors SPEC [--out DIR]``: one model under each ``[priors.NAME]`` table.

A spec for prior comparison names its prior sets as sub-tables::

    [priors.weak]
    preset = "weakly-informative"
    [priors.ridge]
    preset = "ridge"
    scale = 5.0
    [priors.tight]
    terms = { Days = { dist = "Normal", mu = 0, sigma = 0.5 } }

The run folder (written atomically) holds ``summary.csv``, ``loo.csv``,
``sensitivity.csv`` (power-scaling per prior and parameter), ``table.md`` and
``posteriors.png``.
"""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

from multilevel.errors import ConvergenceWarning, SpecError


def add_arguments(parser) -> None:
    parser.add_argument("spec", help="a TOML model spec with several [priors.NAME] tables")
    parser.add_argument("--out", help="run folder (default: runs/<spec name>-priors)")
    parser.add_argument("--params", nargs="*", help="parameters to overlay in the plot "
                        "(summary row names; default: the first four)")
    for key in ("draws", "tune", "chains", "seed"):
        parser.add_argument(f"--{key}", type=int, help=f"override [sampling] {key}")


def prior_sets(spec) -> dict:
    """name → ``priors=`` argument, from the spec's ``[priors.NAME]`` tables."""
    from multilevel.priors import from_spec

    tables = spec.priors
    if len(tables) < 2 or not all(isinstance(v, dict) for v in tables.values()) or \
            any(k in ("preset", "terms") for k in tables):
        raise SpecError(
            f"{spec.path}: compare-priors needs two or more named prior tables, e.g. "
            "[priors.weak] preset = \"weakly-informative\" and [priors.ridge] preset = \"ridge\"."
        )
    return {name: from_spec(table) for name, table in tables.items()}


def run(args) -> int:
    from multilevel.commands.terminal import warning_text
    from multilevel.report import atomic_folder
    from multilevel.report.runs import check_target
    from multilevel.sensitivity import compare_priors
    from multilevel.spec import load_spec, with_sampling

    spec = load_spec(args.spec)
    if spec.method != "bayes":
        raise SpecError(f"{spec.path}: compare-priors needs method = 'bayes'.")
    sets = prior_sets(spec)
    out = args.out if args.out is not None else Path("runs") / f"{spec.name}-priors"
    protect = spec.input_paths()
    check_target(out, protect=protect)   # before any fitting
    # the spec's model settings (a link, weights, ...) hold under every prior, and the
    # overrides are typed and bounded as fit's (with_sampling)
    spec = with_sampling(spec, {key: getattr(args, key) for key in ("draws", "tune", "chains", "seed")})
    settings = {key: value for key, value in spec.fit_kwargs(priors=False).items()
                if key not in ("method", "family")}
    # a line per finished fit on a terminal (no sampler bars: several fits would
    # overwrite each other), nothing into a pipe or a log file
    settings["progress"] = None if settings.get("progress") is not False and sys.stderr.isatty() else False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)   # shown below, after the tables
        result = compare_priors(spec.formula, spec.load_data(), sets, family=spec.family, **settings)
        sensitivity = result.sensitivity()
    table = result.summary.round(4)
    flags = sensitivity.xs("flag", axis=1, level=1).map(lambda f: f.split(":")[0])
    text = (f"# {spec.name}: posteriors under {', '.join(sets)}\n\n```\n{table.to_string()}\n```\n\n"
            f"## LOO\n\n```\n{result.loo.round(3).to_string()}\n```\n\n"
            f"## Power-scaling sensitivity (flags; numbers in sensitivity.csv)\n\n"
            f"```\n{flags.to_string()}\n```\n")
    fig = result.plot(args.params or None)
    with atomic_folder(out, protect=protect) as folder:
        result.summary.to_csv(folder / "summary.csv")
        result.loo.to_csv(folder / "loo.csv")
        sensitivity.to_csv(folder / "sensitivity.csv")
        (folder / "table.md").write_text(text)
        fig.savefig(folder / "posteriors.png", dpi=110, bbox_inches="tight")
        shutil.copyfile(spec.path, folder / "spec.toml")
    print(terminal_text(spec.name, result, flags))   # markdown only in table.md
    for name, fit in result.fits.items():   # each fit's problems once, named by its prior
        if not fit.convergence.ok:
            print(warning_text(f"{name}: {fit.convergence}"), file=sys.stderr)
    for message in dict.fromkeys(str(w.message) for w in caught
                                 if not issubclass(w.category, ConvergenceWarning)):
        print(warning_text(message), file=sys.stderr)
    print(f"Wrote {out}/", file=sys.stderr)
    return 0


def terminal_text(name: str, result, flags, width: int | None = None) -> str:
    """What ``compare-priors`` prints: the intervals, LOO and sensitivity flags per prior,
    as plain tables no wider than the terminal (the markdown is in ``table.md``)."""
    import textwrap

    from multilevel.commands.terminal import format_table, terminal_width

    width = width or terminal_width()
    parts = [(f"{name}: posteriors under {', '.join(result.loo.index)}", None),
             ("Posterior estimate [interval] per prior", result.intervals()),
             ("LOO per prior", result.loo),
             ("Power-scaling sensitivity (numbers in sensitivity.csv)", flags)]
    lines = []
    for heading, table in parts:
        lines.append(textwrap.fill(heading, width, break_long_words=False))
        if table is not None:
            lines += ["", format_table(table, width=width)]
        lines.append("")
    return "\n".join(lines[:-1])
