"""``ml.load_run``: a fit back from a run folder written by ``multilevel fit``.

A run folder holds the effective ``spec.toml`` (command-line overrides included) and,
for Bayesian fits, the posterior (``posterior.nc``). A Bayesian fit is rebuilt from the
stored draws without sampling again; a REML/ML fit is refitted from the spec (the
engine is deterministic and takes well under a second for the shipped models).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from multilevel.errors import SpecError

__all__ = ["load_run"]


def load_run(path: str | Path, data: pd.DataFrame | None = None):
    """The fit of a run folder written by ``multilevel fit``.

    Parameters
    ----------
    path : str or Path
        The run folder (``runs/<spec name>`` by default).
    data : DataFrame or str, optional
        The data, when the spec's data file has moved; by default the spec's ``data``
        (a shipped dataset, or the file's absolute path recorded in ``spec.toml``); a string
        names a shipped dataset.

    Returns
    -------
    BayesFit or FreqFit
        Bayesian: the stored posterior with the model rebuilt around it (summary,
        varcorr, ranef, predict, loo work as on the original fit). REML/ML: the spec
        fitted again.

    Raises
    ------
    SpecError
        The folder, its ``spec.toml`` or its ``posterior.nc`` is missing, or the data
        no longer match the stored posterior.

    Examples
    --------
    >>> import multilevel as ml
    >>> fit = ml.load_run("runs/sleepstudy-random-slopes")      # doctest: +SKIP
    >>> fit.summary()                                           # doctest: +SKIP
    """
    from multilevel.spec import load_spec

    if not isinstance(path, (str, os.PathLike)) or "\x00" in os.fspath(path):
        raise SpecError(f"load_run needs the path of a run folder (a string or a Path), got "
                        f"{path!r}.")
    if isinstance(data, str):   # a shipped dataset's name, as ml.fit accepts
        from multilevel import datasets

        data = datasets.load(data)
    if data is not None and not isinstance(data, pd.DataFrame):
        raise SpecError(f"load_run's data must be a pandas DataFrame (the run's data, moved), got "
                        f"{type(data).__name__}.")
    folder = Path(path)
    if not folder.is_dir():
        raise SpecError(f"No run folder {str(folder)!r}; give the folder `multilevel fit` wrote "
                        "(runs/<spec name>, or its --out).")
    spec_file = folder / "spec.toml"
    if not spec_file.is_file():
        raise SpecError(f"{str(folder)!r} has no spec.toml, so it is not a run folder of "
                        "`multilevel fit` (a comparison folder holds table.md instead).")
    spec = load_spec(spec_file)
    frame = spec.load_data() if data is None else data
    if spec.method != "bayes":
        from multilevel.engines import fit

        return fit(spec.formula, frame, **spec.fit_kwargs())
    return _bayes_fit(folder, spec, frame)


def _bayes_fit(folder: Path, spec, frame: pd.DataFrame):
    import xarray as xr

    from multilevel.bayes.fit import default_target_accept
    from multilevel.bayes.model import build_model
    from multilevel.bayes.result import BayesFit
    from multilevel.bayes.sampling import SAMPLERS, SamplingSettings

    file = folder / "posterior.nc"
    if not file.is_file():
        raise SpecError(f"{str(folder)!r} holds a Bayesian spec but no posterior.nc; fit it "
                        f"again with `multilevel fit {folder / 'spec.toml'}`.")
    try:
        with xr.open_datatree(file) as stored:
            idata = stored.load().copy()   # in memory: the file is closed on return
    except (OSError, ValueError) as exc:   # truncated, empty, not netCDF
        # the first sentence: xarray's message goes on over several lines of advice and URLs
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(". ")[0][:200]
        raise SpecError(f"Cannot read {str(file)!r} as a posterior ({reason}); the file is damaged. "
                        f"Fit again with `multilevel fit {folder / 'spec.toml'}`.") from None
    missing = [group for group in ("posterior", "observed_data") if group not in idata.children]
    if missing:
        raise SpecError(f"{str(file)!r} has no {' or '.join(missing)} group, so it is not a posterior "
                        f"that `multilevel fit` wrote. Fit again with `multilevel fit "
                        f"{folder / 'spec.toml'}`.")
    built = build_model(spec.formula, frame, family=spec.family, priors=spec.priors_argument(),
                        na=spec.na, weights=spec.weights, link=spec.link)
    _check_same_data(idata, built, file)
    posterior = idata["posterior"]
    library = str(posterior.attrs.get("inference_library", ""))
    sampling = spec.sampling
    settings = SamplingSettings(
        sampler=library if library in SAMPLERS else str(sampling.get("sampler", library or "unknown")),
        draws=int(posterior.sizes["draw"]), tune=int(posterior.attrs.get("tuning_steps",
                                                                          sampling.get("tune", 1000))),
        chains=int(posterior.sizes["chain"]), seed=sampling.get("seed"),
        target_accept=float(sampling.get("target_accept",
                                         default_target_accept(spec.priors_argument(), built))))
    fit = BayesFit(built=built, idata=idata, settings=settings, timings={})
    try:   # every parameter of the spec's model is among the stored draws
        _ = fit.summary_draws   # cached: the summary that follows reuses it
    except (KeyError, IndexError, ValueError) as exc:
        reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise SpecError(f"The draws in {str(file)!r} are not those of the model in its spec.toml "
                        f"(formula {spec.formula!r}: {reason}); the spec or the posterior was "
                        "changed after the run. Fit again with `multilevel fit` on the spec.") from None
    return fit


def _check_same_data(idata, built, file: Path) -> None:
    """The stored posterior belongs to these rows: the observed response must match."""
    group = idata["observed_data"]
    names = list(group.data_vars)
    if len(names) != 1:
        return
    observed = np.asarray(group[names[0]].values, dtype=float)
    expected = np.asarray(built.design.y, dtype=float)
    if observed.shape[0] != expected.shape[0] or (
            observed.shape == expected.shape and not np.allclose(observed, expected, equal_nan=True)):
        raise SpecError(f"The data of {str(file)!r} differ from the spec's data now "
                        f"({observed.shape[0]} stored responses, {expected.shape[0]} rows now); "
                        "the posterior belongs to other data. Pass the original data with "
                        "load_run(path, data=...), or fit again.")
