"""``multilevel compare SPEC SPEC ... [--out DIR]``: fit the specs, compare, write a run folder.

The folder (written atomically) holds ``table.md`` (table and notes), ``table.csv``,
``plot.png`` and a copy of each spec.
"""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

from multilevel.errors import ComparisonError

SAMPLING_OVERRIDES = ("draws", "tune", "chains", "seed", "sampler")
REFIT_OVERRIDES = {"refit_draws": "draws", "refit_tune": "tune", "refit_chains": "chains"}


def add_arguments(parser) -> None:
    """The ``compare`` subcommand's options."""
    import argparse

    parser.add_argument("specs", nargs="+", help="two or more TOML model specs of the same data")
    parser.add_argument("--out", help="run folder (default: runs/compare-<name>-<name>...)")
    parser.add_argument("--high-k", default="warn",
                        choices=("warn", "reloo", "moment_match", "kfold"),
                        help="fix for observations with Pareto k > 0.7 (default: warn)")
    parser.add_argument("--k-folds", type=int, help="folds for --high-k kfold (default 10; "
                        "with --group-by one per group)")
    parser.add_argument("--group-by", help="column whose groups stay whole in K-fold folds")
    parser.add_argument("--weights", default="stacking",
                        choices=("stacking", "bb-pseudo-bma", "pseudo-bma"))
    for key in SAMPLING_OVERRIDES:
        parser.add_argument(f"--{key}", type=str if key == "sampler" else int,
                            help=f"override [sampling] {key} of every Bayesian spec")
    for flag, key in REFIT_OVERRIDES.items():
        parser.add_argument(f"--{flag.replace('_', '-')}", type=int, dest=flag,
                            help=f"{key} of the refits (default: as the fit)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="the sampler's progress bar and a line per K-fold fold or reloo "
                        "refit (default: on in a terminal)")


def run(args) -> int:
    """Fit every spec, compare, print the table (sized to the terminal), write the run folder."""
    import multilevel as ml
    from multilevel.report import atomic_folder
    from multilevel.report.runs import check_target
    from multilevel.spec import check_overrides, load_spec, with_sampling

    if len(args.specs) < 2:  # before any fitting
        raise ComparisonError(f"compare needs at least two models, got {len(args.specs)} spec.")
    # the overrides as the effective spec of each Bayesian spec: typed and bounded before fitting
    overrides = {key: getattr(args, key) for key in SAMPLING_OVERRIDES}
    specs = [load_spec(p) for p in args.specs]
    specs = [with_sampling(s, overrides) if s.method == "bayes" else s for s in specs]
    names = [s.name for s in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ComparisonError(
            f"Specs must have distinct names to be compared; {', '.join(map(repr, twice))} "
            "appears more than once. Set name = \"...\" in the specs."
        )
    given = [f"--{k}" for k in SAMPLING_OVERRIDES if getattr(args, k) is not None]
    given += [f"--{f.replace('_', '-')}" for f in REFIT_OVERRIDES if getattr(args, f) is not None]
    if given and not any(spec.method == "bayes" for spec in specs):
        from multilevel.errors import SpecError

        raise SpecError(f"{', '.join(given)}: no spec here samples (methods "
                        f"{', '.join(sorted({s.method for s in specs}))}); these options apply only "
                        "to method = 'bayes' specs. Remove them.")
    _refuse_unused_cv_options(args, samples=any(spec.method == "bayes" for spec in specs))
    refit = check_overrides({key: getattr(args, flag) for flag, key in REFIT_OVERRIDES.items()},
                            where="compare", prefix="--refit-")
    out = args.out if args.out is not None else Path("runs") / ("compare-" + "-".join(names))
    protect = [p for spec in specs for p in spec.input_paths()]
    check_target(out, protect=protect)   # before any fitting
    fits, messages = {}, []
    for spec in specs:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)  # ConvergenceWarning and friends
            fits[spec.name] = ml.fit(spec.formula, spec.load_data(), **_fit_kwargs(spec, args))
        messages += [f"{spec.name}: {w.message}" for w in caught]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)  # ParetoKWarning names its model
        # a line per fold or refit on a terminal; nothing into a pipe or log file
        result = ml.compare(fits, high_k=args.high_k, k_folds=args.k_folds, group_by=args.group_by,
                            refit=refit or None, weights=args.weights,
                            progress=args.progress is not False and sys.stderr.isatty())
    messages += [str(w.message) for w in caught]
    text = result.to_markdown()
    with atomic_folder(out, protect=protect) as folder:
        for i, spec in enumerate(specs, 1):
            shutil.copyfile(spec.path, folder / f"spec{i}-{spec.path.name}")
        (folder / "table.md").write_text(text)
        result.table.to_csv(folder / "table.csv")
        result.plot(folder / "plot.png")
    print(repr(result))   # sized to the terminal; the markdown is in table.md
    from multilevel.commands.terminal import warning_text

    for message in messages:
        print(warning_text(message), file=sys.stderr)
    print(f"Wrote {out}/", file=sys.stderr)
    return 0


def _refuse_unused_cv_options(args, samples: bool = True) -> None:
    """Fold and refit options that the chosen --high-k would ignore, refused before fitting;
    without a Bayesian spec there is no LOO, so --high-k and its options would be ignored."""
    high_k = [flag for flag, value in (("--high-k", None if args.high_k == "warn" else args.high_k),
                                       ("--k-folds", args.k_folds), ("--group-by", args.group_by))
              if value is not None]
    if high_k and not samples:
        raise ComparisonError(f"{', '.join(high_k)}: no spec here samples, so there is no LOO for "
                              "these options to fix (REML/ML specs are compared by AIC, BIC and the "
                              "likelihood-ratio test). Remove them.")
    if args.k_folds is not None and args.k_folds < 2:
        raise ComparisonError(f"--k-folds must be at least 2, got {args.k_folds}.")
    folds = [flag for flag, value in (("--k-folds", args.k_folds), ("--group-by", args.group_by))
             if value is not None]
    if folds and args.high_k != "kfold":
        raise ComparisonError(f"{', '.join(folds)}: set(s) the folds of --high-k kfold, not of "
                              f"--high-k {args.high_k}. Add --high-k kfold, or remove them.")
    refit = [f"--{flag.replace('_', '-')}" for flag in REFIT_OVERRIDES if getattr(args, flag) is not None]
    if refit and args.high_k in ("warn", "moment_match"):
        raise ComparisonError(f"{', '.join(refit)}: --high-k {args.high_k} runs no refits; these "
                              "apply with --high-k reloo or kfold. Remove them, or choose one of those.")


def _fit_kwargs(spec, args) -> dict:
    kwargs = spec.fit_kwargs()
    if spec.method == "bayes":   # the overrides are in spec.sampling (with_sampling)
        progress = args.progress if args.progress is not None else kwargs.get("progress")
        # a bar is drawn only into a terminal, never into a pipe or a log file
        kwargs["progress"] = progress is not False and sys.stderr.isatty()
    return kwargs
