"""Default parameterization: centred group effects where the data pin them down.

The decision (multilevel.bayes.parameterization) is pure numpy and tested fast against
known truths; the sampled tests check the issue's targets at default settings
(Penicillin crossed and epilepsy's Poisson GLMM: min ESS_bulk >= 600, R-hat <= 1.01, no
warning, 4 x 1000 draws) and that the posterior is the one the old, non-centred
parameterization samples (the same model), within Monte Carlo error. Models with a correlated
block take Stan's draw-variance mass-matrix adaptation (sampling.mass_matrix_option).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.bayes import build_model
from multilevel.bayes.parameterization import CENTRE_MIN_KAPPA, centred_terms, kappas
from multilevel.formula import build_design, model_frame, parse_formula

PENICILLIN = "diameter ~ 1 + (1 | plate) + (1 | sample)"
EPILEPSY = "count ~ zAge + zBase * Trt + (1 | patient)"


def _design(formula, data, family="gaussian", weights=None):
    parsed = parse_formula(formula)
    data = ml.datasets.load(data) if isinstance(data, str) else data
    return build_design(parsed, model_frame(parsed, data, family=family, weights=weights))


def _simulated(levels, rows, tau, sigma=1.0, family="gaussian", seed=0):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(levels), rows)
    eta = 1.0 + rng.normal(0, tau, levels)[g]
    y = eta + rng.normal(0, sigma, len(g)) if family == "gaussian" else rng.poisson(np.exp(eta))
    return pd.DataFrame({"y": y, "g": pd.Categorical([f"g{i}" for i in g])})


# (formula, data, family, centred terms): textbook models and their decision
DECISIONS = [
    (PENICILLIN, "Penicillin", "gaussian", {"plate", "sample"}),
    (EPILEPSY, "epilepsy", "poisson", {"patient"}),
    ("Reaction ~ Days + (1 | Subject)", "sleepstudy", "gaussian", {"Subject"}),
    ("Yield ~ 1 + (1 | Batch)", "Dyestuff", "gaussian", set()),           # κ 3.6: weak
    ("strength ~ 1 + (1 | batch/cask)", "Pastes", "gaussian", set()),     # nested
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "gaussian", set()),   # a block
    ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "binomial", set()),
    ("TICKS ~ YEAR + (1 | BROOD) + (1 | LOCATION)", "grouseticks", "poisson", set()),  # nested
    ("r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)", "VerbAgg", "bernoulli",
     {"id", "item"}),                                                     # κ 6.8 and 22
    # issue 20's references: USAirlines' six firms κ 6.8, Salamanders' ZIP sites κ 27 (read
    # as Poisson); Owls' Nest (gamma, log link) κ 1.2 in the test below
    ("load ~ log(output) + (1 | firm)", "USAirlines", "beta", {"firm"}),
    ("count ~ mined + (1 | site)", "Salamanders", "zero_inflated_poisson", {"site"}),
    ("count ~ mined + (1 | site)", "Salamanders", "hurdle_poisson", set()),   # no moment form
]


@pytest.mark.parametrize("formula, data, family, expected", DECISIONS,
                         ids=[f"{d[1]}:{d[0]}" for d in DECISIONS])
def test_centring_decision_of_textbook_models(formula, data, family, expected):
    assert centred_terms(_design(formula, data, family), family) == expected


@pytest.mark.parametrize("family, rows, tau, truth", [
    # Gaussian: κ = τ²·rows/σ²; Poisson: κ = τ²·Σμ over a median level (μ = e)
    ("gaussian", 10, 1.0, 10.0),
    ("gaussian", 4, 0.5, 1.0),
    ("poisson", 5, 0.5, 0.25 * 5 * np.e),
])
def test_kappa_recovers_the_information_ratio_of_simulated_data(family, rows, tau, truth):
    design = _design("y ~ 1 + (1 | g)", _simulated(300, rows, tau, family=family), family)
    assert kappas(design, family)["g"] == pytest.approx(truth, rel=0.2)


def test_weak_terms_and_other_links_stay_non_centred():
    weak = _simulated(40, 3, 0.3)
    assert kappas(_design("y ~ 1 + (1 | g)", weak), "gaussian")["g"] < 0.5
    strong = _simulated(40, 20, 2.0).assign(w=1.0)
    assert centred_terms(_design("y ~ 1 + (1 | g)", strong), "gaussian") == {"g"}
    assert centred_terms(_design("y ~ 1 + (1 | g)", strong), "gaussian", link="log") == set()
    assert CENTRE_MIN_KAPPA == 4.0


def test_gaussian_prior_weights_scale_each_rows_information():
    """Row i's variance is σ²/wᵢ: constant weights change nothing (σ² absorbs them); rows
    with weights 1 and 9 (noise SD 1 and 1/3) carry 5 per row on average: κ = τ²·5·rows."""
    data = _simulated(300, 10, 0.5)
    plain = kappas(_design("y ~ 1 + (1 | g)", data), "gaussian")["g"]
    same = kappas(_design("y ~ 1 + (1 | g)", data.assign(w=4.0), weights="w"), "gaussian")["g"]
    assert same == pytest.approx(plain, rel=1e-10)
    rng = np.random.default_rng(2)
    w = np.where(np.arange(len(data)) % 2 == 0, 1.0, 9.0)
    eta = 1.0 + rng.normal(0, 0.5, 300)[data["g"].cat.codes.to_numpy()]
    mixed = data.assign(y=eta + rng.normal(size=len(data)) / np.sqrt(w), w=w)
    assert kappas(_design("y ~ 1 + (1 | g)", mixed, weights="w"), "gaussian")["g"] == \
        pytest.approx(0.25 * 5 * 10, rel=0.2)


@pytest.mark.parametrize("family, link, draw, variance", [
    # Var of the transformed response on the link scale: lognormal σ², gamma trigamma(α),
    # weibull π²/(6α²), beta ≈ 1/(μ(1 − μ)(1 + κ)) at μ ≈ e/(1 + e)
    ("lognormal", None, lambda rng, eta: np.exp(eta + rng.normal(0, 0.8, eta.size)), 0.64),
    ("gamma", "log", lambda rng, eta: rng.gamma(2.0, np.exp(eta) / 2.0), 0.6449),
    ("weibull", None, lambda rng, eta: np.exp(eta) / 0.8862 * rng.weibull(2.0, eta.size),
     np.pi ** 2 / 24),
    ("beta", None, lambda rng, eta: rng.beta(30 / (1 + np.exp(-eta)), 30 / (1 + np.exp(eta))),
     1 / (0.7311 * 0.2689 * 31)),
])
def test_continuous_families_are_read_as_gaussian_on_the_link_scale(family, link, draw, variance):
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(300), 10)
    eta = 1.0 + rng.normal(0, 0.5, 300)[g]
    data = pd.DataFrame({"y": draw(rng, eta), "g": pd.Categorical([f"g{i}" for i in g])})
    assert kappas(_design("y ~ 1 + (1 | g)", data, family), family, link)["g"] == \
        pytest.approx(0.25 * 10 / variance, rel=0.2)


def test_owls_nest_effects_are_weak_next_to_the_gamma_residual():
    # Nest SD 0.017 against a CV of 0.075 (alpha 178): centred, it was R-hat 1.03, ESS 150
    design = _design("ArrivalTime ~ FoodTreatment + SexParent + (1 | Nest)", "Owls", "gamma")
    assert kappas(design, "gamma", "log")["Nest"] == pytest.approx(1.2, abs=0.1)
    assert centred_terms(design, "gamma", "log") == set()
    assert kappas(design, "gamma") == {}   # the inverse link (Bambi's default): no moment form


def _free(built):
    return sorted(rv.name for rv in built.pymc.free_RVs)


def test_auto_builds_centred_terms_and_asks_for_the_low_rank_mass_matrix():
    data = ml.datasets.load("Penicillin")
    auto = build_model(PENICILLIN, data)
    assert _free(auto) == ["1|plate", "1|plate_sigma", "1|sample", "1|sample_sigma", "Intercept", "sigma"]
    assert auto.bambi.backend.low_rank_mass_matrix is True
    old = build_model(PENICILLIN, data, noncentered=True)
    assert "1|plate_offset" in _free(old) and old.bambi.backend.low_rank_mass_matrix is False
    nested = build_model("strength ~ 1 + (1 | batch/cask)", ml.datasets.load("Pastes"))
    assert "1|batch_offset" in _free(nested) and nested.bambi.backend.low_rank_mass_matrix is False


@pytest.mark.parametrize("formula, data, expected", [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", {"adaptation": "draw_diag"}),  # LKJ block
    ("Reaction ~ Days + (Days | Subject) + (1 | Days)", "sleepstudy", {"adaptation": "draw_diag"}),
    ("Reaction ~ Days + (Days || Subject)", "sleepstudy", {}),          # scalar terms: default
    ("Reaction ~ Days + cs(Days | Subject)", "sleepstudy", {}),         # a structure, not LKJ
    ("Yield ~ 1 + (1 | Batch)", "Dyestuff", {}),                        # few levels: default
    ("strength ~ 1 + (1 | batch/cask)", "Pastes", {}),
    (PENICILLIN, "Penicillin", {"adaptation": "low_rank"}),             # centred by the data
])
def test_mass_matrix_adaptation_follows_the_model(formula, data, expected):
    from multilevel.bayes.sampling import mass_matrix_option

    built = build_model(formula, ml.datasets.load(data))
    assert mass_matrix_option(built.bambi.backend) == expected


def _sleepstudy6():
    data = ml.datasets.load("sleepstudy")
    return data[data["Subject"].isin(data["Subject"].unique()[:6])].reset_index(drop=True)


@pytest.mark.parametrize("formula, data, family, few", [
    ("Yield ~ 1 + (1 | Batch)", "Dyestuff", "gaussian", ["Batch"]),            # 6 levels, non-centred
    ("strength ~ 1 + (1 | batch/cask)", "Pastes", "gaussian", ["batch"]),       # 10 batches; 30 casks
    ("Reaction ~ Days + (Days | Subject)", _sleepstudy6, "gaussian", ["Subject"]),   # a block
    ("Reaction ~ Days + (1 | Subject)", _sleepstudy6, "gaussian", []),          # centred by the data
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "gaussian", []),       # 18 levels
    (PENICILLIN, "Penicillin", "gaussian", []),                                  # centred (sample: 6)
    ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "binomial", []),  # 15 herds
])
def test_few_level_non_centred_terms_raise_the_default_target_accept(formula, data, family, few):
    from multilevel.bayes.fit import default_target_accept, few_level_noncentred_terms

    built = build_model(formula, data() if callable(data) else ml.datasets.load(data), family=family)
    assert few_level_noncentred_terms(built) == few
    assert default_target_accept(None, built) == (0.95 if few else 0.9)
    assert default_target_accept(ml.priors.horseshoe(), built) == 0.99   # a preset's own wins


def test_other_families_keep_the_rows_per_level_rule():
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"g": pd.Categorical(np.repeat([f"g{i}" for i in range(5)], 20))})
    data["y"] = rng.gamma(2.0, 1.0, len(data))
    built = build_model("y ~ 1 + (1 | g)", data, family="gamma")
    assert "1|g_offset" not in _free(built) and built.bambi.backend.low_rank_mass_matrix is False
    few = build_model("y ~ 1 + (1 | g)", data.iloc[::2].reset_index(drop=True), family="gamma")
    assert "1|g_offset" in _free(few)
    # ordinal families stay non-centred (their thresholds and group SD mix better so)
    data["r"] = pd.Categorical(rng.integers(1, 4, len(data)), ordered=True)
    assert "1|g_offset" in _free(build_model("r ~ 1 + (1 | g)", data, family="cumulative"))


# ------------------------------------------------------------------ sampled fits
def _fit(formula, data, family, **options):
    options = {"draws": 1000, "tune": 1000, "chains": 4, "seed": 1, "progress": False} | options
    return ml.fit(formula, ml.datasets.load(data), method="bayes", family=family, **options)


@pytest.fixture(scope="module")
def penicillin_default():
    return _fit(PENICILLIN, "Penicillin", "gaussian")   # warnings are errors: none may fire


@pytest.fixture(scope="module")
def epilepsy_default():
    return _fit(EPILEPSY, "epilepsy", "poisson")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["penicillin_default", "epilepsy_default"])
def test_default_fit_meets_the_mixing_target(name, request):
    fit = request.getfixturevalue(name)
    table = fit.summary()
    assert table["ess_bulk"].min() >= 600 and table["r_hat"].max() <= 1.01
    assert fit.convergence.ok, str(fit.convergence)


@pytest.mark.slow
def test_centred_posterior_is_the_non_centred_posterior(penicillin_default):
    """The old parameterization (non-centred, diagonal mass matrix; 4 x 2000 draws for its
    lower ESS) and the default sample one posterior: means agree within Monte Carlo error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the old default's ConvergenceWarning is the point
        old = _fit(PENICILLIN, "Penicillin", "gaussian", noncentered=True, draws=2000, seed=2,
                   check=False)
        old_table = old.summary()
    new_table = penicillin_default.summary()
    for name in new_table.index:
        mcse = np.hypot(old_table.loc[name, "mcse_mean"], new_table.loc[name, "mcse_mean"])
        assert abs(new_table.loc[name, "estimate"] - old_table.loc[name, "estimate"]) < 4 * mcse, name
        assert new_table.loc[name, "sd"] == pytest.approx(old_table.loc[name, "sd"], rel=0.15), name


