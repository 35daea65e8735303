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

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from multilevel.errors import DataError, SpecError

TOP_KEYS = {"name", "data", "formula", "family", "method", "description", "priors", "sampling",
            "report", "na", "weights", "link", "data2"}
SAMPLING_KEYS = {"draws": int, "tune": int, "chains": int, "seed": int, "sampler": str,
                 "target_accept": float, "progress": bool}
REPORT_KEYS = {"ci": float, "kind": str, "plots": bool, "ddf": str,  # ddf: REML/ML LMMs
               "x": str, "rope": list}   # x: the group panels' axis; rope: [lo, hi], bayes
METHODS = ("bayes", "reml", "ml")
DEFAULT_PRESET = "weakly-informative"  # Bambi's data-scaled defaults (priors=None)
# A spec's name names its run folder (runs/<name>): a name, never a path.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
MAX_SPEC_BYTES = 1_000_000
MAX_DEPTH = 32   # nesting of tables/arrays in a spec (priors use 3)
SAMPLING_MIN = {"draws": 1, "tune": 0, "chains": 1, "seed": 0}
# far beyond any real run; a larger count made the sampler ask for terabytes and abort the
# process (nutpie's allocation failure is not an exception), so it is refused before the fit
SAMPLING_MAX = {"draws": 10_000_000, "tune": 10_000_000, "chains": 1_000,
                "seed": 2**63 - 1}   # seed: TOML's integers are 64-bit (the run's spec.toml)


@dataclass(frozen=True)
class ModelSpec:
    """A validated model spec.

    Attributes
    ----------
    name, data, family, method : str
    formula : str or list of str
        The response's formula, or a list with formulas of auxiliary parameters
        (``formula = ["y ~ x + (1 | g)", "sigma ~ x"]``, a distributional model).
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
    formula: str | list[str]
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
    data2: dict = field(default_factory=dict)   # name -> file of a known covariance matrix

    def input_paths(self) -> list[Path]:
        """Every file a run of the spec reads (the spec, its data, its ``[data2]`` files):
        a run folder may neither be one of them nor hold one."""
        return [p for p in (self.path, self.data_path(), *self.data2_paths().values()) if p is not None]

    def data2_paths(self) -> dict[str, Path]:
        """The ``[data2]`` files (absolute), resolved relative to the spec's folder."""
        base = self.path.parent if self.path else Path.cwd()
        return {key: (base / value).resolve() for key, value in self.data2.items()}

    def load_data2(self) -> dict | None:
        """The ``[data2]`` matrices (:func:`multilevel.formula.known.read_matrix`), or None."""
        if not self.data2:
            return None
        from multilevel.formula.known import read_matrix

        return {key: read_matrix(file, key) for key, file in self.data2_paths().items()}

    def data_path(self) -> Path | None:
        """The data file (absolute), or ``None`` for a shipped dataset."""
        from multilevel import datasets

        if self.data in datasets.names():
            return None
        base = self.path.parent if self.path else Path.cwd()
        return (base / self.data).resolve()

    def load_data(self) -> pd.DataFrame:
        """The spec's data: a shipped dataset, or a CSV/Parquet file next to the spec.

        Raises
        ------
        SpecError
            The file is missing or not .csv/.parquet.
        DataError
            The file cannot be read as a table (a folder, empty, binary, corrupt).
        """
        from multilevel import datasets

        file = self.data_path()
        if file is None:
            return self._checked(datasets.load(self.data))
        try:
            exists = file.exists()
        except OSError as exc:   # a name too long for the file system
            raise SpecError(f"Spec {self.name!r}: data {self.data[:200]!r} cannot be used as a file "
                            f"name ({exc.strerror or exc}); give a shorter path.") from None
        if not exists:
            raise SpecError(
                f"Spec {self.name!r}: data {self.data!r} is neither a shipped dataset "
                f"({', '.join(datasets.names())}) nor a file (looked for {file})."
            )
        if file.suffix.lower() not in (".csv", ".parquet", ".pq"):
            raise SpecError(f"Spec {self.name!r}: data file {file.name!r} must be .csv or .parquet.")
        return self._checked(read_table(file))

    def _checked(self, data: pd.DataFrame) -> pd.DataFrame:
        """``[report] x`` must be numeric in the data: refused before any fitting."""
        x = self.report.get("x")
        if x in data.columns and (not pd.api.types.is_numeric_dtype(data[x]) or data[x].dtype == bool):
            raise SpecError(f"Spec {self.name!r} [report] x = {x!r} is not a numeric column "
                            f"({data[x].dtype}); give a numeric predictor for the group panels' x axis.")
        return data

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

    def fit_kwargs(self, priors: bool = True) -> dict:
        """Keyword arguments for :func:`multilevel.fit` (without formula and data);
        ``priors=False`` leaves ``priors`` out (``compare-priors`` gives each of its sets)."""
        kwargs = {"method": self.method, "family": self.family, "na": self.na}
        kwargs.update({k: v for k, v in (("weights", self.weights), ("link", self.link)) if v is not None})
        if self.data2:
            kwargs["data2"] = self.load_data2()
        if self.method == "bayes":
            if priors:
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
    try:
        exists, is_file = path.exists(), path.is_file()
    except (OSError, ValueError) as exc:   # a name too long for the file system
        raise SpecError(f"Cannot read spec {str(path)[:200]!r}: "
                        f"{getattr(exc, 'strerror', None) or exc}.") from None
    if not exists:
        raise SpecError(f"No spec file {str(path)!r}.")
    if not is_file:
        raise SpecError(f"Spec {str(path)!r} is not a file (a folder, a pipe or a "
                        "device?); give a TOML file, e.g. models/sleepstudy.toml.")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"Cannot read spec {str(path)!r}: {exc.strerror or exc}.") from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"Spec {str(path)!r} is larger than {MAX_SPEC_BYTES:,} bytes; a model "
                        "spec is a short TOML file. Check that the right file was given.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpecError(f"Spec {str(path)!r} is UTF-16 text; save it as UTF-8 TOML.")
    if b"\x00" in data:
        raise SpecError(f"Spec {str(path)!r} is a binary file, not a TOML text file.")
    try:
        text = data.decode("utf-8-sig")   # a byte order mark (Windows editors) is not TOML
    except UnicodeDecodeError as exc:
        raise SpecError(f"Spec {str(path)!r} is not UTF-8 text (byte {exc.start}); save it as "
                        "UTF-8 TOML.") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML ({exc}).") from None
    except RecursionError:
        raise SpecError(f"{path}: tables or arrays nested too deeply to read; a spec nests at "
                        f"most {MAX_DEPTH} levels.") from None
    return parse_spec(raw, path=path)


