"""The max-|t| distribution behind ``adjust="mvt"`` (multilevel.effects.multiplicity)
against closed forms: one contrast is the two-sided t test, independent normal contrasts
give 1 − (2Φ(x) − 1)^k, perfectly correlated ones collapse to one, and all pairwise
differences of k independent means with equal variance are Tukey's studentized range.
Tolerance 5e-5 absolute (the spherical-radial integration's error is ~2e-5)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from multilevel.effects.multiplicity import max_t_quantile, max_t_survival, mvt_df

X = np.array([0.5, 1.0, 2.0, 2.5, 3.5])


@pytest.mark.parametrize("df", [5.0, 17.0, np.inf])
def test_one_contrast_is_the_two_sided_t_test(df):
    expected = 2 * (stats.t.sf(X, df) if np.isfinite(df) else stats.norm.sf(X))
    np.testing.assert_allclose(max_t_survival(np.eye(1), df)(X), expected, atol=5e-5)


def test_independent_normal_contrasts():
    k = 4
    expected = 1 - (2 * stats.norm.cdf(X) - 1) ** k
    np.testing.assert_allclose(max_t_survival(np.eye(k), np.inf)(X), expected, atol=5e-5)


def test_perfectly_correlated_contrasts_count_once():
    np.testing.assert_allclose(max_t_survival(np.ones((3, 3)), 9.0)(X), 2 * stats.t.sf(X, 9.0), atol=5e-5)


@pytest.mark.parametrize(("k", "df"), [(3, 12.0), (5, 30.0), (4, np.inf)])
def test_all_pairwise_differences_are_tukeys_range(k, df):
    """The k(k−1)/2 differences of k independent equal-variance means (a singular
    correlation of rank k − 1): P(max |t| > x) = P(range > √2 x), Tukey's exact p-value."""
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    C = np.zeros((len(pairs), k))
    for row, (i, j) in enumerate(pairs):
        C[row, i], C[row, j] = 1.0, -1.0
    cov = C @ C.T
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    sf = max_t_survival(corr, df)
    np.testing.assert_allclose(sf(X), stats.studentized_range.sf(np.sqrt(2) * X, k, df), atol=5e-5)
    assert max_t_quantile(sf, 0.95) == pytest.approx(stats.studentized_range.ppf(0.95, k, df) / np.sqrt(2),
                                                     abs=2e-4)


def test_whole_degrees_of_freedom_as_emmeans():
    np.testing.assert_array_equal(mvt_df(np.array([16.8, 16.7, 0.4, 1e5, np.inf, 42.0])),
                                  [17, 16, 1, np.inf, np.inf, 42])


def test_the_same_numbers_every_call():
    corr = np.array([[1.0, 0.5], [0.5, 1.0]])
    assert max_t_survival(corr, 7.0)(X).tolist() == max_t_survival(corr, 7.0)(X).tolist()
