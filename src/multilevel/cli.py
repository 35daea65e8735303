"""The ``multilevel`` command: run model specs from ``models/``.

::

    multilevel fit models/sleepstudy.toml [--out DIR] [--draws N] [--chains N] [--seed N]
    multilevel show runs/sleepstudy-random-slopes
    multilevel compare models/sleepstudy-intercept.toml models/sleepstudy.toml [--out DIR]
    multilevel datasets
    multilevel --version
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

from multilevel.errors import MultilevelError

INTERRUPTED = "interrupted: nothing written; the previous run is kept"
# set by console_main: this process is the command's own, it runs no code of the user
_OWN_PROCESS = {"value": False}


def console_main() -> None:
    """The ``multilevel`` console script: :func:`main`, then an exit without teardown.

    After a fit the interpreter holds ~2,800 modules (Bambi, PyMC, numba, ArviZ), and
    Python's teardown of them takes 0.6-0.9 s once the work is done and every file is
    closed. So when :func:`main` returns and no other (non-daemon) thread is running,
    the exit handlers run (``atexit``: weakref finalizers, logging, multiprocessing),
    the standard streams are flushed, and the process ends with ``os._exit``. An
    exception leaves the usual way, with its traceback.

    The cyclic garbage collector runs 70 times less often than CPython's default: a run
    allocates mostly long-lived objects (modules, the model's graph), and the default's
    ~800 collections took 0.5 s of a sleepstudy fit (mypy's CLI does the same).

    In this process of its own, ``multilevel fit`` of a Bayesian spec also leaves dask
    out and imports ArviZ without lazy_loader's source-reading stack walk
    (:func:`_lighter_bayes_imports`).
    """
    gc.set_threshold(50_000, 20, 20)
    _OWN_PROCESS["value"] = True
    code = main()
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)   # CPython's
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if run_exit_handlers is None or others:
        sys.exit(code)
    run_exit_handlers()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``multilevel`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    with _interrupts() as received:
        try:
            return args.run(args)
        except MultilevelError as exc:
            print(f"error: {one_line(exc)}", file=sys.stderr)
            return 1
        except OSError as exc:   # the file system refused (disk full, permissions): not a bug
            where = f" ({exc.filename})" if exc.filename else ""
            print(f"error: {exc.strerror or one_line(exc)}{where}.", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(INTERRUPTED, file=sys.stderr)
            return 128 + int(received.get("signal") or signal.SIGINT)


def one_line(exc: BaseException) -> str:
    """An error's message as one line: a message that quotes another library's text
    (several lines, URLs) must not spill over the terminal as if it were a traceback.

    Examples
    --------
    >>> one_line(ValueError("no engine.\\nSee: https://docs.example"))
    'no engine. See: https://docs.example'
    """
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip())


@contextlib.contextmanager
def _interrupts():
    """SIGINT and SIGTERM raise KeyboardInterrupt once, so every command stops the same way.

    The first signal stops the work (the run folder is published only at the very end,
    so nothing is written); later ones are ignored while the cleanup runs. A signal that
    comes once a run folder is being published lets it finish (it is complete).
    """
    received: dict = {}
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def publishing() -> int:
        runs = sys.modules.get("multilevel.report.runs")
        return runs.publish_count() if runs is not None else 0

    published_before = publishing()

    def handler(signum, frame):
        if received or publishing() > published_before:
            received.setdefault("late", signum)
            return
        received["signal"] = signum
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# --help is plain text (the module docstring above is reST for the documentation site)
DESCRIPTION = ("Fit, compare and report Bayesian and lme4-style multilevel models\n"
               "from TOML model specs.")
EPILOG = """examples:
  multilevel fit models/sleepstudy.toml --draws 500
  multilevel show runs/sleepstudy-random-slopes
  multilevel compare models/sleepstudy-intercept.toml models/sleepstudy.toml
  multilevel datasets

A run folder (runs/<spec name>, or --out) holds the report (report.md,
report.html, figures), summary.csv, the effective spec.toml (command-line
overrides included) and, for Bayesian fits, posterior.nc. `multilevel show`
reprints it; ml.load_run() loads the fit back in Python."""
SAMPLING_OPTIONS = ("draws", "tune", "chains", "seed", "sampler")
# data larger than this is not hashed to look up a recorded sampling problem (its sampling
# takes far longer than a child may take: multilevel.bayes.speculate.MAX_SAMPLE_S)
MAX_SPECULATED_CELLS = 2_000_000


def _parser() -> argparse.ArgumentParser:
    from multilevel import __version__

    parser = argparse.ArgumentParser(prog="multilevel", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command")

    fit = sub.add_parser("fit", help="fit a model spec, print its interval table, write a run folder")
    fit.add_argument("spec", help="a TOML model spec, e.g. models/sleepstudy.toml")
    fit.add_argument("--out", help="run folder (default: runs/<spec name>)")
    fit.add_argument("--draws", type=int, help="override [sampling] draws")
    fit.add_argument("--tune", type=int, help="override [sampling] tune")
    fit.add_argument("--chains", type=int, help="override [sampling] chains")
    fit.add_argument("--seed", type=int, help="override [sampling] seed")
    fit.add_argument("--sampler", help="override [sampling] sampler (auto, nutpie, pymc, ...)")
    fit.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="the sampler's progress bar, drawn only when stderr is a terminal "
                     "(default: on there)")
    fit.set_defaults(run=_cmd_fit)

    show = sub.add_parser("show", help="reprint the summary of a run folder written by fit")
    show.add_argument("run_folder", help="a run folder, e.g. runs/sleepstudy-random-slopes")
    show.set_defaults(run=_cmd_show)

    compare = sub.add_parser("compare", help="compare model specs: LOO/WAIC beside AIC/BIC/LRT")
    from multilevel.commands.compare import add_arguments

    add_arguments(compare)
    compare.set_defaults(run=_cmd_compare)

    priors = sub.add_parser("compare-priors", help="fit one spec under each of its [priors.NAME] "
                            "tables and compare the posteriors")
    from multilevel.commands.priors import add_arguments as add_prior_arguments

    add_prior_arguments(priors)
    priors.set_defaults(run=_cmd_compare_priors)

    data = sub.add_parser("datasets", help="list the shipped datasets")
    data.set_defaults(run=_cmd_datasets)
    return parser


def _cmd_datasets(args) -> int:
    from multilevel import datasets
    from multilevel.commands.terminal import format_table

    print(format_table(datasets.describe(), index=False, shrink=("source", "typical model")))
    return 0


def _cmd_fit(args) -> int:
    # reading the spec and data, and the imports: without collections (_imports_without_gc)
    with _imports_without_gc():
        import multilevel as ml
        from multilevel.report.runs import check_target
        from multilevel.spec import load_spec, spec_table, to_toml, with_sampling

        loaded = load_spec(args.spec)
        # the effective spec: overrides applied, or refused when the method does not sample
        spec = with_sampling(loaded, {key: getattr(args, key) for key in (*SAMPLING_OPTIONS, "progress")})
        out = args.out if args.out is not None else Path("runs") / spec.name
        protect = spec.input_paths()
        check_target(out, protect=protect)   # before the fit: a refused folder costs no fitting
        data = spec.load_data()
        kwargs = spec.fit_kwargs()
        if spec.method == "bayes":
            progress = args.progress if args.progress is not None else kwargs.get("progress")
            # a bar is drawn only into a terminal, never into a pipe or a log file
            kwargs["progress"] = progress is not False and sys.stderr.isatty()
        if spec.method == "bayes" and _OWN_PROCESS["value"]:
            _speculate(spec, data)   # before the imports: a rerun's sampling starts in a child now
            _lighter_bayes_imports()
        from multilevel.commands.terminal import print_fit
        from multilevel.report import report_content, write_report
        _fit_imports(spec.method)

    ci = spec.report.get("ci", 0.95)
    kind = spec.report.get("kind", "eti")
    overrides = [f"--{k} {getattr(args, k)}" for k in SAMPLING_OPTIONS if getattr(args, k) is not None]
    header = (f"# The effective spec of this run: {loaded.path}"
              + (f" with {' '.join(overrides)}" if overrides else "") + ".\n"
              + "# Fit it again with `multilevel fit` on this file; ml.load_run() reads the folder.\n")

    def run_files(folder):
        (folder / "spec.toml").write_text(header + to_toml(spec_table(spec)), encoding="utf-8")
        content.table.to_csv(folder / "summary.csv")
        if spec.method == "bayes":
            fit.idata.to_netcdf(folder / "posterior.nc")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            fit = ml.fit(spec.formula, data, **kwargs)
        finally:
            _stop_speculation()   # a child whose draws were not taken stops here
        content = report_content(fit, spec=spec, ci=ci, kind=kind)
        write_report(fit, out, ci=ci, kind=kind, spec=spec, plots=spec.report.get("plots", True),
                     extra=run_files, content=content, protect=protect)
    print_fit(content)
    _print_warnings(caught, content)
    print(f"Wrote {out}/ (report.md, report.html, summary.csv, spec.toml)", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _imports_without_gc():
    """The garbage collector paused while ``multilevel fit`` reads its spec and data and
    imports what its fit and report need; then everything in memory frozen.

    A Bayesian fit's process imports ~2,800 modules (pandas, SciPy, matplotlib, Bambi,
    PyMC). Every 50,000 objects they create, a collection walks the newest ones, which all
    live as long as the process: 0.12 s of a cached run's critical path spent freeing
    ~3,000 objects of a million. Frozen (``gc.freeze``), these objects stay out of the
    collections, which run as usual from the fit on. In :func:`console_main`'s process
    only: a caller of :func:`main` (tests, notebooks) keeps its collector as it is.
    """
    if not _OWN_PROCESS["value"]:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _fit_imports(method: str) -> None:
    """Import now what the fit imports first (inside :func:`_imports_without_gc`)."""
    if not _OWN_PROCESS["value"]:
        return
    if method == "bayes":
        import bambi  # noqa: F401  - with PyMC, PyTensor and ArviZ
    else:
        import multilevel.freq  # noqa: F401


def _speculate(spec, data) -> None:
    """Start sampling this run's recorded problem in a child (:mod:`multilevel.bayes.speculate`):
    the run is identified by the effective spec, the data and the package's version. An
    optimization only: whatever goes wrong here, the run samples as usual."""
    import hashlib
    import logging

    import pandas as pd

    from multilevel import __version__
    from multilevel.bayes import speculate
    from multilevel.spec import spec_table, to_toml

    if data.size > MAX_SPECULATED_CELLS:   # hashing it costs more than the child could save
        return
    try:
        h = hashlib.sha256(f"{__version__}\n{sys.version}\n".encode())
        h.update(to_toml(spec_table(spec)).encode())
        h.update(repr([(str(c), str(t)) for c, t in data.dtypes.items()]).encode())
        h.update(pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes())
        for path in spec.data2_paths().values():
            with contextlib.suppress(OSError):
                h.update(path.read_bytes())
        h.update(repr(sorted((k, v) for k, v in os.environ.items() if k.startswith("MULTILEVEL_"))).encode())
        speculate.begin(h.digest())
    except Exception as exc:  # noqa: BLE001 - e.g. unhashable cells: no child, the usual run
        logging.getLogger("multilevel.cache").debug("no speculative sampling: %s", exc)


def _stop_speculation() -> None:
    speculate = sys.modules.get("multilevel.bayes.speculate")
    if speculate is not None:
        speculate.stop()


def _lighter_bayes_imports() -> None:
    """What a Bayesian ``multilevel fit`` in its own process skips (0.5-0.7 CPU s).

    - dask: where it is installed (the ``dev``/``distributed`` extras), xarray imports
      ``dask.array`` when it builds the posterior from nutpie's trace (0.3 s) and
      ``dask.distributed`` when it writes ``posterior.nc`` (0.2 s), only to find that no
      array is a dask array. ``fit`` never makes one (the many-fit verbs that run on Dask
      are other commands) and the process runs no code of the user, so dask is marked
      absent (``sys.modules["dask"] = None``), as in an installation without it; the
      files written are the same.
    - lazy_loader: ``arviz_base`` asks it for jax and numpyro; for a package that is not
      installed it records where it was asked with ``inspect.stack()``, which reads the
      source of every frame and maps ~2,000 modules to files (0.2 s). ``arviz_base`` is
      imported here with a stack of the same frames without their source lines (only an
      error message for the absent package would show them).

    Only in :func:`console_main`'s process: a caller of :func:`main` in its own process
    (tests, notebooks) keeps dask.
    """
    import importlib.util
    import inspect

    if "dask" not in sys.modules:
        sys.modules["dask"] = None   # an import of dask raises ModuleNotFoundError
    if "arviz_base" in sys.modules or importlib.util.find_spec("arviz_base") is None:
        return

    def stack(context: int = 1) -> list:
        frames, frame = [], sys._getframe(1)
        while frame is not None:
            frames.append(inspect.FrameInfo(frame, frame.f_code.co_filename, frame.f_lineno,
                                            frame.f_code.co_name, None, None))
            frame = frame.f_back
        return frames

    original, inspect.stack = inspect.stack, stack
    try:
        import arviz_base  # noqa: F401
    finally:
        inspect.stack = original


def _cmd_show(args) -> int:
    from multilevel.commands.terminal import print_fit
    from multilevel.report import report_content
    from multilevel.runfolder import load_run
    from multilevel.spec import load_spec

    fit = load_run(args.run_folder)
    spec = load_spec(Path(args.run_folder) / "spec.toml")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        content = report_content(fit, spec=spec, ci=spec.report.get("ci", 0.95),
                                 kind=spec.report.get("kind", "eti"))
    print_fit(content)
    _print_warnings(caught, content)
    return 0


def _print_warnings(caught, content) -> None:
    """Each warning once on stderr; the convergence verdict is already in the printed table."""
    from multilevel.commands.terminal import warning_text

    for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning)):
        if message.strip() != content.convergence_text.strip():
            print(warning_text(message), file=sys.stderr)


def _cmd_compare(args) -> int:
    from multilevel.commands.compare import run

    return run(args)


def _cmd_compare_priors(args) -> int:
    from multilevel.commands.priors import run

    return run(args)


if __name__ == "__main__":
    console_main()
