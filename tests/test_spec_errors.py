"""Unreadable specs and data files, and wrong-typed settings, are clear MultilevelErrors.

Measured on main before: UnicodeDecodeError, IsADirectoryError, EmptyDataError,
ArrowInvalid, RecursionError and TypeError/ValueError escaped from the readers and
the samplers.
"""

from __future__ import annotations

import pandas as pd
import pytest

import multilevel as ml
from multilevel.cli import main
from multilevel.errors import DataError, FamilyError, FitError, FormulaError, MultilevelError, SpecError
from multilevel.spec import load_spec, parse_spec

GOOD = 'name = "m"\ndata = "{data}"\nformula = "y ~ x"\nmethod = "ml"\n'


def _spec(tmp_path, text: str | bytes, name: str = "m.toml"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------ the spec file
@pytest.mark.parametrize("content, match", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ('name = "caf\xe9"\n'.encode("latin-1"), "not UTF-8"),
    ("this is = = not toml", "not valid TOML"),
    # RecursionError in tomllib, or (once PyMC raised the recursion limit) the depth check
    ("a = " + "[" * 5000 + "]" * 5000, "nested (too deeply|more than)"),
    ("a = " + "{b=" * 3000 + "1" + "}" * 3000, "nested (too deeply|more than)"),
    ("a = " + "[" * 40 + "]" * 40, "nested more than"),
    ("x" * 1_100_000, "larger than"),
])
def test_unreadable_spec_files_are_spec_errors_naming_the_file(tmp_path, content, match):
    path = _spec(tmp_path, content)
    with pytest.raises(SpecError, match=match) as info:
        load_spec(path)
    assert str(path) in str(info.value)


def test_a_spec_that_is_a_directory_is_a_spec_error(tmp_path, capsys):
    (tmp_path / "models.toml").mkdir()
    with pytest.raises(SpecError, match="not a file"):
        load_spec(tmp_path / "models.toml")
    assert main(["fit", str(tmp_path / "models.toml")]) == 1
    assert "error:" in capsys.readouterr().err


def test_a_cyclic_spec_given_as_a_dict_is_refused_without_recursion():
    raw = {"data": "sleepstudy", "formula": "Reaction ~ Days", "priors": {}}
    raw["priors"]["terms"] = raw["priors"]
    with pytest.raises(SpecError, match="contains itself"):
        parse_spec(raw)
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(SpecError, match="nested more than"):
        parse_spec({"data": "sleepstudy", "formula": "Reaction ~ Days", "priors": deep})


# ------------------------------------------------------------------------ the data file
def _data_spec(tmp_path, data_name: str):
    return load_spec(_spec(tmp_path, GOOD.format(data=data_name)))


def test_data_path_that_is_a_directory_is_a_data_error(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(DataError, match="not a regular file") as info:
        _data_spec(tmp_path, "d.csv").load_data()
    assert "d.csv" in str(info.value)


@pytest.mark.parametrize("name, content, match", [
    ("empty.csv", b"", "is empty"),
    ("binary.csv", bytes(range(256)) * 10, "binary"),
    ("latin.csv", "y,x\n1,caf\xe9\n".encode("latin-1"), "not UTF-8"),
    ("header.csv", b"y,x\n", "no data rows"),
    ("bad.parquet", b"PAR1 this is not parquet at all PAR1", "cannot be read as Parquet"),
    ("empty.parquet", b"", "is empty"),
    ("ragged.csv", b'y,x\n1,2\n"unclosed,3\n', "cannot be read as CSV"),
])
def test_unreadable_data_files_are_data_errors_naming_the_file(tmp_path, name, content, match):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=match) as info:
        _data_spec(tmp_path, name).load_data()
    assert name in str(info.value)


def test_missing_data_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="neither a shipped dataset"):
        _data_spec(tmp_path, "nowhere.csv").load_data()


