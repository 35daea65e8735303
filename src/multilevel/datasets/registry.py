"""The registry of shipped data sets and the loader that restores R's factor types.

The CSV files quote the columns that are factors in R. ``load`` turns those into
pandas categoricals with R's level order (numeric order when every level is an
integer, lexical otherwise), so that contrasts and group orderings match lme4.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import pandas as pd

from multilevel.errors import DataError


@dataclass(frozen=True)
class Dataset:
    name: str
    file: str
    factors: tuple[str, ...]
    source: str
    model: str
    index_col: int | None = None


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset("sleepstudy", "sleepstudy.csv", ("Subject",),
                "lme4; Belenky et al. (2003): reaction times under sleep deprivation",
                "Reaction ~ Days + (Days | Subject)"),
        Dataset("Dyestuff", "Dyestuff.csv", ("Batch",),
                "lme4; Davies (1972): yield of dyestuff by batch",
                "Yield ~ 1 + (1 | Batch)"),
        Dataset("Pastes", "Pastes.csv", ("batch", "cask", "sample"),
                "lme4; Davies & Goldsmith (1972): paste strength, casks nested in batches",
                "strength ~ 1 + (1 | batch/cask)"),
        Dataset("Penicillin", "Penicillin.csv", ("plate", "sample"),
                "lme4; penicillin assay, plates crossed with samples",
                "diameter ~ 1 + (1 | plate) + (1 | sample)"),
        Dataset("cake", "cake.csv", ("replicate", "recipe", "temperature"),
                "lme4; Cook (1938): breakage angle of cakes (temperature unordered here; temp numeric)",
                "angle ~ recipe * temperature + (1 | recipe:replicate)"),
        Dataset("cbpp", "cbpp.csv", ("herd", "period"),
                "lme4; contagious bovine pleuropneumonia incidence by herd and period",
                "cbind(incidence, size - incidence) ~ period + (1 | herd)"),
        Dataset("grouseticks", "grouseticks.csv", ("INDEX", "BROOD", "YEAR", "LOCATION"),
                "lme4; Elston et al. (2001): ticks on red grouse chicks",
                "TICKS ~ YEAR + (1 | BROOD) + (1 | LOCATION)"),
        Dataset("InstEval", "InstEval.csv.gz", ("s", "d", "studage", "lectage", "service", "dept"),
                "lme4; lecture evaluations at ETH Zurich (73,421 rows)",
                "y ~ service + (1 | s) + (1 | d) + (1 | dept)"),
        Dataset("VerbAgg", "VerbAgg.csv.gz",
                ("Gender", "item", "resp", "id", "btype", "situ", "mode", "r2"),
                "lme4; verbal aggression item responses (7,584 rows)",
                "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)"),
        Dataset("oats", "oats.csv", ("Block", "Variety", "nitro"),
                "MASS; Yates (1935): oat yields of 3 varieties at 4 nitrogen levels in 6 blocks "
                "(MASS's B, V, N, Y named as nlme's Oats)",
                "yield ~ nitro + Variety + cs(0 + nitro | Block)"),
        Dataset("visits", "visits.csv", ("subject", "arm", "visit"),
                "simulated (tests/reference/make_structures.R): 60 subjects x 4 visits x 2 replicate "
                "assays; subject-by-visit effects with Toeplitz correlations 0.6, 0.4, 0.3",
                "y ~ arm + visit + toep(0 + visit | subject)"),
        Dataset("epilepsy", "epilepsy.csv", ("Trt", "patient", "visit", "obs"),
                "brms; Thall & Vail (1990): seizure counts of 59 epileptics over 4 visits",
                "count ~ zAge + zBase * Trt + (1 | patient)"),
        Dataset("mtcars", "mtcars.csv", (),
                "R datasets; Motor Trend 1974 road tests (index: car name)",
                "mpg ~ disp + hp + wt + drat", index_col=0),
        Dataset("mcycle", "mcycle.csv", (),
                "MASS; Silverman (1985): head acceleration (g) against time (ms) after a simulated "
                "motorcycle impact", "accel ~ s(times)"),
        Dataset("diabetes", "diabetes.csv", (),
                "scikit-learn; Efron et al. (2004) diabetes progression, unscaled",
                "target ~ age + sex + bmi + bp + s1 + s2 + s3 + s4 + s5 + s6"),
        # exported by tests/reference/make_families.R from the R packages (all GPL)
        Dataset("Salamanders", "Salamanders.csv", ("site", "mined", "spp"),
                "glmmTMB 1.1.5 (GPL-3); Price et al. (2016): salamander counts in streams "
                "below mined and unmined sites (644 rows)",
                "count ~ mined + (1 | site), family='zero_inflated_poisson'"),
        Dataset("Owls", "Owls.csv", ("Nest", "FoodTreatment", "SexParent"),
                "glmmTMB 1.1.5 (GPL-3); Roulin & Bersier (2007): begging by owl nestlings "
                "(599 rows)",
                "ArrivalTime ~ FoodTreatment + SexParent + (1 | Nest), family='gamma', link='log'"),
        Dataset("USAirlines", "USAirlines.csv", ("firm",),
                "AER 1.2-10 (GPL-2|3); Greene (2003): cost data of six US airlines 1970-1984, "
                "load = load factor (90 rows)",
                "load ~ log(output) + (1 | firm), family='beta'"),
        Dataset("wine", "wine.csv", ("temp", "contact", "bottle", "judge"),
                "ordinal 2022.11-16 (GPL-2|3); Randall (1989): bitterness of wine rated 1-5 "
                "by nine judges (72 rows; rating as its integer)",
                "rating ~ temp + contact + (1 | judge), family='cumulative'"),
        # exported by tests/reference/make_categorical.R from R's datasets package
        Dataset("iris", "iris.csv", ("Species",),
                "R datasets; Fisher (1936), Anderson (1935): sepal and petal measurements (cm) of "
                "150 irises of three species",
                "Species ~ Sepal.Length, family='categorical'"),
    ]
}


def names() -> list[str]:
    """Names of the shipped data sets, in registry order."""
    return list(DATASETS)


def _level_order(values: pd.Series) -> list[str]:
    levels = pd.unique(values.dropna())
    try:
        return sorted(levels, key=lambda v: (int(v), v))
    except ValueError:
        return sorted(levels)


def load(name: str) -> pd.DataFrame:
    """Load a shipped data set as a DataFrame with R's factor columns as categoricals.

    Parameters
    ----------
    name : str
        One of :func:`names` (case-insensitive).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import multilevel as ml
    >>> df = ml.datasets.load("cbpp")
    >>> list(df["period"].cat.categories)
    ['1', '2', '3', '4']
    """
    spec = _lookup(name)
    factor_dtypes = {col: str for col in spec.factors}
    path = resources.files("multilevel.datasets") / "data" / spec.file
    with resources.as_file(path) as real_path:
        frame = pd.read_csv(real_path, dtype=factor_dtypes, index_col=spec.index_col)
    for col in spec.factors:
        frame[col] = pd.Categorical(frame[col], categories=_level_order(frame[col]))
    if spec.index_col is not None:
        frame.index.name = None
    return frame


def describe() -> pd.DataFrame:
    """A table of the shipped data sets: name, rows, columns, source and a typical model."""
    rows = []
    for spec in DATASETS.values():
        frame = load(spec.name)
        rows.append({"name": spec.name, "rows": len(frame), "columns": frame.shape[1],
                     "source": spec.source, "typical model": spec.model})
    return pd.DataFrame(rows)


def _lookup(name: str) -> Dataset:
    by_lower = {key.lower(): spec for key, spec in DATASETS.items()}
    spec = by_lower.get(str(name).lower())
    if spec is None:
        raise DataError(
            f"Unknown dataset {name!r}. Shipped datasets: {', '.join(DATASETS)}. "
            "To use your own data, pass a pandas DataFrame (or a CSV/Parquet path in a spec)."
        )
    return spec
