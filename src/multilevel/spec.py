"""Model specs: a TOML file in ``models/`` → a validated :class:`ModelSpec`.

A spec is data, never code: every key is checked against the schema below, the
formula goes through the same name whitelist as any formula, and the data is a
shipped dataset name or a CSV/Parquet path relative to the spec file.

Example (``models/sleepstudy.toml``)::

    name = "sleepstudy-random-slopes"
    data = "sleepstudy"
    formula = "Reaction ~ Days + (Days | Subject)"
    family = "gaussian"
    method = "bayes"
    [priors]
    preset = "weakly-informative"
    [sampling]
    draws = 1000
    chains = 4
    seed = 20261122
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from multilevel.errors import SpecError

TOP_KEYS = {"name", "data", "formula", "family", "method", "description", "priors", "sampling",
            "report", "na", "weights", "link"}
SAMPLING_KEYS = {"draws": int, "tune": int, "chains": int, "seed": int, "sampler": str,
                 "target_accept": float, "progress": bool}
REPORT_KEYS = {"ci": float, "kind": str, "plots": bool}
METHODS = ("bayes", "reml", "ml")
DEFAULT_PRESET = "weakly-informative"  # Bambi's data-scaled defaults (priors=None)


@dataclass(frozen=True)
class ModelSpec:
    """A validated model spec.

    Attributes
    ----------
    name, data, formula, family, method : str
    weights : str or None
        A column of prior weights (lme4's ``weights=``).
    link : str or None
        R's link name (``probit``, ``cloglog``, ``log``, ...); None: the family's default.
    priors : dict
        The raw ``[priors]`` table (interpreted by :func:`multilevel.priors.from_spec`).
    sampling : dict
        Keyword arguments for :func:`multilevel.fit` (draws, tune, chains, seed, ...).
    report : dict
        ``ci`` (0.95) and ``kind`` ("eti" or "hdi") of the interval table.
    path : Path or None
        The file the spec came from (data paths are relative to it).
    """

    name: str
    data: str
    formula: str
    family: str = "gaussian"
    method: str = "bayes"
    na: str = "drop"
    weights: str | None = None
    link: str | None = None
    priors: dict = field(default_factory=dict)
    sampling: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    description: str = ""
    path: Path | None = None

    def load_data(self) -> pd.DataFrame:
        """The spec's data: a shipped dataset, or a CSV/Parquet file next to the spec."""
        from multilevel import datasets

        if self.data in datasets.names():
            return datasets.load(self.data)
        base = self.path.parent if self.path else Path.cwd()
        file = (base / self.data).resolve()
        if not file.exists():
            raise SpecError(
                f"Spec {self.name!r}: data {self.data!r} is neither a shipped dataset "
                f"({', '.join(datasets.names())}) nor a file (looked for {file})."
            )
        if file.suffix == ".csv":
            return pd.read_csv(file)
        if file.suffix in (".parquet", ".pq"):
            return pd.read_parquet(file)
        raise SpecError(f"Spec {self.name!r}: data file {file.name!r} must be .csv or .parquet.")

    def priors_argument(self):
        """The ``priors=`` argument for :func:`multilevel.fit` (None = weakly informative)."""
        if not self.priors or self.priors == {"preset": DEFAULT_PRESET}:
            return None
        if all(isinstance(v, dict) for v in self.priors.values()) and \
                not {"preset", "terms"} & set(self.priors):
            raise SpecError(
                f"Spec {self.name!r} names several prior sets ([priors.{'], [priors.'.join(self.priors)}]); "
                f"compare them with `multilevel compare-priors {self.path}`, or keep one [priors] table."
            )
        from multilevel import priors

        return priors.from_spec(self.priors)

    def fit_kwargs(self) -> dict:
        """Keyword arguments for :func:`multilevel.fit` (without formula and data)."""
        kwargs = {"method": self.method, "family": self.family, "na": self.na}
        kwargs.update({k: v for k, v in (("weights", self.weights), ("link", self.link)) if v is not None})
        if self.method == "bayes":
            kwargs["priors"] = self.priors_argument()
            kwargs.update(self.sampling)
        return kwargs


def load_spec(path: str | Path) -> ModelSpec:
    """Read and validate a TOML model spec.

    Raises
    ------
    SpecError
        Naming the file and the bad key or value, and listing the valid ones.
    """
    path = Path(path)
    if not path.exists():
        raise SpecError(f"No spec file {str(path)!r}.")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML ({exc}).") from None
    return parse_spec(raw, path=path)


def parse_spec(raw: dict, path: Path | None = None) -> ModelSpec:
    """Validate a spec given as a dict (the parsed TOML)."""
    where = str(path) if path else "spec"
    _check_keys(raw, TOP_KEYS, where)
    for key in ("data", "formula"):
        if key not in raw:
            raise SpecError(f"{where}: the key {key!r} is required.")
    strings = {k: raw[k] for k in ("name", "data", "formula", "family", "method", "description", "na",
                                   "weights", "link") if k in raw}
    for key, value in strings.items():
        if not isinstance(value, str):
            raise SpecError(f"{where}: {key!r} must be a string, got {value!r}.")
    method = strings.get("method", "bayes").lower()
    if method not in METHODS:
        raise SpecError(f"{where}: method {method!r} is not one of {', '.join(METHODS)}.")
    from multilevel.formula import check_family, parse_formula

    parse_formula(strings["formula"])  # FormulaError early, before any data is read
    family = check_family(strings.get("family", "gaussian"))
    from multilevel.predict.links import check_link

    check_link(family, strings.get("link"))   # SpecError-style early failure for a bad link
    sampling = _typed_table(raw.get("sampling", {}), SAMPLING_KEYS, f"{where} [sampling]")
    report = _typed_table(raw.get("report", {}), REPORT_KEYS, f"{where} [report]")
    priors = raw.get("priors", {})
    if not isinstance(priors, dict):
        raise SpecError(f"{where}: [priors] must be a table.")
    if method != "bayes" and priors:
        raise SpecError(f"{where}: [priors] only applies to method = 'bayes', not {method!r}.")
    name = strings.get("name") or (path.stem if path else "model")
    return ModelSpec(name=name, data=strings["data"], formula=strings["formula"], family=family,
                     method=method, na=strings.get("na", "drop"), priors=priors,
                     weights=strings.get("weights"), link=strings.get("link"),
                     sampling=sampling, report=report,
                     description=strings.get("description", ""), path=path)


def _check_keys(table: dict, allowed, where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise SpecError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}. "
            f"Valid keys: {', '.join(sorted(allowed))}."
        )


def _typed_table(table, schema: dict, where: str) -> dict:
    if not isinstance(table, dict):
        raise SpecError(f"{where} must be a table.")
    _check_keys(table, schema, where)
    out = {}
    for key, value in table.items():
        kind = schema[key]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise SpecError(f"{where}: {key!r} must be {kind.__name__}, got {value!r}.")
        out[key] = value
    return out
