"""The run-folder writer touches only folders it wrote itself (issue 18).

Each case was measured on main before the writer had an ownership rule: a spec's
``name`` was used as a path, ``--out`` replaced the project folder, files and links,
``--out .`` left a stray temporary folder, and concurrent writers raced.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import multilevel as ml
from multilevel.cli import main
from multilevel.errors import RunFolderError, SpecError
from multilevel.report.runs import MARKER, atomic_folder, check_target, is_run_folder
from multilevel.spec import load_spec, parse_spec

REML_SPEC = 'name = "{name}"\ndata = "{data}"\nformula = "Reaction ~ Days + (1 | Subject)"\nmethod = "reml"\n'


def _snapshot(folder: Path) -> dict:
    """Every file under ``folder`` (links not followed) with the SHA-256 of its bytes."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = Path(root, name)
            rel = str(path.relative_to(folder))
            out[rel] = ("link", os.readlink(path)) if path.is_symlink() else \
                hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with a spec, its CSV data and a notes file; cwd = tmp_path."""
    monkeypatch.chdir(tmp_path)
    proj = tmp_path / "proj"
    proj.mkdir()
    ml.datasets.load("sleepstudy").to_csv(proj / "data.csv", index=False)
    (proj / "notes.txt").write_text("my notes")
    (proj / "model.toml").write_text(REML_SPEC.format(name="ss", data="data.csv"))
    return proj


def _no_fit(monkeypatch):
    """Fail the test if the CLI starts fitting."""
    def fit(*args, **kwargs):
        raise AssertionError("the fit started before the output folder was checked")
    monkeypatch.setattr(ml, "fit", fit)


# ----------------------------------------------------------------- names are names
@pytest.mark.parametrize("name", ["/tmp/x", ".", "..", "a/b", "../up", "", "a\\b", "x" * 101,
                                  ".hidden", "a b", "ü"])
def test_spec_name_that_is_not_a_name_is_refused(name):
    with pytest.raises(SpecError, match="is not a name"):
        parse_spec({"name": name, "data": "sleepstudy", "formula": "Reaction ~ Days"})


@pytest.mark.parametrize("name", ["sleepstudy", "a.b_c-d", "v2", "x" * 100, "-dash"])
def test_spec_names_made_of_letters_digits_and_dot_dash_underscore_are_kept(name):
    assert parse_spec({"name": name, "data": "sleepstudy", "formula": "Reaction ~ Days"}).name == name


def test_spec_name_used_as_a_path_deletes_nothing(tmp_path, monkeypatch, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep")
    spec = tmp_path / "m.toml"
    spec.write_text(REML_SPEC.format(name=str(victim), data="sleepstudy"))
    monkeypatch.chdir(tmp_path)
    assert main(["fit", str(spec)]) == 1
    assert "is not a name" in capsys.readouterr().err
    assert (victim / "precious.txt").read_text() == "keep"
    spec.write_text(REML_SPEC.format(name=".", data="sleepstudy"))
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "other-run.txt").write_text("keep")
    assert main(["fit", str(spec)]) == 1
    assert (tmp_path / "runs" / "other-run.txt").read_text() == "keep"


def test_spec_without_name_gets_a_name_from_its_file(tmp_path):
    (tmp_path / "my model (v2).toml").write_text('data = "sleepstudy"\nformula = "Reaction ~ Days"\n')
    assert load_spec(tmp_path / "my model (v2).toml").name == "my-model--v2-"


# ------------------------------------------------------------- what --out refuses
def test_out_on_the_project_folder_is_refused_before_the_fit(project, monkeypatch, capsys):
    before = _snapshot(project)
    _no_fit(monkeypatch)
    assert main(["fit", str(project / "model.toml"), "--out", str(project)]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and str(project / "model.toml") in err
    assert _snapshot(project) == before


def test_out_on_an_ancestor_of_the_data_or_spec_is_refused(project, tmp_path, monkeypatch, capsys):
    data_dir = tmp_path / "shared-data"
    data_dir.mkdir()
    (project / "data.csv").rename(data_dir / "data.csv")
    (project / "model.toml").write_text(REML_SPEC.format(name="ss", data="../shared-data/data.csv"))
    _no_fit(monkeypatch)
    for out in (data_dir, tmp_path, project / "..", "proj"):
        assert main(["fit", str(project / "model.toml"), "--out", str(out)]) == 1
        assert "error:" in capsys.readouterr().err
    assert (data_dir / "data.csv").exists() and (project / "notes.txt").exists()


@pytest.mark.parametrize("out", [".", "..", "./", "proj/..", ""])
def test_out_dot_and_dotdot_are_refused_and_leave_no_temp_folder(project, tmp_path, monkeypatch,
                                                                 capsys, out):
    before = [sorted(p.name for p in folder.iterdir()) for folder in (tmp_path, tmp_path.parent)]
    _no_fit(monkeypatch)
    assert main(["fit", str(project / "model.toml"), "--out", out]) == 1
    assert "error:" in capsys.readouterr().err
    assert [sorted(p.name for p in folder.iterdir()) for folder in (tmp_path, tmp_path.parent)] == before


def test_out_on_a_file_a_symlink_or_a_foreign_directory_is_refused(project, tmp_path, monkeypatch,
                                                                   capsys):
    _no_fit(monkeypatch)
    file = tmp_path / "results.csv"
    file.write_text("a,b\n1,2\n")
    link = tmp_path / "link"
    link.symlink_to(project, target_is_directory=True)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("chapter 1")
    empty = tmp_path / "empty"
    empty.mkdir()
    before = _snapshot(tmp_path)
    for out, match in ((file, "existing file"), (link, "symbolic link"), (dangling, "symbolic link"),
                       (foreign, "did not write"), (empty, "did not write")):
        assert main(["fit", str(project / "model.toml"), "--out", str(out)]) == 1
        assert match in capsys.readouterr().err
    assert _snapshot(tmp_path) == before
    assert link.is_symlink() and dangling.is_symlink() and empty.is_dir()


def test_out_inside_a_file_is_refused_before_the_fit(project, tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("x")
    _no_fit(monkeypatch)
    assert main(["fit", str(project / "model.toml"), "--out", str(tmp_path / "afile" / "run")]) == 1
    assert "is a file" in capsys.readouterr().err


def test_out_without_write_permission_is_refused_before_the_fit(project, tmp_path, monkeypatch, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == locked
                        else real_access(p, mode, **kw))
    _no_fit(monkeypatch)
    assert main(["fit", str(project / "model.toml"), "--out", str(locked / "run")]) == 1
    err = capsys.readouterr().err
    assert "no write permission" in err and str(locked) in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_out_in_a_read_only_folder_is_refused_before_the_fit(project, tmp_path, monkeypatch, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    _no_fit(monkeypatch)
    assert main(["fit", str(project / "model.toml"), "--out", str(locked / "run")]) == 1
    assert "no write permission" in capsys.readouterr().err


def test_home_cwd_and_root_are_never_targets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for target in (Path.home(), tmp_path, Path("/"), Path.home().parent):
        with pytest.raises(RunFolderError):
            check_target(target)


# --------------------------------------------------------------- what it replaces
def test_cli_replaces_its_own_run_folder(project, tmp_path, capsys):
    out = tmp_path / "runs" / "ss"
    assert main(["fit", str(project / "model.toml"), "--out", str(out)]) == 0
    assert is_run_folder(out) and (out / "summary.csv").exists()
    (out / "summary.csv").write_text("stale")
    assert main(["fit", str(project / "model.toml"), "--out", str(out)]) == 0
    assert (out / "summary.csv").read_text() != "stale"
    assert sorted(p.name for p in out.parent.iterdir()) == ["ss"]
    capsys.readouterr()


def test_a_forged_or_linked_marker_does_not_make_a_run_folder(tmp_path):
    forged = tmp_path / "forged"
    forged.mkdir()
    (forged / MARKER).write_text("not json")
    linked = tmp_path / "linked"
    linked.mkdir()
    (tmp_path / "real-marker").write_text('{"writer": "multilevel"}')
    (linked / MARKER).symlink_to(tmp_path / "real-marker")
    for folder in (forged, linked):
        assert not is_run_folder(folder)
        with pytest.raises(RunFolderError, match="did not write"):
            check_target(folder)


def test_report_from_python_follows_the_same_rule(tmp_path):
    fit = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "a.txt").write_text("keep")
    with pytest.raises(RunFolderError):
        fit.report(tmp_path / "mine")
    assert (tmp_path / "mine" / "a.txt").read_text() == "keep"


def test_compare_out_goes_through_the_same_writer(project, tmp_path, monkeypatch, capsys):
    _no_fit(monkeypatch)
    other = project / "other.toml"
    other.write_text(REML_SPEC.format(name="other", data="data.csv"))
    before = _snapshot(project)
    assert main(["compare", str(project / "model.toml"), str(other), "--out", str(project)]) == 1
    assert "error:" in capsys.readouterr().err
    assert _snapshot(project) == before


def test_compare_priors_out_goes_through_the_same_writer(tmp_path, monkeypatch, capsys):
    import multilevel.sensitivity as sensitivity

    monkeypatch.setattr(sensitivity, "compare_priors", lambda *a, **k: pytest.fail("fitted"))
    spec = Path(__file__).resolve().parents[1] / "models" / "sleepstudy-priors.toml"
    (tmp_path / "keep.txt").write_text("x")
    assert main(["compare-priors", str(spec), "--out", str(tmp_path)]) == 1
    assert "did not write" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").exists()


# ------------------------------------------------------------- failure and races
def test_failure_inside_the_block_leaves_nothing_and_keeps_the_run(tmp_path):
    with atomic_folder(tmp_path / "run") as folder:
        (folder / "a.txt").write_text("first")
    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with atomic_folder(tmp_path / "run") as folder:
                (folder / "a.txt").write_text("half")
                raise exc
    assert (tmp_path / "run" / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def _writer(args):
    target, index = args
    with atomic_folder(target) as folder:
        for part in range(5):
            (folder / f"part{part}.txt").write_text(f"{index}")
            time.sleep(0.01)
    return index


def test_concurrent_writers_publish_whole_runs_and_leave_no_temp_folders(tmp_path):
    target = tmp_path / "run"
    with mp.get_context("fork").Pool(6) as pool:
        done = pool.map(_writer, [(target, i) for i in range(24)])
    assert sorted(done) == list(range(24))   # every writer succeeded: none lost or crashed
    contents = {(target / f"part{p}.txt").read_text() for p in range(5)}
    assert len(contents) == 1                # one whole run, never a mixture
    assert is_run_folder(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_temp_folders_of_a_killed_writer_are_swept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    orphan = tmp_path / ".run.tmp-abc123"
    orphan.mkdir()
    import socket

    (orphan / MARKER).write_text(f'{{"writer": "multilevel", "pid": {pid}, '
                                 f'"host": "{socket.gethostname()}"}}')
    foreign = tmp_path / ".run.tmp-notours"   # no marker: not ours, left alone
    foreign.mkdir()
    with atomic_folder(tmp_path / "run") as folder:
        (folder / "a.txt").write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.tmp-notours", "run"]


@pytest.mark.parametrize("target", ["x" * 300, "runs/" + "y" * 256 + "/z", "a\x00b"])
def test_impossible_folder_names_are_refused_before_any_work(tmp_path, monkeypatch, target):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RunFolderError):
        check_target(target)
    assert list(tmp_path.iterdir()) == []


def test_concurrent_cli_fits_into_one_out_all_finish_and_leave_one_whole_run(project, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src") + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    spec = project / "model.toml"
    spec.write_text(REML_SPEC.format(name="ss", data="data.csv") + "[report]\nplots = false\n")
    out = tmp_path / "runs" / "ss"
    procs = [subprocess.Popen([sys.executable, "-m", "multilevel.cli", "fit", str(spec), "--out",
                               str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    results = [(p.communicate(timeout=300)[1], p.returncode)[::-1] for p in procs]
    assert [code for code, _ in results] == [0, 0, 0], results
    assert is_run_folder(out)
    assert {"summary.csv", "report.md", "spec.toml"} <= {p.name for p in out.iterdir()}
    assert sorted(p.name for p in out.parent.iterdir()) == ["ss"]


# ------------------------------------------------------------------- property: any target
def _sandbox(root: Path) -> Path:
    proj = root / "proj"
    (proj / "sub").mkdir(parents=True)
    (proj / "model.toml").write_text("x")
    (proj / "data.csv").write_text("y\n1\n")
    (proj / "sub" / "notes.txt").write_text("n")
    (root / "file").write_text("f")
    (root / "link").symlink_to(proj, target_is_directory=True)
    (root / "empty").mkdir()
    with atomic_folder(root / "oldrun") as folder:
        (folder / "a.txt").write_text("old")
    return proj


def test_any_target_is_written_whole_or_refused_and_nothing_else_changes():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    parts = st.sampled_from([".", "..", "proj", "sub", "model.toml", "data.csv", "file", "link",
                             "empty", "oldrun", "new", "runs", "", " ", "a\\b", "ü", "x" * 260])
    targets = st.lists(parts, min_size=1, max_size=4).map("/".join)

    @hypothesis.settings(max_examples=150, deadline=None, database=None)
    @hypothesis.given(target=targets, absolute=st.booleans())
    def check(target, absolute):
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp, "1", "2", "3", "4", "cwd")   # four '..' stay inside tmp
            root.mkdir(parents=True)
            proj = _sandbox(root)
            cwd = os.getcwd()
            os.chdir(root)
            try:
                before = _snapshot(root)
                raw = str(root / target) if absolute else target
                protect = [proj / "model.toml", proj / "data.csv"]
                try:
                    path = check_target(raw, protect=protect)
                except RunFolderError:
                    assert _snapshot(root) == before
                    return
                with atomic_folder(raw, protect=protect) as folder:
                    (folder / "new.txt").write_text("new")
                assert is_run_folder(path) and (path / "new.txt").read_text() == "new"
                after = _snapshot(root)
                changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
                written = path.resolve()
                if written.is_relative_to(root.resolve()):   # only the new run's files changed
                    prefix = str(written.relative_to(root.resolve()))
                    assert all(k.startswith(prefix + os.sep) for k in changed), changed
                else:
                    assert not changed
                assert not any(p.name.startswith(".") and p.name != MARKER for p in path.parent.iterdir()
                               if p.name.startswith(f".{path.name}."))
            finally:
                os.chdir(cwd)

    check()
