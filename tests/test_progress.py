"""Progress of the operations that run many fits (issue 25): K-fold and reloo refits of
``ml.compare``, ``compare_priors``, ``regularization_path``. A line on stderr per finished
fit when stderr is a terminal, named by what it counts; nothing into a pipe, a log or a
notebook, and nothing with ``progress=False``."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from pty_run import run_in_terminal, screen, widest

import multilevel as ml
from multilevel.compare import refit as refits
from multilevel.distributed import run_jobs

ROOT = Path(__file__).resolve().parents[1]


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def stderr(monkeypatch):
    def use(tty: bool):
        stream = Terminal() if tty else io.StringIO()
        monkeypatch.setattr(sys, "stderr", stream)
        return stream
    return use


# ------------------------------------------------------------------ the progress line
def test_a_terminal_gets_one_line_rewritten_per_finished_job(stderr):
    err = stderr(tty=True)
    assert run_jobs([1, 2, 3], lambda x: x, label="demo: folds") == [1, 2, 3]
    text = err.getvalue()
    assert text.startswith("\rdemo: folds: 0/3 done")
    assert screen(text).splitlines() == ["demo: folds: 3/3 done, 0 failed, 0 s"]
    assert text.count("\r") == 4 and text.endswith("\n")


@pytest.mark.parametrize("tty, progress", [(False, None), (True, False), (False, False)])
def test_no_line_into_a_pipe_or_with_progress_false(stderr, tty, progress):
    err = stderr(tty=tty)
    run_jobs([1, 2], lambda x: x, progress=progress, label="demo")
    assert err.getvalue() == ""


def test_progress_true_into_a_file_writes_plain_lines(stderr):
    err = stderr(tty=False)
    run_jobs([1, 2], lambda x: x, progress=True, label="demo")
    lines = err.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["demo: 0/2 done", "demo: 1/2 done", "demo: 2/2 done"]
    assert "\r" not in err.getvalue() and "\x1b" not in err.getvalue()


# ------------------------------------------------------------------ ml.compare K-fold
def _refit_from_the_full_posterior(job):
    """A stand-in refit: the held-out rows' log-likelihood draws of the full fit (the
    progress wiring is under test here, not the refits)."""
    fit = FITS[job.label.split(" fold ")[0]]
    values = np.asarray(fit.idata.log_likelihood[list(fit.idata.log_likelihood.data_vars)[0]].values)
    return refits.JobResult(label=job.label, test_index=job.test_index,
                            loglik=values[..., list(job.test_index)], seconds=0.0)


FITS: dict = {}


@pytest.fixture
def kfold_fits(bayes_ss_intercept, bayes_ss_slopes, monkeypatch):
    FITS.update(intercept=bayes_ss_intercept, slopes=bayes_ss_slopes)
    monkeypatch.setattr(refits, "run_job", _refit_from_the_full_posterior)
    return dict(FITS)


@pytest.mark.slow
@pytest.mark.parametrize("tty, progress, shown", [(True, None, True), (True, False, False),
                                                  (False, None, False)])
def test_kfold_compare_reports_each_fold_per_model(kfold_fits, stderr, tty, progress, shown):
    err = stderr(tty=tty)
    result = ml.compare(kfold_fits, high_k="kfold", k_folds=3, progress=progress, frequentist=False)
    assert list(result.table["cv"]) == ["kfold(3)", "kfold(3)"]
    text = err.getvalue()
    if not shown:
        assert text == ""
        return
    for name in ("intercept", "slopes"):
        assert f"{name}: 3-fold cross-validation, folds: 0/3 done" in text
        assert f"{name}: 3-fold cross-validation, folds: 1/3 done" in text
    assert [line.split(",")[0] + "," + line.split(",")[1] for line in screen(text).splitlines()] == [
        "intercept: 3-fold cross-validation, folds: 3/3 done",
        "slopes: 3-fold cross-validation, folds: 3/3 done"]


# ------------------------------------------------------------------ other many-fit operations
class Stop(Exception):
    pass


def test_compare_priors_and_regularization_path_pass_progress_on(monkeypatch):
    import multilevel.distributed as distributed

    seen = []

    def record(jobs, fn=None, **kwargs):
        seen.append(kwargs)
        raise Stop

    monkeypatch.setattr(distributed, "run_jobs", record)
    for progress, expected in ((None, None), (False, False)):
        with pytest.raises(Stop):
            ml.compare_priors("Reaction ~ Days", "sleepstudy", {"a": None, "b": ml.priors.ridge(1.0)},
                              **({} if progress is None else {"progress": progress}))
        assert seen[-1]["progress"] is expected
        assert seen[-1]["label"] == "compare_priors: fits under 2 priors"
        with pytest.raises(Stop):
            ml.regularization_path("target ~ bmi + bp", ml.datasets.load("diabetes"), scales=[1, 10],
                                   progress=progress)
        assert seen[-1]["progress"] is expected
        assert seen[-1]["label"] == "ridge path: fits at 2 scales and a learned one"


# ------------------------------------------------------------------ the command line
@pytest.mark.slow
def test_cli_compare_priors_in_a_terminal(tmp_path):
    """Plain tables sized to the terminal (markdown only in table.md) and a line per fit."""
    from multilevel.cli import main

    spec = str(ROOT / "models" / "sleepstudy-priors.toml")
    out_dir = tmp_path / "priors"
    code, out = run_in_terminal(["compare-priors", spec, "--out", str(out_dir), "--draws",
                                 "300", "--tune", "500", "--params", "Days", "sigma"], columns=72,
                                timeout=900)
    assert code == 0, out
    assert "```" not in out and "## " not in out and "|---" not in out and "\\|" not in out
    assert "ConvergenceWarning" not in out and "runpy" not in out   # problems as "warning: prior: ..."
    assert widest(out) <= 72
    shown = screen(out)
    assert "Posterior estimate [interval] per prior" in shown and "prior-data conflict" in shown
    assert "compare_priors: fits under 3 priors: 3/3 done, 0 failed" in shown
    assert "compare_priors: fits under 3 priors: 1/3 done" in out   # rewritten in place
    assert (out_dir / "table.md").read_text().startswith("# sleepstudy-priors")
    assert sorted(p.name for p in out_dir.iterdir()) == [
        ".multilevel-run", "loo.csv", "posteriors.png", "sensitivity.csv", "spec.toml", "summary.csv",
        "table.md"]
    assert main(["fit", spec]) == 1   # a spec of several prior sets is for compare-priors only
