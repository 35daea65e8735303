"""Nested records → long table with group keys → nested records again."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import DataError


def _schools(n_schools=3, n_classes=3, n_students=4, seed=0):
    """Three levels, each with a nested object; one class with no students; list fields."""
    rng = np.random.default_rng(seed)
    out = []
    for s in range(n_schools):
        classes, school_effect = [], rng.normal(0, 15)
        for c in range(n_classes):
            mean = 50 + school_effect + rng.normal(0, 8)
            students = [{"name": f"s{s}{c}{i}", "score": int(mean + rng.normal(0, 5)),
                         "home": {"district": f"d{i % 2}", "distance": {"km": round(float(rng.random()), 3)}},
                         "tags": ["a", "b"][: i % 3]}
                        for i in range(0 if (s, c) == (1, 2) else n_students)]
            classes.append({"room": f"r{c}", "teacher": {"name": f"t{s}{c}", "years": c + 1},
                            "students": students})
        out.append({"school": f"S{s}", "address": {"city": f"city{s}"}, "public": s % 2 == 0,
                    "classes": classes})
    return out


def test_three_level_round_trip():
    records = _schools()
    original = copy.deepcopy(records)
    data, report = ml.prepare.flatten_records(records, ["classes", "students"])
    assert records == original                                    # input untouched
    assert len(data) == 3 * 3 * 4 - 4 + 1                         # one row for the empty class
    assert list(data.columns[:2]) == ["record_id", "school"]
    kinds = report.table["kind"]
    assert kinds[["record_id", "classes_id", "students_id"]].eq("generated key").all()
    assert kinds["students_tags"] == "list"
    assert report.table.loc["students_home_distance_km", "source"] == "home.distance.km"
    assert ml.prepare.nest_records(data, report) == records
    # generated keys are unique across the table: (1 | classes_id) never merges schools
    assert data.groupby("classes_id")["record_id"].nunique().eq(1).all()
    assert data["classes_id"].nunique() == 9
    assert "records[1].classes[2] has no students" in str(report)


def test_round_trip_with_natural_keys_and_json_text():
    records = _schools(seed=1)
    keys = {"record": "school", "classes": "room", "students": "name"}
    data, report = ml.prepare.flatten_records(json.dumps(records), "classes.students", keys=keys)
    assert "record_id" not in data and report.table.loc["classes_room", "kind"] == "key"
    assert ml.prepare.nest_records(data, report) == records


def test_flattened_table_fits_a_nested_model():
    data, _ = ml.prepare.flatten_records(_schools(n_schools=4, n_classes=4, n_students=6, seed=2),
                                         ["classes", "students"])
    data = data.dropna(subset=["students_score"])
    fit = ml.fit("students_score ~ 1 + (1 | record_id/classes_id)", data, method="reml")
    assert fit.nobs == len(data)


def test_missing_fields_become_missing_values():
    records = [{"id": 1, "visits": [{"day": 1, "bp": 120}, {"day": 2}]}]
    data, report = ml.prepare.flatten_records(records, ["visits"])
    assert np.isnan(data["visits_bp"].iloc[1])
    assert ml.prepare.nest_records(data, report) == records       # absent fields stay absent


@pytest.mark.parametrize("records, kwargs, match", [
    ([1, 2], {}, r"records\[0\] is a int"),
    ({"a": 1}, {}, "must be a list"),
    ("{not json", {}, "not valid JSON"),
    ([{"v": {"x": 1}, "v_x": 2}], {}, "Two fields map to the column 'v_x'"),
    ([{"kids": {"a": 1}}], {"path": ["kids"]}, r"records\[0\]\.kids must be a list"),
    ([{"k": 1, "kids": [{"n": 1}, {"n": 1}]}], {"path": ["kids"], "keys": {"kids": "n"}},
     "occurs twice"),
    ([{"k": 1}], {"keys": {"kid": "n"}}, r"level\(s\) \['kid'\]"),
    ([{"k": 1}], {"path": ["record"]}, "Level names must differ"),
])
def test_bad_records_are_refused_with_the_place(records, kwargs, match):
    with pytest.raises(DataError, match=match):
        ml.prepare.flatten_records(records, **kwargs)


def test_nest_needs_the_flatten_report():
    data, report = ml.prepare.flatten_records([{"a": 1}])
    with pytest.raises(DataError, match="report returned by flatten_records"):
        ml.prepare.nest_records(data, ml.prepare.impute(data).report)
    with pytest.raises(DataError, match=r"\['a'\]"):
        ml.prepare.nest_records(data.drop(columns="a"), report)
