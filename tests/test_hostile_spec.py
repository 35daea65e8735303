"""Hostile model specs, command lines and run folders (an adversarial sweep).

Each case was measured on main before its fix: a count of draws in the terabytes
aborted the process inside the sampler (``memory allocation ... failed``, no Python
error), a NUL or over-long data path or spec name ended in a raw ValueError/OSError
traceback, a damaged ``posterior.nc`` gave xarray's message over several lines or a
raw KeyError, a CSV with ``;`` or a duplicated header column was read silently wrong,
``--out "~"`` created a folder named ``~``, ``compare``'s and ``compare-priors``'
overrides were not checked before fitting (and ``compare-priors`` dropped the spec's
link, weights, ``na`` and ``[data2]``). No case samples: everything is refused before.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel import cli
from multilevel.cli import main
from multilevel.errors import DataError, MultilevelError, RunFolderError, SpecError
from multilevel.report.runs import atomic_folder, check_target
from multilevel.spec import load_spec, parse_spec, read_table

REML = 'data = "sleepstudy"\nformula = "Reaction ~ Days + (1 | Subject)"\nmethod = "reml"\n'
BAYES = 'data = "sleepstudy"\nformula = "Reaction ~ Days + (1 | Subject)"\nmethod = "bayes"\n'
TWO_PRIORS = '[priors.a]\npreset = "ridge"\n[priors.b]\npreset = "lasso"\n'


def _one_error_line(capsys, code: int, match: str) -> str:
    """The CLI failed with status 1 and printed exactly one ``error:`` line matching ``match``."""
    err = capsys.readouterr().err
    assert code == 1, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    import re

    assert re.search(match, lines[0]), lines[0]
    return lines[0]


@pytest.fixture
def no_fit(monkeypatch):
    """A tripwire for the engines: every case here must be refused before any fit (a fit
    with the hostile settings would sample, or abort the process)."""
    def tripwire(*args, **kwargs):
        raise AssertionError("a fit ran before the input was checked")

    monkeypatch.setattr(ml, "fit", tripwire)
    monkeypatch.setattr("multilevel.sensitivity.compare_priors", tripwire)


# ------------------------------------------------------------------ spec files and keys
@pytest.mark.parametrize("content, match", [
    ('data = ""\nformula = "Reaction ~ Days"\n', r"'data' must name a shipped dataset or a CSV"),
    ('data = "   "\nformula = "Reaction ~ Days"\n', r"'data' must name .*got '   '"),
    ('data = "a\\u0000.csv"\nformula = "Reaction ~ Days"\n', r"'data' must name .*'a\\x00.csv'"),
    ('data = "' + "a" * 5000 + '.csv"\nformula = "Reaction ~ Days"\nmethod = "reml"\n',
     r"'data' must name .*at most 255 bytes between slashes\); got 'a{100}"),
    (REML.replace("(1 | Subject)", "(1 | gr(Subject, cov = A))") + 'data2 = { A = "a\\u0000.csv" }\n',
     r"\[data2\] must be a table of names and file paths .*no NUL character"),
    (REML.replace("(1 | Subject)", "(1 | gr(Subject, cov = A))") + 'data2 = { A = "' + "a" * 300 + '" }\n',
     r"\[data2\] must be .*at most 255 bytes between slashes"),
    (BAYES + "[sampling]\ndraws = 1000000000000\n",
     r"\[sampling\]: 'draws' must be <= 10,000,000, got 1,000,000,000,000"),
    (BAYES + "[sampling]\ntune = 100000000\n", r"'tune' must be <= 10,000,000"),
    (BAYES + "[sampling]\nchains = 100000\n", r"'chains' must be <= 1,000, got 100,000"),
    (BAYES + "[sampling]\nseed = 1180591620717411303424\n",
     r"'seed' must be <= 9,223,372,036,854,775,807, .*TOML integers are 64-bit"),
    (REML + 'formla = "y ~ x"\n', r"unknown key\(s\) 'formla' \('formla': did you mean 'formula'\?\)\. Valid"),
    (BAYES + "[sampling]\ndraw = 10\nzzz = 1\n",
     r"\[sampling\]: unknown key\(s\) 'draw', 'zzz' \('draw': did you mean 'draws'\?\)\. Valid"),
    (REML + "[report]\nplot = false\n", r"\('plot': did you mean 'plots'\?\)"),
    (REML + "[sampling]\ndraws = 500\nseed = 1\n",
     r"\[sampling\] only applies to method = 'bayes', not 'reml' \(which does not sample\); "
     + r"remove 'draws', 'seed'"),
    (BAYES + "[priors.terms]\nDays = 3\n", r"\[priors\.terms\] Days = 3 is not a prior; give a table"),
    (BAYES + "[priors.terms]\nDays = [0, 1]\n", r"Days = \[0, 1\] is not a prior"),
    (REML + "data2 = [1]\n", r'e\.g\. data2 = \{ A = "A\.csv" \}\.$'),   # not {{ }}
    (REML.encode("utf-16"), r"is UTF-16 text; save it as UTF-8 TOML"),
])
def test_bad_spec_values_are_one_error_line_naming_the_key(tmp_path, monkeypatch, capsys, no_fit,
                                                          content, match):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "m.toml"
    spec.write_bytes(content if isinstance(content, bytes) else content.encode())
    _one_error_line(capsys, main(["fit", str(spec), "--out", "run"]), match)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.toml"]   # nothing written


def test_a_number_stays_a_valid_prior_for_a_group_sd_held_fixed():
    from multilevel.priors.spec import from_spec

    assert from_spec({"terms": {"sd__(Intercept)|Subject": 5}}) == {"sd__(Intercept)|Subject": 5}


def test_a_spec_with_a_utf8_byte_order_mark_reads(tmp_path):
    (tmp_path / "m.toml").write_bytes("\ufeff".encode() + REML.encode())
    assert load_spec(tmp_path / "m.toml").method == "reml"


@pytest.mark.parametrize("name, make, match", [
    ("pipe.toml", os.mkfifo, r"is not a file \(a folder, a pipe or a device\?\)"),
    ("a" * 300 + ".toml", None, r"Cannot read spec '.*a{50}.*File name too long"),
])
def test_spec_paths_that_are_not_files_are_one_error_line(tmp_path, capsys, name, make, match):
    path = tmp_path / name
    if make is not None:
        make(path)
    _one_error_line(capsys, main(["fit", str(path)]), match)


# ------------------------------------------------------------------ command-line overrides
@pytest.mark.parametrize("argv, match", [
    (["fit", "{bayes}", "--draws", str(10**12)], r"^error: --draws must be <= 10,000,000"),
    (["fit", "{bayes}", "--chains", "5000"], r"^error: --chains must be <= 1,000, got 5,000"),
    (["compare", "{bayes}", "{reml}", "--draws", str(10**12)], r"--draws must be <= 10,000,000"),
    (["compare", "{bayes}", "{reml}", "--seed", "-1"], r"--seed must be >= 0, got -1"),
    (["fit", "{bayes}", "--seed", str(2**64)], r"--seed must be <= 9,223,372,036,854,775,807"),
    (["compare", "{bayes}", "{reml}", "--high-k", "reloo", "--refit-chains", "100000"],
     r"--refit-chains must be <= 1,000"),
    (["compare", "{bayes}", "{reml}", "--high-k", "kfold", "--refit-draws", "0"],
     r"--refit-draws must be >= 1, got 0"),
    (["compare", "{reml}", "{reml2}", "--high-k", "kfold", "--group-by", "nosuch"],
     r"--high-k, --group-by: no spec here samples, so there is no LOO for these options"),
    (["compare", "{reml}", "{reml2}", "--high-k", "reloo"], r"--high-k: no spec here samples"),
    (["compare", "{bayes}", "{reml}", "--high-k", "kfold", "--k-folds", "1"],
     r"--k-folds must be at least 2, got 1"),
    (["compare-priors", "{priors}", "--draws", str(10**12)], r"--draws must be <= 10,000,000"),
    (["compare-priors", "{priors}", "--chains", "0"], r"--chains must be >= 1, got 0"),
])
def test_overrides_out_of_bounds_are_refused_before_any_fit(tmp_path, monkeypatch, capsys, no_fit,
                                                            argv, match):
    monkeypatch.chdir(tmp_path)
    files = {"bayes": BAYES + 'name = "b"\n', "reml": REML + 'name = "r"\n',
             "reml2": REML.replace("(1 | Subject)", "(Days | Subject)") + 'name = "r2"\n',
             "priors": BAYES + TWO_PRIORS}
    for key, text in files.items():
        (tmp_path / f"{key}.toml").write_text(text)
    argv = [a.format(**{k: f"{k}.toml" for k in files}) for a in argv]
    _one_error_line(capsys, main(argv), match)
    assert not (tmp_path / "runs").exists()


def test_compare_priors_fits_with_the_specs_link_weights_na_and_data2(tmp_path, monkeypatch, capsys):
    (tmp_path / "m.toml").write_text(
        'data = "cbpp"\nformula = "incidence / size ~ period + (1 | herd)"\nfamily = "binomial"\n'
        'link = "probit"\nweights = "size"\nna = "error"\n[sampling]\ndraws = 50\n' + TWO_PRIORS)
    seen = {}

    def capture(formula, data, priors, **settings):
        seen.update(settings, priors=sorted(priors))
        raise MultilevelError("stop here")

    monkeypatch.setattr("multilevel.sensitivity.compare_priors", capture)
    _one_error_line(capsys, main(["compare-priors", str(tmp_path / "m.toml"), "--seed", "3",
                                  "--out", str(tmp_path / "out")]), "stop here")
    assert seen["priors"] == ["a", "b"] and seen["family"] == "binomial"
    assert (seen["link"], seen["weights"], seen["na"]) == ("probit", "size", "error")
    assert (seen["draws"], seen["seed"]) == (50, 3)


@pytest.mark.parametrize("command", ["compare", "compare-priors"])
def test_compare_never_replaces_a_run_folder_holding_a_data2_file(tmp_path, monkeypatch, capsys, command):
    monkeypatch.chdir(tmp_path)
    with atomic_folder(tmp_path / "runs" / "old") as folder:   # a run folder of ours ...
        (folder / "A.csv").write_text("1,0\n0,1\n")            # ... that holds the matrix
    formula = 'formula = "Reaction ~ Days + (1 | gr(Subject, cov = A))"\ndata2 = { A = "runs/old/A.csv" }\n'
    (tmp_path / "a.toml").write_text(BAYES.replace('formula = "Reaction ~ Days + (1 | Subject)"\n', formula)
                                     + ('name = "a"\n' if command == "compare" else TWO_PRIORS))
    (tmp_path / "b.toml").write_text(REML + 'name = "b"\n')
    specs = ["a.toml", "b.toml"] if command == "compare" else ["a.toml"]
    _one_error_line(capsys, main([command, *specs, "--out", "runs/old"]),
                    r"Run folder 'runs/old' holds a file this run reads \(.*A\.csv\)")
    assert (tmp_path / "runs" / "old" / "A.csv").read_text() == "1,0\n0,1\n"


@pytest.mark.parametrize("out", ["~", "~/runs/m", "~user"])
def test_an_unexpanded_tilde_is_not_made_a_folder(tmp_path, monkeypatch, capsys, out):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.toml").write_text(REML)
    _one_error_line(capsys, main(["fit", "m.toml", "--out", out]),
                    r"starts with '~', which was not expanded to the home directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.toml"]
    with pytest.raises(RunFolderError, match="starts with '~'"):
        check_target(out)


# ------------------------------------------------------------------ data files
@pytest.mark.parametrize("text, match", [
    ("Reaction;Days;Subject\n1;0;a\n2;1;b\n", r"is separated by ';', not commas"),
    ("Reaction\tDays\tSubject\n1\t0\ta\n2\t1\tb\n", r"is separated by '\\t', not commas"),
    ("y,x,y\n1,0,5\n2,1,6\n", r"names the column\(s\) 'y' more than once in its header"),
    ('"x","y","x"\n1,0,5\n2,1,6\n', r"names the column\(s\) 'x' more than once"),
])
def test_csv_files_pandas_would_misread_are_data_errors(tmp_path, capsys, text, match):
    (tmp_path / "d.csv").write_text(text)
    with pytest.raises(DataError, match=match):
        read_table(tmp_path / "d.csv")
    (tmp_path / "m.toml").write_text('data = "d.csv"\nformula = "y ~ x"\nmethod = "ml"\n')
    _one_error_line(capsys, main(["fit", str(tmp_path / "m.toml"), "--out", str(tmp_path / "o")]), match)


def test_csv_files_with_blank_index_columns_or_a_semicolon_in_a_value_still_read(tmp_path):
    (tmp_path / "a.csv").write_text(",,y\n0,0,1\n1,1,2\n")      # two unnamed index columns
    assert list(read_table(tmp_path / "a.csv").columns) == ["Unnamed: 0", "Unnamed: 1", "y"]
    (tmp_path / "b.csv").write_text('note\n"a;b"\n"c"\n')       # one column, ';' in a value
    assert read_table(tmp_path / "b.csv")["note"].tolist() == ["a;b", "c"]


# ------------------------------------------------------------------ damaged run folders
def _run_folder(root: Path, nc: bytes | dict | None) -> Path:
    folder = root / "run"
    folder.mkdir()
    (folder / "spec.toml").write_text(BAYES)
    if isinstance(nc, bytes):
        (folder / "posterior.nc").write_bytes(nc)
    elif isinstance(nc, dict):
        import xarray as xr

        xr.DataTree.from_dict(nc).to_netcdf(folder / "posterior.nc")
    return folder


def _groups(posterior: bool = True, observed: bool = True) -> dict:
    import xarray as xr

    y = ml.datasets.load("sleepstudy")["Reaction"].to_numpy()
    out = {}
    if posterior:   # draws of a parameter the spec's model does not have
        out["posterior"] = xr.Dataset({"foo": (("chain", "draw"), np.zeros((1, 4)))})
    if observed:
        out["observed_data"] = xr.Dataset({"Reaction": (("__obs__",), y)})
    return out


@pytest.mark.parametrize("nc, match", [
    (b"", r"Cannot read '.*posterior\.nc' as a posterior \(.*\); the file is damaged\. Fit again"),
    (b"garbage" * 100, r"as a posterior \(did not find a match .*\); the file is damaged"),
    (b"\x89HDF\r\n\x1a\n" + bytes(200), r"as a posterior \(.*\); the file is damaged"),
    (lambda: _groups(posterior=False), r"has no posterior group, so it is not a posterior"),
    (lambda: _groups(observed=False), r"has no observed_data group"),
    (lambda: _groups(), r"The draws in '.*posterior\.nc' are not those of the model in its spec\.toml"),
])
def test_a_damaged_posterior_is_one_error_line_for_show_and_a_spec_error_for_load_run(
        tmp_path, capsys, nc, match):
    folder = _run_folder(tmp_path, nc() if callable(nc) else nc)
    _one_error_line(capsys, main(["show", str(folder)]), match)
    with pytest.raises(SpecError, match=match):
        ml.load_run(folder)


# ------------------------------------------------------------------ the CLI's last line of defence
@pytest.mark.parametrize("raised, expected", [
    (SpecError("first line\n  second line\nhttps://example.org"),
     "error: first line second line https://example.org"),
    (OSError(errno.ENOSPC, "No space left on device", "runs/m/posterior.nc"),
     "error: No space left on device (runs/m/posterior.nc)."),
    (PermissionError(errno.EACCES, "Permission denied"), "error: Permission denied."),
])
def test_errors_print_as_one_line_without_a_traceback(monkeypatch, capsys, raised, expected):
    def command(args):
        raise raised

    monkeypatch.setattr(cli, "_cmd_datasets", command)
    assert main(["datasets"]) == 1
    assert capsys.readouterr().err == expected + "\n"


def test_parse_spec_bounds_match_the_command_line_bounds():
    with pytest.raises(SpecError, match=r"'draws' must be <= 10,000,000"):
        parse_spec({"data": "sleepstudy", "formula": "Reaction ~ Days",
                    "sampling": {"draws": 10_000_001}})
    spec = parse_spec({"data": "sleepstudy", "formula": "Reaction ~ Days",
                       "sampling": {"draws": 10_000_000, "chains": 1000, "tune": 0}})
    assert spec.sampling == {"draws": 10_000_000, "chains": 1000, "tune": 0}


@pytest.mark.parametrize("formula, data, term, mu, match", [
    ("Reaction ~ Days + (1 | Subject)", "sleepstudy", "Days", [0, 1, 2],
     r"The prior of 'Days' gives mu 3 values, but 'Days' has 1 coefficient\(s\)"),
    ("incidence / size ~ period + (1 | herd)", "cbpp", "period", [0, 0],
     r"gives mu 2 values, but 'period' has 3 coefficient\(s\)"),
    ("incidence / size ~ period + (1 | herd)", "cbpp", "period", [0, 0, 0], None),   # one per column
])
def test_a_prior_array_of_the_wrong_length_names_the_term(formula, data, term, mu, match):
    """Bambi's own failure was a ValueError about a dot product's shapes, naming nothing."""
    from multilevel.bayes.model import build_model
    from multilevel.errors import PriorError

    options = {"family": "binomial", "weights": "size"} if data == "cbpp" else {}
    priors = {term: ml.priors.Prior("Normal", mu=mu, sigma=1)}
    if match is None:
        build_model(formula, ml.datasets.load(data), priors=priors, **options)
        return
    with pytest.raises(PriorError, match=match):
        build_model(formula, ml.datasets.load(data), priors=priors, **options)


@pytest.mark.parametrize("path, data, match", [
    (42, None, r"load_run needs the path of a run folder \(a string or a Path\), got 42"),
    (None, None, r"got None"),
    ("a\x00b", None, r"got 'a\\x00b'"),
    ("runs/x", 42, r"load_run's data must be a pandas DataFrame .*got int"),
])
def test_load_run_refuses_arguments_that_are_not_a_folder_or_data(path, data, match):
    with pytest.raises(SpecError, match=match):
        ml.load_run(path, data=data)


@pytest.mark.parametrize("formula", ["Reaction ~ I('a' * 10**10)", 'Reaction ~ Days + I(10**10 * "a")'])
def test_a_formula_cannot_repeat_a_string_into_gigabytes(formula):
    """formulae evaluated I('a' * 10**10) and built a 10 GB string before failing."""
    from multilevel.errors import FormulaError

    with pytest.raises(FormulaError, match=r"A string cannot be multiplied in a formula"):
        parse_spec({"data": "sleepstudy", "formula": formula, "method": "reml"})


@pytest.mark.parametrize("formula", ["Reaction ~ bs(Days, df = 100000)", "Reaction ~ bs(Days, 181)"])
def test_a_spline_basis_wider_than_the_rows_is_refused_before_it_is_built(formula):
    """formulae's bs(Days, df = 100000) ran for over a minute (quadratic in df)."""
    from multilevel.errors import FormulaError

    with pytest.raises(FormulaError, match=r"asks for more basis columns than the model's 180 rows"):
        ml.fit(formula, "sleepstudy", method="reml")


@pytest.mark.parametrize("setting", ["draws", "tune", "chains"])
def test_python_fits_refuse_counts_no_sampler_can_hold(setting):
    """ml.fit from Python has the spec's bounds (a larger count aborted the process in nutpie)."""
    from multilevel.bayes.sampling import MAX_SETTINGS
    from multilevel.errors import FitError
    from multilevel.spec import SAMPLING_MAX

    assert MAX_SETTINGS[setting] == SAMPLING_MAX[setting]
    with pytest.raises(FitError, match=setting):
        ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="bayes",
               **{setting: MAX_SETTINGS[setting] + 1})