def parse_spec(raw: dict, path: Path | None = None) -> ModelSpec:
    """Validate a spec given as a dict (the parsed TOML)."""
    where = str(path) if path else "spec"
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: a spec is a table of keys, got {type(raw).__name__}.")
    _check_depth(raw, where)
    _check_keys(raw, TOP_KEYS, where)
    for key in ("data", "formula"):
        if key not in raw:
            raise SpecError(f"{where}: the key {key!r} is required.")
    formula = raw["formula"]
    if isinstance(formula, list):   # distributional: ["y ~ x", "sigma ~ x"]
        if not formula or not all(isinstance(f, str) for f in formula):
            raise SpecError(f"{where}: 'formula' must be a string or a list of strings such as "
                            f"['y ~ x + (1 | g)', 'sigma ~ x'], got {formula!r}.")
        formula = formula[0] if len(formula) == 1 else list(formula)
    strings = {k: raw[k] for k in ("name", "data", "formula", "family", "method", "description", "na",
                                   "weights", "link") if k in raw and not (k == "formula" and isinstance(formula, list))}
    for key, value in strings.items():
        if not isinstance(value, str):
            raise SpecError(f"{where}: {key!r} must be a string, got {value!r}.")
    if not _usable_path(strings["data"]):
        raise SpecError(f"{where}: 'data' must name a shipped dataset or a CSV/Parquet file next "
                        f"to the spec, e.g. data = \"sleepstudy\" or data = \"data.csv\" ({PATH_RULE}); "
                        f"got {strings['data'][:200]!r}.")
    method = strings.get("method", "bayes").lower()
    if method not in METHODS:
        raise SpecError(f"{where}: method {method!r} is not one of {', '.join(METHODS)}.")
    from multilevel.formula import check_family, parse_formula
    from multilevel.formula.distributional import main_formula, split_formulas

    parsed = parse_formula(main_formula(formula))  # FormulaError early, before any data is read
    family = check_family(strings.get("family", "gaussian"))
    if isinstance(formula, list):
        split_formulas(formula, family)   # each further formula names a parameter of the family
        if method != "bayes":
            raise SpecError(f"{where}: a list of formulas (a distributional model) is fitted with "
                            f"method = 'bayes'; lme4's method {method!r} has no distributional "
                            "models.")
    from multilevel.formula.links import check_link

    check_link(family, strings.get("link"))   # SpecError-style early failure for a bad link
    sampling = _typed_table(raw.get("sampling", {}), SAMPLING_KEYS, f"{where} [sampling]")
    report = _typed_table(raw.get("report", {}), REPORT_KEYS, f"{where} [report]")
    if report.get("ddf", "satterthwaite").lower() not in ("satterthwaite", "kenward-roger", "wald"):
        raise SpecError(f"{where} [report] ddf = {report['ddf']!r} is not valid; use "
                        "'satterthwaite' (the default) or 'kenward-roger' (df and p for REML/ML "
                        "mixed models, as lmerTest), or 'wald' (lme4's normal-quantile table).")
    priors = raw.get("priors", {})
    if not isinstance(priors, dict):
        raise SpecError(f"{where}: [priors] must be a table.")
    if method != "bayes" and priors:
        raise SpecError(f"{where}: [priors] only applies to method = 'bayes', not {method!r}.")
    if method != "bayes" and sampling:   # it would be ignored: REML/ML do not sample
        raise SpecError(f"{where}: [sampling] only applies to method = 'bayes', not {method!r} "
                        f"(which does not sample); remove {', '.join(map(repr, sampling))}, or set "
                        "method = \"bayes\".")
    data2 = raw.get("data2", {})
    if not isinstance(data2, dict) or not all(isinstance(v, str) and _usable_path(v) for v in data2.values()):
        raise SpecError(f"{where}: [data2] must be a table of names and file paths (CSV or NPZ, "
                        f"relative to the spec; {PATH_RULE}), e.g. data2 = {{ A = \"A.csv\" }}.")
    covs = {bar.cov for bar in parsed.bars if bar.cov is not None}
    if covs - set(data2) or set(data2) - covs:
        raise SpecError(f"{where}: the formula's gr(..., cov = ) names {sorted(covs)} and [data2] "
                        f"gives {sorted(data2)}; give one file per matrix the formula names.")
    if "name" in strings:
        name = check_name(strings["name"], where)
    else:  # the file's stem, made a name
        name = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem if path else "model").lstrip(".")[:100]
        name = name if NAME_PATTERN.fullmatch(name or "") else "model"
    _check_bounds(sampling, lambda key: f"{where} [sampling]: {key!r}")
    if "target_accept" in sampling and not 0.5 <= sampling["target_accept"] < 1:
        raise SpecError(f"{where} [sampling]: 'target_accept' must lie in [0.5, 1), "
                        f"got {sampling['target_accept']}.")
    if "ci" in report and not 0 < report["ci"] < 1:
        raise SpecError(f"{where} [report]: 'ci' must lie in (0, 1), got {report['ci']}.")
    _check_report_x_rope(report, parsed, method, where)
    if report.get("kind", "eti") not in ("eti", "hdi"):
        raise SpecError(f"{where} [report]: 'kind' must be 'eti' or 'hdi', got {report['kind']!r}.")
    return ModelSpec(name=name, data=strings["data"], formula=formula, family=family,
                     method=method, na=strings.get("na", "drop"), priors=priors,
                     weights=strings.get("weights"), link=strings.get("link"),
                     sampling=sampling, report=report,
                     description=strings.get("description", ""), path=path, data2=dict(data2))