@pytest.fixture(scope="module")
def sleepstudy_default():
    return _fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", "gaussian")


@pytest.mark.slow
def test_a_correlated_block_mixes_as_in_stan(sleepstudy_default, monkeypatch):
    """sleepstudy's correlation with the draw-variance adaptation: min ESS_bulk 1,024 at seed 1
    (brms 1,061; nutpie's gradient-based default gave 667-871 over seeds 1-3), and the same
    posterior as that default within Monte Carlo error."""
    from multilevel.bayes import sampling

    table = sleepstudy_default.summary()
    assert table["ess_bulk"].min() >= 850 and table["r_hat"].max() <= 1.01
    assert table["ess_bulk"].idxmin() == "cor__(Intercept).Days|Subject"
    monkeypatch.setattr(sampling, "DRAW_VARIANCE_MASS_MATRIX", False)
    old_table = _fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", "gaussian", draws=2000,
                     seed=2).summary()
    # per draw (the old fit has twice the draws)
    assert old_table.loc["cor__(Intercept).Days|Subject", "ess_bulk"] / 2 < table["ess_bulk"].min()
    for name in table.index:
        mcse = np.hypot(old_table.loc[name, "mcse_mean"], table.loc[name, "mcse_mean"])
        assert abs(table.loc[name, "estimate"] - old_table.loc[name, "estimate"]) < 4 * mcse, name
        assert table.loc[name, "sd"] == pytest.approx(old_table.loc[name, "sd"], rel=0.15), name


