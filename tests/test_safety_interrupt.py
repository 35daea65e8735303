"""SIGINT/SIGTERM stop a fit: one line on stderr, exit 130/143, the previous run kept.

Measured on main before: Ctrl-C during sampling exited 0 and published a truncated
posterior as a complete run (nutpie returns the draws it has); Ctrl-C during a REML
fit printed a traceback. These tests interrupt real CLI fits in subprocesses.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from multilevel.bayes.sampling import SamplingSettings, check_complete
from multilevel.cli import INTERRUPTED

SPEC = """name = "ss-interrupt"
data = "sleepstudy"
formula = "Reaction ~ Days + (Days | Subject)"
method = "bayes"
[sampling]
tune = 200
seed = 7
"""
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _env(cache: Path) -> dict:
    env = dict(os.environ, MPLBACKEND="Agg", MULTILEVEL_CACHE_DIR=str(cache), PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("MULTILEVEL_CACHE", None)
    return env


def _hashes(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _wait_for(path: Path, text: str, proc, timeout: float) -> None:
    """Wait until the process has written ``text`` (PyMC's line when it hands the model
    to the sampler); should that line ever change, go on after ``timeout`` seconds, by
    when a fit of a million draws is sampling on any machine."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            pytest.fail(f"exited ({proc.returncode}) before {text!r}: {path.read_text()}")
        time.sleep(0.1)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def previous_run(tmp_path_factory):
    """A complete run of the spec (small), which also fills the compile cache, so the
    interrupted fits below start sampling within a second of PyMC's NUTS line."""
    root = tmp_path_factory.mktemp("interrupt")
    (root / "m.toml").write_text(SPEC)
    done = subprocess.run(
        [sys.executable, "-m", "multilevel.cli", "fit", "m.toml", "--out", "run", "--draws", "100",
         "--chains", "2", "--no-progress"],
        cwd=root, env=_env(root / "cache"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (root / "run" / "posterior.nc").exists()
    return root


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_signal_during_sampling_keeps_the_previous_run(previous_run, tmp_path, sig, code):
    out = tmp_path / "run"
    shutil.copytree(previous_run / "run", out)
    before = _hashes(out)
    err = tmp_path / "stderr.txt"
    with open(err, "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "multilevel.cli", "fit", str(previous_run / "m.toml"), "--out",
             str(out), "--draws", "1000000", "--chains", "2", "--no-progress"],
            cwd=tmp_path, env=_env(previous_run / "cache"), stdout=subprocess.DEVNULL, stderr=stderr)
        _wait_for(err, "NUTS[", proc, timeout=60)   # PyMC hands the model to nutpie
        time.sleep(3)                                   # cached compile: now mid-sampling
        assert proc.poll() is None, "the fit ended before it was interrupted"
        proc.send_signal(sig)
        proc.wait(timeout=60)
    text = err.read_text()
    assert proc.returncode == code, text
    assert text.splitlines()[-1] == INTERRUPTED
    assert text.count(INTERRUPTED) == 1 and "Traceback" not in text
    assert _hashes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "stderr.txt"]


@pytest.mark.slow
def test_ctrl_c_during_sampling_raises_keyboardinterrupt_from_python(previous_run, tmp_path):
    script = textwrap.dedent("""
        import sys
        import multilevel as ml
        try:
            fit = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", draws=1_000_000,
                         tune=200, chains=2, seed=7, progress=False)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
            sys.exit(7)
        print("returned a fit with", fit.posterior.sizes["draw"], "draws", flush=True)
    """)
    err = tmp_path / "stderr.txt"
    with open(err, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=stderr, text=True, env=_env(previous_run / "cache"))
        _wait_for(err, "NUTS[", proc, timeout=60)
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 7, (stdout, err.read_text())
    assert "KeyboardInterrupt" in stdout and "returned a fit" not in stdout


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see the fit running")
def test_ctrl_c_during_a_reml_fit_prints_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "ie.toml").write_text(
        'name = "insteval"\ndata = "InstEval"\nmethod = "reml"\n'
        'formula = "y ~ service + lectage + studage + (1 | s) + (1 | d) + (1 | dept:service)"\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "multilevel.cli", "fit", "ie.toml", "--out", "run"], cwd=tmp_path,
        env=_env(tmp_path / "cache"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 120
    while _cpu_seconds(proc.pid) < 4.0 and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.05)   # imports and data loading take ~2 s of CPU; the REML fit ~10 s more
    assert proc.poll() is None, "the fit ended before it was interrupted"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip() == INTERRUPTED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ie.toml"]


class _Posterior:
    def __init__(self, chains, draws):
        self.sizes = {"chain": chains, "draw": draws}


@pytest.mark.parametrize("chains, draws", [(4, 999), (3, 1000), (4, 0)])
def test_a_truncated_sample_is_an_interrupt_not_a_fit(chains, draws):
    settings = SamplingSettings(sampler="nutpie", draws=1000, tune=10, chains=4, seed=1,
                                target_accept=0.9)
    with pytest.raises(KeyboardInterrupt, match="sampling stopped"):
        check_complete({"posterior": _Posterior(chains, draws)}, settings)
    check_complete({"posterior": _Posterior(4, 1000)}, settings)


class _SwallowingSampler:
    """Does what PyMC's samplers do with Ctrl-C: swallow it, then go on with few draws."""

    def __init__(self, then):
        self.then = then

    def fit(self, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)   # the handler raises here
        except KeyboardInterrupt:
            pass
        if isinstance(self.then, Exception):
            raise self.then
        return self.then


@pytest.mark.parametrize("then", [ValueError("Not enough samples to build a trace."),
                                  {"posterior": _Posterior(4, 1000)}], ids=["fails", "returns"])
def test_an_interrupt_swallowed_by_the_sampler_still_stops_the_fit(then):
    from multilevel.bayes.sampling import run

    settings = SamplingSettings(sampler="pymc", draws=1000, tune=10, chains=4, seed=1,
                                target_accept=0.9)
    with pytest.raises(KeyboardInterrupt):
        run(_SwallowingSampler(then), settings, progress=False)