def _check_report_x_rope(report: dict, parsed, method: str, where: str) -> None:
    """``[report] x`` names a predictor of the formula (numeric: checked on the data by the
    report); ``rope`` is ``[lo, hi]`` with lo < hi, for Bayesian fits."""
    from multilevel.formula.parse import column_names

    predictors = [c for c in column_names(parsed.text) if c not in column_names(parsed.response.text)]
    if "x" in report and report["x"] not in predictors:
        raise SpecError(f"{where} [report] x = {report['x']!r} is not a variable of the formula's "
                        f"predictors; use a numeric one of {predictors}.")
    if "x" in report and not parsed.bars:
        raise SpecError(f"{where} [report] x applies to the group panels of a model with group terms; "
                        f"{parsed.text!r} has none, so leave x out.")
    rope = report.get("rope")
    if rope is not None and (len(rope) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                       for v in rope) or not rope[0] < rope[1]):
        raise SpecError(f"{where} [report] rope = {rope!r} must be [lo, hi] with lo < hi (numbers).")
    if rope is not None and method != "bayes":
        raise SpecError(f"{where} [report] rope applies to method = 'bayes' only, not {method!r}.")


PATH_RULE = "not blank, no NUL character, at most 255 bytes between slashes"


def _usable_path(value: str) -> bool:
    """A file name the file system can take: not blank, no NUL, no part over 255 bytes."""
    parts = value.replace("\\", "/").split("/")
    return bool(value.strip()) and "\x00" not in value and \
        all(len(part.encode("utf-8", "surrogateescape")) <= 255 for part in parts)


