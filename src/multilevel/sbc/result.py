"""``SBCResult``: rank statistics, the chi-square uniformity test and rank histograms."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class SBCResult:
    """Outcome of :func:`multilevel.sbc`.

    Attributes
    ----------
    ranks : DataFrame
        One row per successful replicate (index: replicate number), one column per
        parameter (lme4 names); values in ``0..n_ranks``.
    truth : DataFrame
        The prior draws (true values) of every replicate.
    n_ranks : int
        ``L``: posterior draws each true value was ranked among.
    bins : int
        Bins of the histograms and the test; ``(n_ranks + 1) / bins`` rank values each.
    max_rhat, divergences : Series
        Per replicate, to spot replicates whose fit did not converge.
    failures : list of JobFailure
        Replicates whose fit raised (with their inputs); they are left out of ``ranks``.
    n_compilations : int
        Log-density compilations the replicates made (one per model structure: the
        replicates share it, :mod:`multilevel.bayes.cache`; 0 when it was compiled before).
    """

    ranks: pd.DataFrame
    truth: pd.DataFrame = field(repr=False)
    n_ranks: int
    bins: int
    max_rhat: pd.Series = field(repr=False)
    divergences: pd.Series = field(repr=False)
    failures: list = field(default_factory=list)
    formula: str = ""
    seed: int | None = None
    n_compilations: int = 0

    @classmethod
    def from_outcomes(cls, outcomes, truth, *, n_ranks, bins, formula, seed) -> SBCResult:
        from multilevel.distributed import JobFailure

        done = [o for o in outcomes if not isinstance(o, JobFailure)]
        failures = [o for o in outcomes if isinstance(o, JobFailure)]
        index = pd.Index([o.index for o in done], name="replicate")
        ranks = pd.DataFrame([o.ranks for o in done], index=index, columns=list(truth.columns))
        return cls(ranks=ranks, truth=truth, n_ranks=n_ranks, bins=bins,
                   max_rhat=pd.Series([o.max_rhat for o in done], index=index, name="max_rhat"),
                   divergences=pd.Series([o.divergences for o in done], index=index,
                                         name="divergences"),
                   failures=failures, formula=formula, seed=seed,
                   n_compilations=sum(o.compilations for o in done))

    @property
    def n(self) -> int:
        """Replicates with ranks."""
        return len(self.ranks)

    def counts(self) -> pd.DataFrame:
        """Replicates per rank bin (rows: bins, columns: parameters)."""
        width = (self.n_ranks + 1) // self.bins
        binned = np.minimum(self.ranks.to_numpy() // width, self.bins - 1)
        table = {name: np.bincount(binned[:, j].astype(int), minlength=self.bins)
                 for j, name in enumerate(self.ranks.columns)}
        return pd.DataFrame(table, index=pd.RangeIndex(self.bins, name="bin"))

    def test(self) -> pd.DataFrame:
        """Chi-square test of uniform ranks per parameter (Talts et al. 2018, section 4).

        Returns
        -------
        DataFrame
            Index: parameters. Columns ``statistic`` (sum over bins of
            (observed - expected)² / expected, expected = n / bins), ``df`` (bins - 1),
            ``p_value`` (upper tail of chi-square(df)), ``n``.

        Examples
        --------
        >>> import pandas as pd
        >>> from multilevel.sbc.result import SBCResult
        >>> ranks = pd.DataFrame({"a": [0, 1, 2, 3] * 5})
        >>> res = SBCResult(ranks=ranks, truth=ranks, n_ranks=3, bins=4,
        ...                 max_rhat=pd.Series(dtype=float), divergences=pd.Series(dtype=int))
        >>> float(res.test().loc["a", "statistic"])
        0.0
        """
        from scipy import stats

        counts = self.counts()
        expected = self.n / self.bins
        statistic = ((counts - expected) ** 2 / expected).sum(axis=0)
        df = self.bins - 1
        return pd.DataFrame({"statistic": statistic, "df": df,
                             "p_value": stats.chi2.sf(statistic, df), "n": self.n})

    def plot(self, *, band: float = 0.99, ncols: int = 3):
        """Rank histograms per parameter with the ``band`` interval of a uniform histogram.

        The grey band is the central ``band`` interval of Binomial(n, 1 / bins), the
        count of one bin when the ranks are uniform.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt
        from scipy import stats

        counts = self.counts()
        names = list(counts.columns)
        ncols = max(1, min(ncols, len(names)))
        nrows = -(-len(names) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.4 * nrows), squeeze=False)
        low, high = stats.binom.interval(band, self.n, 1 / self.bins)
        for ax, name in zip(axes.flat, names):
            ax.axhspan(low, high, color="0.85", zorder=0)
            ax.axhline(self.n / self.bins, color="0.5", lw=0.8)
            ax.bar(np.arange(self.bins), counts[name].to_numpy(), width=1.0, color="C0",
                   edgecolor="white")
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("rank bin")
        for ax in list(axes.flat)[len(names):]:
            ax.set_visible(False)
        fig.suptitle(f"SBC rank histograms: {self.n} replicates, L = {self.n_ranks}, "
                     f"{int(band * 100)}% band of uniform", fontsize=10)
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        failed = f", {len(self.failures)} failed" if self.failures else ""
        return (f"<SBCResult {self.formula!r}: {self.n} replicates{failed}, "
                f"L = {self.n_ranks}, {self.bins} bins, parameters {list(self.ranks.columns)}>")
