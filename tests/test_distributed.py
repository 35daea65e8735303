"""multilevel.distributed: serial and Dask maps of independent jobs, failures kept with inputs.

The done-when check of issue 10 — a 4-fold leave-group-out CV and a 20-replicate SBC
on a LocalCluster (2 worker processes) give exactly the serial results with the same
seeds — is in ``test_cluster_runs_equal_serial_runs``.
"""

from __future__ import annotations

import numpy as np
import pytest

from multilevel.distributed import JobFailure, JobsFailedError, run_jobs, using
from multilevel.errors import ComparisonError, FitError

TINY = dict(draws=100, tune=100, chains=2)


def _square_or_fail(x):
    if x == 3:
        raise ValueError("x = 3 is refused")
    return x * x


@pytest.mark.parametrize("errors", ["raise", "return"])
def test_a_failed_job_is_reported_with_its_inputs_and_the_others_kept(errors):
    if errors == "return":
        out = run_jobs(range(5), _square_or_fail, errors="return", progress=False)
    else:
        with pytest.raises(JobsFailedError) as info:
            run_jobs(range(5), _square_or_fail, progress=False)
        assert "job 3 (3): ValueError: x = 3 is refused" in str(info.value)
        out = info.value.results
    assert out[:3] == [0, 1, 4] and out[4] == 16
    failure = out[3]
    assert isinstance(failure, JobFailure)
    assert (failure.index, failure.job) == (3, 3)
    assert failure.error == "ValueError: x = 3 is refused"
    assert "_square_or_fail" in failure.traceback


def test_progress_callback_and_calling_jobs_without_fn():
    seen = []
    out = run_jobs([lambda: "a", lambda: "b"], progress=lambda d, t, f: seen.append((d, t, f)))
    assert out == ["a", "b"] and seen == [(1, 2, 0), (2, 2, 0)]


@pytest.mark.parametrize("kwargs, message", [
    ({"client": 42}, "client must be None"),
    ({"errors": "ignore"}, "errors must be 'raise' or 'return'"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(FitError, match=message):
        run_jobs([1], abs, **kwargs)


def test_using_sets_the_default_client_for_the_block():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool, using(pool) as client:
        assert client is pool
        assert run_jobs([1, 2, 3], lambda x: -x) == [-1, -2, -3]


def test_compare_refits_fail_with_comparison_error_and_every_job_runs():
    from multilevel.compare import refit

    calls = []

    def fake(job):
        calls.append(job)
        raise ValueError("no data")

    original = refit.run_job
    refit.run_job = fake
    try:
        with pytest.raises(ComparisonError, match="2 of 2 jobs failed"):
            refit.run_jobs(["fold 1", "fold 2"])
    finally:
        refit.run_job = original
    assert calls == ["fold 1", "fold 2"]


# ------------------------------------------------------------ the done-when check
@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A LocalCluster of 2 worker processes sharing a fresh compile cache with this process."""
    distributed = pytest.importorskip("distributed")  # a dev dependency: present in CI
    mp = pytest.MonkeyPatch()
    mp.setenv("MULTILEVEL_CACHE_DIR", str(tmp_path_factory.mktemp("compile-cache")))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as lc, distributed.Client(lc) as client:
        yield client
    mp.undo()


@pytest.mark.slow
def test_cluster_runs_equal_serial_runs(cluster, sleepstudy):
    import multilevel as ml
    from multilevel.compare import loo

    base = ml.fit("Reaction ~ Days + (1 | Subject)", sleepstudy, seed=5, progress=False,
                  check=False, **TINY)
    cv = dict(k_folds=4, group_by="Subject", high_k="kfold", refit=TINY, seed=11)
    serial_cv = loo(base, **cv)
    with using(cluster):
        dask_cv = loo(base, **cv)
    assert serial_cv.n_refits == dask_cv.n_refits == 4
    a, b = serial_cv.elpd, dask_cv.elpd
    assert np.isfinite(a.elpd) and a.elpd == b.elpd and a.se == b.se
    np.testing.assert_array_equal(np.asarray(a.elpd_i), np.asarray(b.elpd_i))

    sbc = dict(n=20, seed=3, thin=2, **TINY)
    formula = "Reaction ~ Days + (1 | Subject)"
    serial_sbc = ml.sbc(formula, sleepstudy, **sbc)
    dask_sbc = ml.sbc(formula, sleepstudy, client=cluster, **sbc)
    for result in (serial_sbc, dask_sbc):
        assert result.n == 20 and not result.failures
        assert list(result.ranks.columns) == ["(Intercept)", "Days", "sd__(Intercept)|Subject",
                                              "sigma"]
        assert result.ranks.notna().all().all()
    assert serial_sbc.ranks.equals(dask_sbc.ranks)
    assert serial_sbc.truth.equals(dask_sbc.truth)
    # Not a calibration test (20 replicates, 100 draws), only a gross-error guard:
    # a wrong intercept centring or SD transform puts every rank in an end bin.
    assert (serial_sbc.test()["p_value"] > 1e-4).all(), serial_sbc.counts()