def _check_bounds(sampling: dict, label) -> None:
    """``[sampling]`` counts within SAMPLING_MIN..SAMPLING_MAX; ``label(key)`` names the key."""
    for key, low in SAMPLING_MIN.items():
        if key in sampling and sampling[key] < low:
            raise SpecError(f"{label(key)} must be >= {low}, got {sampling[key]}.")
    for key, high in SAMPLING_MAX.items():
        if key in sampling and sampling[key] > high:
            why = ("the run's spec.toml records it, and TOML integers are 64-bit. Use a smaller seed"
                   if key == "seed" else "a fit keeps every draw in memory. Use fewer (4 chains x "
                   "1000 draws are usual)")
            raise SpecError(f"{label(key)} must be <= {high:,}, got {sampling[key]:,}; {why}.")


def _check_keys(table: dict, allowed, where: str) -> None:
    import difflib

    unknown = sorted(set(table) - set(allowed), key=str)
    if unknown:
        guesses = {k: difflib.get_close_matches(str(k), sorted(allowed), n=1, cutoff=0.6) for k in unknown}
        hint = "; ".join(f"{k!r}: did you mean {g[0]!r}?" for k, g in guesses.items() if g)
        raise SpecError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}{f' ({hint})' if hint else ''}. "
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


def check_name(name: str, where: str = "spec") -> str:
    """A spec's ``name``: letters, digits and ``._-``, at most 100 characters, not ``.``/``..``.

    It names the run folder (``runs/<name>``), so it is never a path.

    Examples
    --------
    >>> check_name("sleepstudy-slopes_v2.1")
    'sleepstudy-slopes_v2.1'
    """
    if not NAME_PATTERN.fullmatch(name) or name in (".", ".."):
        raise SpecError(
            f"{where}: name {name!r} is not a name: use 1-100 letters, digits, '.', '_' or '-', "
            "not starting with '.' (it names the run folder runs/<name>; choose the folder "
            "with --out)."
        )
    return name


def read_table(file: Path) -> pd.DataFrame:
    """Read a CSV or Parquet data file; a file that is not a readable table is a DataError."""
    what = "Parquet" if file.suffix.lower() in (".parquet", ".pq") else "CSV"
    if not file.is_file():
        raise DataError(f"Data {str(file)!r} is not a regular file (a folder or a device?); give "
                        f"a {what} file.")
    if file.stat().st_size == 0:
        raise DataError(f"Data file {str(file)!r} is empty; it needs a header row and data rows.")
    try:
        if what == "CSV":
            with open(file, "rb") as fh:
                head = fh.read(65536)
            if b"\x00" in head:
                raise DataError(f"Data file {str(file)!r} is binary, not CSV text. Save the data "
                                "as UTF-8 CSV or Parquet.")
            with open(file, "rb") as fh:   # closed here also when the parser fails
                table = pd.read_csv(fh, encoding="utf-8-sig")   # a BOM (Excel) is not a name
        else:
            with open(file, "rb") as fh:
                table = pd.read_parquet(fh)
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        raise DataError(f"Data file {str(file)!r} is not UTF-8 text (byte {exc.start}); save it "
                        "as UTF-8 CSV.") from None
    except Exception as exc:  # pandas/pyarrow raise many kinds for an unreadable file
        raise DataError(f"Data file {str(file)!r} cannot be read as {what} "
                        f"({type(exc).__name__}: {str(exc)[:200]}). Check the file, or re-export "
                        f"it as {what}.") from None
    if table.shape[1] == 0 or len(table) == 0:
        raise DataError(f"Data file {str(file)!r} has no data rows or no columns.")
    if what == "CSV":
        _check_csv_header(file, head, table)
    return table


def _check_csv_header(file: Path, head: bytes, table: pd.DataFrame) -> None:
    """Refuse what pandas reads without complaint but wrongly: a header naming a column
    twice (pandas renames the second ``x.1``, so the model would use the first silently)
    and a file separated by ``;`` or tabs (one column named ``a;b;c``)."""
    import csv

    first = head.decode("utf-8-sig", errors="replace").splitlines()[:1]
    names = next(csv.reader(first), []) if first else []
    twice = sorted({n for n in names if n.strip() and names.count(n) > 1})   # blank: pandas' "Unnamed: i"
    if twice:
        raise DataError(f"Data file {str(file)!r} names the column(s) {', '.join(map(repr, twice))} "
                        "more than once in its header; rename them so that each column has one name.")
    if table.shape[1] == 1:
        separator = next((sep for sep in (";", "\t", "|") if sep in str(table.columns[0])), None)
        if separator is not None:
            raise DataError(f"Data file {str(file)!r} is separated by {separator!r}, not commas (one "
                            f"column named {str(table.columns[0])[:80]!r}); save it as comma-separated "
                            "CSV, or as Parquet.")


