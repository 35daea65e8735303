"""Nested records (JSON: a list of objects with nested objects and lists) → a long table
with one key column per level, ready for ``(1 | school/class)``; and back.

``path`` names the lists that make the levels: with ``path=["classes", "students"]``
each school record holds a list ``classes``, each class a list ``students``, and the
table has one row per student. Within a level, nested objects become columns joined
by ``sep`` (``teacher: {name: ...}`` → ``teacher_name``); fields below the top level
are prefixed with their level (``classes_teacher_name``, ``students_score``).

Key columns identify each level's groups: a field named in ``keys`` (checked to be
unique within its parent), or a generated ``<level>_id`` numbered 0, 1, ... across the
whole table (so ``(1 | classes_id)`` never merges two schools' classes). The report's
table is the schema; :func:`nest_records` uses it to rebuild the records.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from multilevel.errors import DataError
from multilevel.prepare.report import PrepReport, PrepResult

ROOT = "record"
# nested objects and levels deeper than this are refused (no recursion near Python's limit)
MAX_DEPTH = 50


def flatten_records(records, path=(), *, keys: dict | None = None, sep: str = "_") -> PrepResult:
    """Flatten nested records into a long table with group keys.

    Parameters
    ----------
    records : list of dict, or a JSON string of one
    path : sequence of str, or a dotted string
        The list fields that descend one level each (``["classes", "students"]`` or
        ``"classes.students"``); empty: one row per record.
    keys : dict, optional
        Level name (``"record"`` for the top level, else the list's name) → the field
        that identifies an item within its parent. Levels not named get ``<level>_id``.
    sep : str
        Joins nested object keys and level prefixes into column names.

    Returns
    -------
    PrepResult
        ``data``: one row per item of the deepest level (an item whose list is empty
        gives one row with missing child columns). ``report.table``: the schema, one row
        per column with ``level``, ``level_name``, ``source`` (the field's path inside
        its item, dotted) and ``kind`` (``key``, ``generated key``, ``value``, ``list``:
        lists that are not levels are kept as Python lists in their cells).

    Examples
    --------
    >>> import multilevel as ml
    >>> schools = [{"school": "A", "classes": [{"teacher": {"name": "T1"},
    ...             "students": [{"score": 3}, {"score": 5}]}]}]
    >>> data, report = ml.prepare.flatten_records(schools, "classes.students")
    >>> list(data.columns)
    ['record_id', 'school', 'classes_id', 'classes_teacher_name', 'students_id', 'students_score']
    >>> data["students_score"].tolist()
    [3, 5]
    """
    if isinstance(records, str):
        try:
            records = json.loads(records)
        except json.JSONDecodeError as exc:
            raise DataError(f"records is not valid JSON: {exc}") from None
        except RecursionError:
            raise DataError("records nest too deeply for JSON to read them.") from None
    if not isinstance(records, list):
        raise DataError(f"records must be a list of objects, got {type(records).__name__}.")
    path = [p for p in path.split(".") if p] if isinstance(path, str) else list(path)
    levels = [ROOT] + path
    if len(levels) > MAX_DEPTH:
        raise DataError(f"path has {len(path)} levels; at most {MAX_DEPTH - 1} are supported.")
    if len(set(levels)) != len(levels):
        raise DataError(f"Level names must differ: {levels}.")
    keys = dict(keys or {})
    unknown = [k for k in keys if k not in levels]
    if unknown:
        raise DataError(f"keys names level(s) {unknown}; the levels are {levels}.")
    schema: dict[str, tuple] = {}          # column → (level, level_name, source, kind)
    counters = [0] * len(levels)
    notes: list[str] = []
    rows: list[dict] = []

    def column(level: int, source: tuple, kind: str) -> str:
        if kind == "generated key":
            name = f"{levels[level]}{sep}id"
        else:
            name = sep.join((() if level == 0 else (levels[level],)) + source)
        entry = (level, levels[level], ".".join(source), kind)
        if schema.setdefault(name, entry) != entry:
            raise DataError(
                f"Two fields map to the column {name!r} ({schema[name][2]!r} at level "
                f"{schema[name][1]!r} and {entry[2]!r} at {entry[1]!r}); choose another sep=."
            )
        return name

    def walk(items, level: int, parent: dict, where: str):
        seen = set()
        for pos, item in enumerate(items):
            here = f"{where}[{pos}]"
            if not isinstance(item, dict):
                raise DataError(f"{here} is a {type(item).__name__}, not an object.")
            row = dict(parent)
            if levels[level] in keys:
                field = keys[levels[level]]
                if field not in item:
                    raise DataError(f"{here} has no key field {field!r}.")
                if item[field] in seen:
                    raise DataError(f"Key {field!r} = {item[field]!r} occurs twice in {where}; keys must "
                                    "be unique within their parent.")
                seen.add(item[field])
                row[column(level, (field,), "key")] = item[field]
            else:
                row[column(level, (), "generated key")] = counters[level]
                counters[level] += 1
            for name, value in _flat_fields(item, level, levels, keys):
                row[column(level, name, "list" if isinstance(value, list) else "value")] = value
            if level + 1 < len(levels):
                children = item.get(levels[level + 1], [])
                if not isinstance(children, list):
                    raise DataError(f"{here}.{levels[level + 1]} must be a list (a level), "
                                    f"got {type(children).__name__}.")
                if not children:
                    notes.append(f"{here} has no {levels[level + 1]}: one row with missing child columns")
                    rows.append(row)
                walk(children, level + 1, row, f"{here}.{levels[level + 1]}")
            else:
                rows.append(row)

    for level, name in enumerate(levels):   # key columns first, level by level
        column(level, (keys[name],) if name in keys else (), "key" if name in keys else "generated key")
    walk(records, 0, {}, "records")
    order = sorted(schema, key=lambda c: (schema[c][0], schema[c][3] in ("value", "list")))
    data = pd.DataFrame(rows, columns=order)
    table = pd.DataFrame([schema[c] for c in order], index=pd.Index(order, name="column"),
                         columns=["level", "level_name", "source", "kind"])
    lists = table.index[table["kind"] == "list"].tolist()
    if lists:
        notes.append(f"list fields that are not levels are kept as lists in their cells: {', '.join(lists)}")
    notes.append(f"{len(data)} rows; groups per level: "
                 + ", ".join(f"{lv} {n}" for lv, n in zip(levels, _group_counts(data, table, levels))))
    return PrepResult(data, PrepReport("flatten_records", table, notes))


def nest_records(data: pd.DataFrame, report: PrepReport) -> list[dict]:
    """Rebuild the nested records from a table made by :func:`flatten_records`.

    Parameters
    ----------
    data : DataFrame
        The flattened table (rows may be filtered; columns renamed are not found).
    report : PrepReport
        The report of the flattening: its table is the schema.

    Returns
    -------
    list of dict
        Missing values become absent fields; generated keys are dropped.

    Examples
    --------
    >>> import multilevel as ml
    >>> recs = [{"id": 1, "visits": [{"day": 1}, {"day": 2}]}]
    >>> data, report = ml.prepare.flatten_records(recs, ["visits"])
    >>> ml.prepare.nest_records(data, report) == recs
    True
    """
    if not isinstance(report, PrepReport) or report.step != "flatten_records":
        raise DataError("nest_records needs the report returned by flatten_records.")
    schema = report.table
    missing = [c for c in schema.index if c not in data.columns]
    if missing:
        raise DataError(f"Columns {missing} of the flattened schema are not in the data.")
    n_levels = int(schema["level"].max()) + 1
    names = [schema.loc[schema["level"] == lv, "level_name"].iloc[0] for lv in range(n_levels)]
    key_cols = [schema.index[(schema["level"] == lv) & schema["kind"].isin(["key", "generated key"])][0]
                for lv in range(n_levels)]

    def build(frame: pd.DataFrame, level: int) -> list[dict]:
        out = []
        key = key_cols[level]
        present = frame[key].notna().to_numpy()
        if not present.any():
            return out
        codes, _ = pd.factorize(frame[key][present], sort=False)
        sub = frame[present]
        for g in range(codes.max() + 1):
            part = sub[codes == g]
            item: dict = {}
            for col, (lv, _, source, kind) in schema.iterrows():
                if lv != level or kind == "generated key":
                    continue
                value = part[col].iloc[0]
                if _is_missing(value):
                    continue
                _set(item, source.split("."), _native(value))
            if level + 1 < n_levels:
                item[names[level + 1]] = build(part, level + 1)
            out.append(item)
        return out

    return build(data, 0)


def _flat_fields(item: dict, level: int, levels: list[str], keys: dict):
    """(source path, value) of an item's fields, nested objects expanded, child list and key skipped."""
    skip = {levels[level + 1]} if level + 1 < len(levels) else set()
    if levels[level] in keys:
        skip.add(keys[levels[level]])

    def expand(prefix: tuple, value, active: tuple):
        if isinstance(value, dict):
            if id(value) in active:
                raise DataError(f"Field {'.'.join(prefix)!r} contains itself (a cyclic record).")
            if len(prefix) > MAX_DEPTH:
                raise DataError(f"Field {'.'.join(prefix[:5])}... nests objects deeper than "
                                f"{MAX_DEPTH} levels; flatten it first or drop it.")
            for k, v in value.items():
                yield from expand(prefix + (str(k),), v, active + (id(value),))
        else:
            yield prefix, value

    for name, value in item.items():
        if name not in skip:
            yield from expand((str(name),), value, (id(item),))


def _group_counts(data: pd.DataFrame, table: pd.DataFrame, levels: list[str]) -> list[int]:
    counts = []
    for lv in range(len(levels)):
        keys = table.index[(table["level"] <= lv) & table["kind"].isin(["key", "generated key"])].tolist()
        counts.append(len(data[keys].dropna().drop_duplicates()) if keys else 0)
    return counts


def _set(item: dict, path: list[str], value) -> None:
    for part in path[:-1]:
        item = item.setdefault(part, {})
    item[path[-1]] = value


def _is_missing(value) -> bool:
    if isinstance(value, (list, dict)):
        return False
    return bool(pd.isna(value))


def _native(value):
    return value.item() if isinstance(value, np.generic) else value
