"""Map independent fit jobs serially or on Dask, keeping every result and every failure.

A *job* is plain, picklable data (a dataclass with the formula, data, priors and an
explicit seed); a *function* turns one job into one result. :func:`run_jobs` applies
the function to every job — in this process, on a local Dask cluster, or on any Dask
scheduler — and returns the results in the order of the jobs. Because each job
carries its own seed, the results do not depend on where or in which order the jobs
ran: a cluster run equals the serial run.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from multilevel.errors import FitError

#: The client used by ``run_jobs(..., client=DEFAULT)``; set with :func:`using`.
_CURRENT: contextvars.ContextVar = contextvars.ContextVar("multilevel_dask_client", default=None)
DEFAULT = object()


@dataclass(frozen=True)
class JobFailure:
    """A job that raised: its position, its inputs and what went wrong.

    Attributes
    ----------
    index : int
        Position of the job in the list given to :func:`run_jobs`.
    job : object
        The job itself (its inputs), to rerun or inspect.
    error : str
        ``"ExceptionType: message"``.
    traceback : str
        The worker-side traceback.
    """

    index: int
    job: object = field(repr=False)
    error: str
    traceback: str = field(repr=False, default="")

    def describe(self) -> str:
        label = getattr(self.job, "label", None)
        what = label if label is not None else _short(repr(self.job))
        return f"job {self.index} ({what}): {self.error}"


class JobsFailedError(FitError):
    """Some jobs failed; the others' results are kept on the exception.

    Attributes
    ----------
    results : list
        One entry per job: its result, or the :class:`JobFailure` in its place.
    failures : list of JobFailure
    """

    def __init__(self, results: list, failures: list[JobFailure]):
        self.results = results
        self.failures = failures
        lines = "\n".join(f"  - {f.describe()}" for f in failures[:10])
        more = f"\n  ... and {len(failures) - 10} more" if len(failures) > 10 else ""
        super().__init__(
            f"{len(failures)} of {len(results)} jobs failed:\n{lines}{more}\n"
            "The other results are kept in this exception's .results; each failure's "
            ".job holds its inputs and .traceback the worker's traceback. Rerun the failed "
            "jobs with run_jobs([f.job for f in err.failures], ...) after fixing their inputs."
        )


@contextlib.contextmanager
def using(client):
    """Run every :func:`run_jobs` call inside the block on ``client``.

    This is how K-fold cross-validation, reloo, prior grids and SBC — which call
    :func:`run_jobs` internally — are sent to a cluster.

    Parameters
    ----------
    client : None, "local", str or distributed.Client
        See :func:`run_jobs`. A ``"local"`` cluster or an address is opened once for
        the whole block and closed at its end.

    Examples
    --------
    >>> from multilevel.distributed import run_jobs, using
    >>> with using(None):
    ...     run_jobs([1, 2, 3], lambda x: x * 10)
    [10, 20, 30]
    """
    with _open(client) as resolved:
        token = _CURRENT.set(resolved)
        try:
            yield resolved
        finally:
            _CURRENT.reset(token)


def run_jobs(jobs: Iterable, fn: Callable | None = None, *, client=DEFAULT,
             errors: str = "raise", progress: bool | Callable | None = None,
             n_workers: int | None = None, label: str = "jobs") -> list:
    """Apply ``fn`` to every job (serially or on Dask); results in the order of ``jobs``.

    Parameters
    ----------
    jobs : iterable
        Independent jobs: picklable inputs, each carrying its own seed so that the
        result does not depend on where it runs.
    fn : callable, optional
        ``fn(job) -> result``; must be importable or picklable (cloudpickle) to reach
        Dask workers. Without ``fn`` each job is called: ``job()``.
    client : None, "local", str or distributed.Client
        ``None``: serial, in this process. ``"local"``: a ``LocalCluster`` of worker
        processes on this machine (``n_workers``, default one per core, one thread
        each), closed afterwards. Another string: the address of a running Dask
        scheduler (``"tcp://host:8786"``), e.g. one started by dask-jobqueue's
        ``SLURMCluster``. A ``distributed.Client``: used as is. Default: the client
        set by :func:`using`, else serial.
    errors : {"raise", "return"}
        A failing job never stops the others. ``"raise"``: after all jobs ran, raise
        :class:`JobsFailedError` (which holds every result and every failure).
        ``"return"``: put a :class:`JobFailure` in the failed job's place.
    progress : bool or callable, optional
        ``True``: a line on stderr as jobs finish (on a terminal one line, rewritten
        in place; elsewhere a line per job). A callable gets ``(done, total, failed)``.
        Default: on when stderr is a terminal, off otherwise (a pipe, a log file, a
        notebook).
    n_workers : int, optional
        Workers of a ``"local"`` cluster.
    label : str
        What the progress line counts (``"slopes: 10-fold cross-validation"``).

    Returns
    -------
    list

    Examples
    --------
    >>> from multilevel.distributed import run_jobs
    >>> run_jobs([1, 2, 3], lambda x: x + 1)
    [2, 3, 4]
    >>> out = run_jobs([1, 0], lambda x: 1 / x, errors="return")
    >>> out[1].error
    'ZeroDivisionError: division by zero'
    """
    jobs = list(jobs)
    if errors not in ("raise", "return"):
        raise FitError(f"errors must be 'raise' or 'return', got {errors!r}.")
    if client is DEFAULT:
        client = _CURRENT.get()
    report = _reporter(progress, len(jobs), label)
    with _open(client, n_workers=n_workers) as resolved:
        outcomes = _serial(jobs, fn, report) if resolved is None else _dask(jobs, fn, resolved, report)
    results, failures = [], []
    for index, (job, outcome) in enumerate(zip(jobs, outcomes)):
        if outcome[0] == "ok":
            results.append(outcome[1])
        else:
            failure = JobFailure(index=index, job=job, error=outcome[1], traceback=outcome[2])
            failures.append(failure)
            results.append(failure)
    if failures and errors == "raise":
        raise JobsFailedError(results, failures)
    return results


# ------------------------------------------------------------------- execution
def _call(fn, job):
    """Run one job, turning an exception into data (so gathering never loses results)."""
    try:
        return ("ok", fn(job) if fn is not None else job())
    except Exception as exc:  # every failure is reported with its job, none is fatal
        return ("error", f"{type(exc).__name__}: {exc}", traceback.format_exc())


def _serial(jobs: Sequence, fn, report) -> list:
    outcomes = []
    for job in jobs:
        outcomes.append(_call(fn, job))
        report(outcomes[-1][0] != "ok")
    return outcomes


def _dask(jobs: Sequence, fn, client, report) -> list:
    from distributed import as_completed

    if hasattr(client, "gather"):
        futures = [client.submit(_call, fn, job, pure=False) for job in jobs]
        position = {f.key: i for i, f in enumerate(futures)}
        outcomes: list = [None] * len(jobs)
        for future in as_completed(futures):
            try:
                outcomes[position[future.key]] = future.result()
            except Exception as exc:  # the worker itself died (memory, killed)
                outcomes[position[future.key]] = ("error", f"{type(exc).__name__}: {exc}",
                                                  traceback.format_exc())
            report(outcomes[position[future.key]][0] != "ok")
        return outcomes
    # A concurrent.futures.Executor (e.g. ProcessPoolExecutor) works the same way.
    futures = [client.submit(_call, fn, job) for job in jobs]
    outcomes = []
    for future in futures:
        outcomes.append(future.result())
        report(outcomes[-1][0] != "ok")
    return outcomes


@contextlib.contextmanager
def _open(client, n_workers: int | None = None):
    """Yield something with ``submit`` (or None for serial); close what we opened."""
    if client is None or hasattr(client, "submit"):
        yield client
        return
    if not isinstance(client, str):
        raise FitError(
            f"client must be None (serial), 'local', a scheduler address or a "
            f"distributed.Client; got {type(client).__name__}."
        )
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise FitError(
            "Running jobs on Dask needs dask.distributed: pip install 'multilevel[distributed]'."
        ) from exc
    if client == "local":
        workers = n_workers or max(1, os.cpu_count() or 1)
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster, Client(cluster) as opened:
            yield opened
        return
    with Client(client) as opened:
        yield opened


def _reporter(progress, total: int, label: str = "jobs"):
    if progress is None:
        progress = sys.stderr.isatty()
    state = {"done": 0, "failed": 0, "start": time.perf_counter()}
    if progress is True and total:   # at once: the first job may take minutes
        _progress_line(f"{label}: 0/{total} done", False)

    def report(failed: bool) -> None:
        state["done"] += 1
        state["failed"] += int(failed)
        if callable(progress):
            progress(state["done"], total, state["failed"])
        elif progress:
            elapsed = time.perf_counter() - state["start"]
            _progress_line(f"{label}: {state['done']}/{total} done, {state['failed']} failed, "
                           f"{elapsed:.0f} s", state["done"] == total)

    return report


def _progress_line(text: str, last: bool) -> None:
    """On a terminal the line is rewritten in place (cleared to its end); elsewhere each
    update is a line of its own."""
    if sys.stderr.isatty():
        print(f"\r{text}\x1b[K", end="\n" if last else "", file=sys.stderr, flush=True)
    else:
        print(text, file=sys.stderr, flush=True)


def _short(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