def _check_depth(raw, where: str) -> None:
    """Refuse a nested structure deeper than MAX_DEPTH or cyclic, without recursing."""
    stack = [(raw, 1, ())]
    while stack:
        value, depth, seen = stack.pop()
        if not isinstance(value, (dict, list)):
            continue
        if id(value) in seen:
            raise SpecError(f"{where}: a table contains itself (a cycle); a spec is a tree of tables.")
        if depth > MAX_DEPTH:
            raise SpecError(f"{where}: tables or arrays nested more than {MAX_DEPTH} levels deep.")
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1, (*seen, id(value))) for child in children)


# --------------------------------------------------------------- the effective spec
def with_sampling(spec: ModelSpec, overrides: dict) -> ModelSpec:
    """The spec with command-line ``[sampling]`` overrides applied (None values ignored).

    Raises
    ------
    SpecError
        An override given for a spec whose method does not sample (REML/ML), naming the
        option; it would otherwise be ignored silently.

    Examples
    --------
    >>> spec = parse_spec({"data": "sleepstudy", "formula": "Reaction ~ Days"})
    >>> with_sampling(spec, {"draws": 200, "seed": None}).sampling
    {'draws': 200}
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return spec
    if spec.method != "bayes":
        flags = ", ".join("--" + ("no-" if k == "progress" and v is False else "") + k
                          for k, v in given.items())
        raise SpecError(f"Spec {spec.name!r} has method = {spec.method!r}, which does not sample; "
                        f"{flags} {'apply' if len(given) > 1 else 'applies'} only to method = "
                        "'bayes'. Remove the option, or set method = \"bayes\" in the spec.")
    given.pop("progress", None)   # how the run is shown, not what it computes
    sampling = {**spec.sampling, **check_overrides(given, where=f"{spec.path or 'spec'}")}
    from dataclasses import replace

    return replace(spec, sampling=sampling)


def check_overrides(given: dict, where: str = "spec", prefix: str = "--") -> dict:
    """Command-line sampling values (None: not given), typed and within bounds, by flag.

    ``prefix`` names the flags in messages (``--refit-`` for ``multilevel compare``'s
    refit options).

    Examples
    --------
    >>> check_overrides({"draws": 200, "seed": None})
    {'draws': 200}
    """
    given = {k: v for k, v in given.items() if v is not None}
    typed = _typed_table(given, SAMPLING_KEYS, f"{where} (command line)")
    _check_bounds(typed, lambda key: f"{prefix}{key}")
    return typed


def spec_table(spec: ModelSpec) -> dict:
    """The spec as a TOML table (what :func:`parse_spec` reads back to an equal spec);
    a data file is given by its absolute path, so the table is valid in any folder."""
    table: dict = {"name": spec.name}
    if spec.description:
        table["description"] = spec.description
    file = spec.data_path()
    table["data"] = spec.data if file is None else str(file)
    table.update(formula=spec.formula, family=spec.family, method=spec.method)
    if spec.na != "drop":
        table["na"] = spec.na
    table.update({k: v for k, v in (("weights", spec.weights), ("link", spec.link)) if v is not None})
    if spec.data2:
        table["data2"] = {k: str(v) for k, v in spec.data2_paths().items()}
    for key in ("priors", "sampling", "report"):
        if getattr(spec, key):
            table[key] = getattr(spec, key)
    return table


def to_toml(table: dict) -> str:
    """Write a table of strings, numbers, booleans, lists and sub-tables as TOML.

    Examples
    --------
    >>> print(to_toml({"name": "m", "sampling": {"draws": 200}}), end="")
    name = "m"
    <BLANKLINE>
    [sampling]
    draws = 200
    """
    lines: list[str] = []
    _toml_table(table, (), lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml_table(table: dict, prefix: tuple, lines: list) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in table.items() if isinstance(v, dict)}
    if prefix and (scalars or not tables):
        lines += ["", "[" + ".".join(map(_toml_key, prefix)) + "]"]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in scalars.items()]
    for key, sub in tables.items():
        _toml_table(sub, (*prefix, key), lines)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def _toml_value(value) -> str:
    import json
    import math

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")) \
            if not math.isfinite(value) else repr(value)
    if isinstance(value, str):
        # JSON's escapes are TOML's; TOML also wants DEL escaped
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007F")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise SpecError(f"Cannot write {value!r} ({type(value).__name__}) into a TOML spec.")
