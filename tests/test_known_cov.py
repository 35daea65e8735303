"""Known covariance matrices of group effects, ``(1 | gr(g, cov = A))`` (issue 21).

REML/ML estimates against a direct optimization of the dense marginal Gaussian likelihood
of the same model (written here, independently of the engine), for a pedigree-like and a
phylogeny-like A; the Bayesian fit recovers the simulated group SD.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize_scalar

import multilevel as ml
from multilevel.errors import DataError, FormulaError
from multilevel.formula import parse_formula


# ------------------------------------------------------------------ simulated A
def pedigree_A(n_founders: int, n_offspring: int, rng) -> np.ndarray:
    """Additive relationship matrix of a random pedigree (the tabular method): founders are
    unrelated; each offspring has two parents drawn among the earlier animals."""
    n = n_founders + n_offspring
    A = np.zeros((n, n))
    for i in range(n):
        if i < n_founders:
            A[i, i] = 1.0
            continue
        s, d = rng.choice(i, size=2, replace=False)
        A[i, :i] = A[:i, i] = 0.5 * (A[s, :i] + A[d, :i])
        A[i, i] = 1.0 + 0.5 * A[s, d]
    return A


def phylogeny_A(m: int, rng) -> np.ndarray:
    """Brownian-motion covariance of a random ultrametric tree (a coalescent): the shared
    branch length from the root of each pair of tips, tree height 1."""
    merged = np.zeros((m, m))
    clusters, t = [[i] for i in range(m)], 0.0
    while len(clusters) > 1:
        k = len(clusters)
        t += rng.exponential(2.0 / (k * (k - 1)))
        a, b = rng.choice(k, size=2, replace=False)
        for i in clusters[a]:
            for j in clusters[b]:
                merged[i, j] = merged[j, i] = t
        clusters = [c for idx, c in enumerate(clusters) if idx not in (a, b)] + [clusters[a] + clusters[b]]
    return (t - merged) / t


def simulate(A: np.ndarray, per_level: int, sd_group: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    m = len(A)
    names = [f"L{i:03d}" for i in range(m)]
    w, V = np.linalg.eigh(A)
    b = sd_group * (V * np.sqrt(np.clip(w, 0, None))) @ rng.standard_normal(m)
    ids = np.repeat(np.arange(m), per_level)
    x = rng.standard_normal(len(ids))
    y = 2.0 + 0.5 * x + b[ids] + rng.standard_normal(len(ids))
    data = pd.DataFrame({"y": y, "x": x, "id": [names[i] for i in ids]})
    return data, pd.DataFrame(A, index=names, columns=names)


def direct_fit(data: pd.DataFrame, A: pd.DataFrame, reml: bool) -> dict:
    """(RE)ML of y = Xβ + Zb + e, b ~ N(0, σ_a² A), e ~ N(0, σ² I) from the dense marginal
    likelihood V = σ²(λ Z A Z' + I): β and σ² in closed form, λ by a bounded 1-D search."""
    X = np.column_stack([np.ones(len(data)), data["x"].to_numpy()])
    y = data["y"].to_numpy()
    index = {name: i for i, name in enumerate(A.index)}
    Z = np.zeros((len(data), len(A)))
    Z[np.arange(len(data)), [index[v] for v in data["id"]]] = 1.0
    K = Z @ A.to_numpy() @ Z.T
    n, p = X.shape
    d, U = np.linalg.eigh(K)             # H = λK + I = U diag(λd + 1) U'
    Xu, yu = U.T @ X, U.T @ y

    def profiled(lam):
        h = lam * d + 1.0
        Xs, ys = Xu / np.sqrt(h)[:, None], yu / np.sqrt(h)
        beta = np.linalg.lstsq(Xs, ys, rcond=None)[0]
        r = ys - Xs @ beta
        dof = n - p if reml else n
        s2 = r @ r / dof
        dev = np.sum(np.log(h)) + dof * (1 + np.log(2 * np.pi * s2))
        if reml:
            dev += np.linalg.slogdet(Xs.T @ Xs)[1]
        return dev, beta, s2

    opt = minimize_scalar(lambda lam: profiled(lam)[0], bounds=(0.0, 50.0), method="bounded",
                          options={"xatol": 1e-12, "maxiter": 2000})
    dev, beta, s2 = profiled(opt.x)
    return {"deviance": dev, "beta": beta, "sigma2": s2, "sigma2_a": opt.x * s2}


CASES = {
    "pedigree": lambda: simulate(pedigree_A(30, 90, np.random.default_rng(3)), 2, 1.2, 11),
    "phylogeny": lambda: simulate(phylogeny_A(80, np.random.default_rng(5)), 3, 1.0, 12),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    data, A = CASES[request.param]()
    return request.param, data, A


@pytest.mark.parametrize("method", ["reml", "ml"])
def test_freq_equals_direct_dense_likelihood(case, method):
    name, data, A = case
    fit = ml.fit("y ~ x + (1 | gr(id, cov = A))", data, method=method, data2={"A": A})
    ref = direct_fit(data, A, reml=method == "reml")
    vc = fit.varcorr.set_index("grp")["vcov"]
    crit = fit.reml_criterion if method == "reml" else fit.deviance
    assert crit == pytest.approx(ref["deviance"], rel=1e-9)
    np.testing.assert_allclose(fit.fixef.to_numpy(), ref["beta"], rtol=1e-6)
    assert vc["id"] == pytest.approx(ref["sigma2_a"], rel=1e-6)
    assert vc["Residual"] == pytest.approx(ref["sigma2"], rel=1e-6)


def test_modes_are_the_blup_and_predictions_use_them(case):
    """The conditional modes equal the BLUP σ_a² A Z' V⁻¹ (y − Xβ̂); predictions add them,
    new levels get the population mean or an error."""
    name, data, A = case
    fit = ml.fit("y ~ x + (1 | gr(id, cov = A))", data, method="reml", data2={"A": A})
    s2a = fit.varcorr.set_index("grp").loc["id", "vcov"]
    s2 = fit.sigma ** 2
    levels = list(fit.ranef["id"].index)
    Ao = A.loc[levels, levels].to_numpy()
    Z = (data["id"].to_numpy()[:, None] == np.array(levels)[None, :]).astype(float)
    V = s2a * Z @ Ao @ Z.T + s2 * np.eye(len(data))
    X = np.column_stack([np.ones(len(data)), data["x"]])
    blup = s2a * Ao @ Z.T @ np.linalg.solve(V, data["y"] - X @ fit.fixef.to_numpy())
    np.testing.assert_allclose(fit.ranef["id"]["(Intercept)"].to_numpy(), blup, rtol=1e-6, atol=1e-9)
    new = pd.DataFrame({"x": [0.0, 0.0], "id": [levels[0], "unseen"]})
    pred = fit.predict(new)["estimate"].to_numpy()
    assert pred[0] == pytest.approx(fit.fixef.iloc[0] + blup[0], rel=1e-8)
    assert pred[1] == pytest.approx(fit.fixef.iloc[0], rel=1e-12)
    with pytest.raises(DataError, match="unseen"):
        fit.predict(new, new_groups="error")


def test_ordinary_term_alongside_and_numpy_and_sparse_inputs():
    data, A = CASES["pedigree"]()
    data["site"] = np.tile(["s1", "s2", "s3", "s4"], len(data) // 4 + 1)[:len(data)]
    a = ml.fit("y ~ x + (1 | gr(id, cov = A)) + (1 | site)", data, method="reml", data2={"A": A})
    # the same model from a plain array in the fitted level order, and from a sparse matrix
    levels = list(a.ranef["id"].index)
    b = ml.fit("y ~ x + (1 | gr(id, cov = A)) + (1 | site)", data, method="reml",
               data2={"A": A.loc[levels, levels].to_numpy()})
    c = ml.fit("y ~ x + (1 | gr(id, cov = A)) + (1 | site)", data, method="reml",
               data2={"A": sp.csc_matrix(A.loc[levels, levels].to_numpy())})
    for other in (b, c):
        assert other.reml_criterion == pytest.approx(a.reml_criterion, rel=1e-10)
    # with A = I the term is an ordinary (1 | id)
    eye = pd.DataFrame(np.eye(len(A)), index=A.index, columns=A.index)
    d = ml.fit("y ~ x + (1 | gr(id, cov = A)) + (1 | site)", data, method="reml", data2={"A": eye})
    e = ml.fit("y ~ x + (1 | id) + (1 | site)", data, method="reml")
    assert d.reml_criterion == pytest.approx(e.reml_criterion, rel=1e-9)
    np.testing.assert_allclose(d.varcorr["vcov"], e.varcorr["vcov"], rtol=1e-5)
    cv = d.ranef_condvar()["id"].ravel()
    np.testing.assert_allclose(cv, e.ranef_condvar()["id"].ravel(), rtol=1e-4)
    # the blocks of A⁻¹ are solved in chunks: several chunks give the same values
    import multilevel.freq.known as known

    chunk, known.CHUNK = known.CHUNK, 7
    try:
        blocks = d.pls.factor.inverse_diagonal_blocks()
    finally:
        known.CHUNK = chunk
    for got, want in zip(blocks, d.pls.factor.inverse_diagonal_blocks()):
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_parsing():
    f = parse_formula("y ~ x + (1 | gr(id, cov = A))")
    (bar,) = f.bars
    assert (bar.expr, bar.group, bar.cov) == ("1", "id", "A")
    assert parse_formula('y ~ (1 | gr(id, cov = "K"))').bars[0].cov == "K"
    with pytest.raises(FormulaError, match="intercept"):
        parse_formula("y ~ (x | gr(id, cov = A))")
    with pytest.raises(FormulaError, match="cov"):
        parse_formula("y ~ (1 | gr(id, by = A))")


@pytest.mark.parametrize("matrix, message", [
    (None, "pass it as data2"),
    (np.ones((3, 4)), "square"),
    (np.eye(5), "levels in the data"),
    ("asym", "not symmetric"),
    ("negative", "not positive semidefinite"),
    ("missing", "lacks level"),
    ("nan", "missing or infinite"),
])
def test_bad_matrices(matrix, message):
    data = pd.DataFrame({"y": np.arange(8.0), "id": list("aabbccdd")})
    names = list("abcd")
    if isinstance(matrix, str):
        values = {"asym": np.array([[1, .5, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.]]),
                  "negative": np.diag([1.0, 1.0, 1.0, -1.0]),
                  "nan": np.diag([1.0, np.nan, 1.0, 1.0])}.get(matrix, np.eye(3))
        matrix = pd.DataFrame(values, index=names[:len(values)], columns=names[:len(values)])
    data2 = {} if matrix is None else {"A": matrix}
    with pytest.raises(DataError, match=message):
        ml.fit("y ~ 1 + (1 | gr(id, cov = A))", data, method="reml", data2=data2)


def test_psd_matrix_with_duplicate_individuals():
    """A singular A (two levels identical: clones) is positive semidefinite: fitted through a
    symmetric square root, the two levels share one effect."""
    data, A = CASES["pedigree"]()
    A2 = A.copy()
    a, b = A.index[:2]
    A2.loc[b, :] = A2.loc[a, :].to_numpy()
    A2.loc[:, b] = A2.loc[:, a].to_numpy()
    A2.loc[b, b] = A2.loc[a, a]
    fit = ml.fit("y ~ x + (1 | gr(id, cov = A))", data, method="reml", data2={"A": A2})
    modes = fit.ranef["id"]["(Intercept)"]
    assert modes[a] == pytest.approx(modes[b], rel=1e-8)


@pytest.fixture(scope="module")
def bayes_known():
    data, A = simulate(pedigree_A(60, 60, np.random.default_rng(3)), 3, 1.0, 21)
    return ml.fit("y ~ x + (1 | gr(id, cov = A))", data, data2={"A": A}, draws=500, tune=500,
                  chains=2, seed=2, progress=False)


@pytest.mark.slow
def test_bayes_recovers_the_group_sd(bayes_known):
    """Truth: group SD 1.0, σ 1.0, slope 0.5; 95 % intervals cover them, R-hat <= 1.01."""
    table = bayes_known.summary(ci=0.95)
    for name, truth in (("sd__(Intercept)|id", 1.0), ("sigma", 1.0), ("x", 0.5)):
        row = table.loc[name]
        assert row["lower"] < truth < row["upper"], name
    assert table["r_hat"].max() <= 1.01
    # the effects are sd · R z: their posterior means are correlated as A says, and the
    # prediction for a fitted level adds its effect
    effects = bayes_known.ranef["id"]["(Intercept)"]
    assert effects.std() > 0.3
    # refits (ml.compare's ML companions, k-fold) get the matrix back from the fit
    companion = ml.fit(bayes_known.formula, bayes_known.design.frame.data, method="ml",
                       **bayes_known.data_options())
    assert companion.varcorr.set_index("grp").loc["id", "sdcor"] == pytest.approx(
        table.loc["sd__(Intercept)|id", "estimate"], rel=0.2)


def test_unsupported_combinations_say_so():
    from multilevel.errors import FamilyError, SpecError

    data, A = CASES["pedigree"]()
    data["z"] = (data["y"] > data["y"].median()).astype(int)
    with pytest.raises(FamilyError, match="gaussian"):
        ml.fit("z ~ x + (1 | gr(id, cov = A))", data, method="ml", family="bernoulli", data2={"A": A})
    fit = ml.fit("y ~ x + (1 | gr(id, cov = A))", data, method="reml", data2={"A": A})
    with pytest.raises(SpecError, match="not available"):
        fit.simulate()


def test_spec_data2_csv_and_npz(tmp_path):
    """A spec's [data2] names files next to it; the run folder's spec.toml keeps their paths."""
    from multilevel.spec import load_spec, spec_table

    data, A = CASES["phylogeny"]()
    data.to_csv(tmp_path / "d.csv", index=False)
    A.to_csv(tmp_path / "A.csv")
    np.savez(tmp_path / "A.npz", matrix=A.to_numpy(), levels=np.array(A.index, dtype=str))
    direct = ml.fit("y ~ x + (1 | gr(id, cov = A))", data, method="reml", data2={"A": A})
    for file in ("A.csv", "A.npz"):
        (tmp_path / "m.toml").write_text(
            'data = "d.csv"\nformula = "y ~ x + (1 | gr(id, cov = A))"\nmethod = "reml"\n'
            f'data2 = {{ A = "{file}" }}\n')
        spec = load_spec(tmp_path / "m.toml")
        fit = ml.fit(spec.formula, spec.load_data(), **spec.fit_kwargs())
        assert fit.reml_criterion == pytest.approx(direct.reml_criterion, rel=1e-9)
        assert spec_table(spec)["data2"] == {"A": str(tmp_path / file)}
    from multilevel.errors import SpecError

    (tmp_path / "bad.toml").write_text('data = "d.csv"\nformula = "y ~ x + (1 | gr(id, cov = A))"\n')
    with pytest.raises(SpecError, match=r"\[data2\]"):
        load_spec(tmp_path / "bad.toml")
    (tmp_path / "A.txt").write_text("1")
    (tmp_path / "m.toml").write_text('data = "d.csv"\nformula = "y ~ x + (1 | gr(id, cov = A))"\n'
                                     'method = "reml"\ndata2 = { A = "A.txt" }\n')
    with pytest.raises(DataError, match="csv or .npz"):
        load_spec(tmp_path / "m.toml").fit_kwargs()