def test_a_corrupt_parquet_through_the_cli_is_one_error_line(tmp_path, capsys):
    (tmp_path / "d.parquet").write_bytes(b"garbage" * 100)
    path = _spec(tmp_path, GOOD.format(data="d.parquet"))
    assert main(["fit", str(path), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "d.parquet" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_a_good_csv_still_reads(tmp_path):
    pd.DataFrame({"y": [1.0, 2.0, 4.0], "x": [0, 1, 2]}).to_csv(tmp_path / "d.csv", index=False)
    assert _data_spec(tmp_path, "d.csv").load_data().shape == (3, 2)


# ------------------------------------------------------------- settings with wrong types
@pytest.mark.parametrize("sampling, match", [
    ({"seed": "1"}, "'seed' must be int"),
    ({"seed": 1.5}, "'seed' must be int"),
    ({"seed": -1}, "'seed' must be >= 0"),
    ({"draws": 0}, "'draws' must be >= 1"),
    ({"chains": True}, "'chains' must be int"),
    ({"tune": -5}, "'tune' must be >= 0"),
    ({"target_accept": 1.5}, "target_accept"),
    ({"target_accept": "high"}, "'target_accept' must be float"),
    ({"progress": "yes"}, "'progress' must be bool"),
])
def test_wrong_sampling_settings_in_a_spec_are_spec_errors(sampling, match):
    with pytest.raises(SpecError, match=match):
        parse_spec({"data": "sleepstudy", "formula": "Reaction ~ Days", "sampling": sampling})


@pytest.mark.parametrize("report, match", [({"ci": 95.0}, "'ci' must lie"),
                                           ({"kind": "hpd"}, "'kind' must be")])
def test_wrong_report_settings_in_a_spec_are_spec_errors(report, match):
    with pytest.raises(SpecError, match=match):
        parse_spec({"data": "sleepstudy", "formula": "Reaction ~ Days", "report": report})


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(seed="1"), FitError, "seed must be None or an integer"),
    (dict(seed=1.5), FitError, "seed must be None or an integer"),
    (dict(seed=-3), FitError, "seed must be None or an integer"),
    (dict(seed=True), FitError, "seed must be None or an integer"),
    (dict(draws="100"), FitError, "draws must be an integer"),
    (dict(chains=2.0), FitError, "chains must be an integer"),
    (dict(tune=None), FitError, "tune must be an integer"),
    (dict(progress="no"), FitError, "progress must be True or False"),
    (dict(sampler=1), FitError, "sampler must be a string"),
    (dict(target_accept="high"), FitError, "target_accept must be a number"),
    (dict(target_accept=float("nan")), FitError, "target_accept must be a number"),
    (dict(lkj_eta=-1), FitError, "lkj_eta must be a number > 0"),
    (dict(noncentered="maybe"), FitError, "noncentered must be"),
    (dict(check="yes"), FitError, "check must be True or False"),
    (dict(target_acept=0.9), FitError, "Unknown option.*'target_acept'.*target_accept"),
    (dict(method=3), MultilevelError, "Unknown method 3"),
    (dict(family=None), FamilyError, "family must be a string"),
    (dict(method="reml", maxeval="many"), FitError, "maxeval must be an integer"),
    (dict(method="reml", rhoend=-1.0), FitError, "rhoend must be a number"),
    (dict(method="ml", nAGQ=1.5), FitError, "nAGQ must be an integer"),
])
def test_wrong_typed_fit_arguments_are_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", **kwargs)


def test_a_formula_that_is_not_a_string_is_a_formula_error():
    with pytest.raises(FormulaError, match="formula must be a string"):
        ml.fit(123, "sleepstudy", method="reml")


def test_upper_case_suffixes_are_data_files(tmp_path):
    pd.DataFrame({"y": [1.0, 2.0, 4.0], "x": [0, 1, 2]}).to_csv(tmp_path / "D.CSV", index=False)
    assert _data_spec(tmp_path, "D.CSV").load_data().shape == (3, 2)


def test_numpy_integers_are_accepted_as_settings():
    import numpy as np

    fit = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml", seed=np.int64(3),
                 draws=np.int32(10), chains=np.int64(2), tune=np.uint8(5))
    assert fit.nobs == 180


def test_a_csv_with_a_byte_order_mark_keeps_its_first_column_name(tmp_path):
    (tmp_path / "d.csv").write_bytes("y,x\n1,0\n2,1\n4,2\n".encode("utf-8-sig"))
    assert list(_data_spec(tmp_path, "d.csv").load_data().columns) == ["y", "x"]