@pytest.mark.slow
def test_a_six_level_factor_fits_without_divergences_at_defaults():
    """Dyestuff at 0.9 warned in 7 of 8 seeds (divergences, ESS); at its default now, 0.95, in
    none: the fit below may not warn (pytest turns the ConvergenceWarning into an error)."""
    fit = _fit("Yield ~ 1 + (1 | Batch)", "Dyestuff", "gaussian")
    assert fit.settings.target_accept == 0.95
    assert fit.convergence.ok, str(fit.convergence)


# ------------------------------------------------------------------ advice and warnings
def _diverging_fit_report(**context):
    import arviz as az

    from multilevel.bayes.convergence import convergence_report

    rng = np.random.default_rng(0)
    idata = az.from_dict({"posterior": {"b": rng.normal(size=(2, 200))},
                          "sample_stats": {"diverging": np.arange(400).reshape(2, 200) < 3}})
    summary = pd.DataFrame({"r_hat": [1.0], "ess_bulk": [400.0], "ess_tail": [400.0]}, index=["b"])
    return convergence_report(idata, summary, **context)


def test_divergence_advice_names_only_what_the_model_has():
    plain = str(_diverging_fit_report(group_effects=False))
    assert "3 divergent transitions of 400" in plain and "group effects" not in plain
    assert "rescale the predictors" in plain
    shrink = str(_diverging_fit_report(group_effects=False, shrinkage="horseshoe"))
    assert "the horseshoe prior makes one" in shrink and "group effects" not in shrink
    mixed = str(_diverging_fit_report(group_effects=True, shrinkage="lasso"))
    assert "group effects non-centred" in mixed


