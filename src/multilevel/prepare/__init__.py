"""Data preparation before fitting: missing values, outlier flags, encodings and
nested records. Every step returns the new data and a report of what it changed
(``data, report = ml.prepare.impute(df)``); no step removes rows.

Only pandas and numpy are used (no PyMC).
"""

from multilevel.prepare.encode import CategoryEncoder, frequency_encode, target_encode
from multilevel.prepare.missing import fill_forward, impute, unknown_level
from multilevel.prepare.nested import flatten_records, nest_records
from multilevel.prepare.outliers import OutlierReport, flag_outliers
from multilevel.prepare.report import PrepReport, PrepResult

__all__ = ["CategoryEncoder", "OutlierReport", "PrepReport", "PrepResult", "fill_forward",
           "flag_outliers", "flatten_records", "frequency_encode", "impute", "nest_records",
           "target_encode", "unknown_level"]