def test_shrinkage_presets_choose_their_target_accept():
    from multilevel.bayes.fit import TARGET_ACCEPT

    assert ml.priors.horseshoe().target_accept == 0.99
    assert ml.priors.regularized_horseshoe().target_accept == 0.99
    assert ml.priors.lasso().target_accept == 0.99 and ml.priors.lasso(2.0).target_accept == TARGET_ACCEPT
    assert ml.priors.ridge().target_accept == TARGET_ACCEPT == 0.9


def test_a_reloaded_shrinkage_run_records_the_presets_target_accept(tmp_path):
    # the run folder's spec has no [sampling] target_accept: the fit used the preset's
    from multilevel.bayes.fit import default_target_accept
    from multilevel.spec import load_spec

    assert default_target_accept(ml.priors.horseshoe()) == 0.99
    assert default_target_accept({"common": ml.priors.lasso()}) == 0.99
    assert default_target_accept(None) == default_target_accept({}) == 0.9
    spec = tmp_path / "hs.toml"
    spec.write_text('formula = "mpg ~ wt + hp + qsec"\ndata = "mtcars"\n[priors]\npreset = "horseshoe"\n')
    assert default_target_accept(load_spec(spec).priors_argument()) == 0.99


@pytest.mark.slow
def test_convergence_warning_fires_once_at_the_users_line(penicillin_default):
    from multilevel.errors import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        short = _fit(PENICILLIN, "Penicillin", "gaussian", draws=30, tune=30, chains=2)  # compiled
        short.summary()
        short.summary()
    fired = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(fired) == 1 and "Effective sample size" in str(fired[0].message)
    assert fired[0].filename == __file__
