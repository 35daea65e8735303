"""The structure-generic log density (multilevel.bayes.generic) is PyMC's model's density.

Table-driven: for each model of the class, the compiled generic density and its gradient
equal PyMC's own (``model.logp()`` and ``model.dlogp()``, evaluated by PyTensor's Python
linker) at random points, and the expansion equals PyMC's stored variables; models
outside the class are refused with a reason and go to the per-structure compilation.
Then: a fit on the generic route gives the per-structure route's posterior within Monte
Carlo error, the same seed gives the same draws, and the kernel folder is safe.
"""

from __future__ import annotations

import bambi as bmb
import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.bayes import cache, generic
from multilevel.bayes.generic import NotGeneric, build_layout, verify
from multilevel.bayes.generic import kernel as K
from multilevel.bayes.generic.layout import _function
from multilevel.bayes.model import build_model


def _sim(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(list("abcdefghijkl"), 15)
    u = dict(zip("abcdefghijkl", rng.normal(0, 0.7, 12)))
    x = rng.normal(size=len(g))
    eta = -0.3 + 0.8 * x + np.array([u[k] for k in g])
    exposure = rng.uniform(0.5, 3.0, len(g))
    return pd.DataFrame({
        "g": g, "x": x, "f": rng.choice(["lo", "mid", "hi"], len(g)), "exposure": exposure,
        "yb": (rng.uniform(size=len(g)) < 1 / (1 + np.exp(-eta))).astype(int),
        "count": rng.poisson(exposure * np.exp(eta)),
        "yg": 2.0 + eta + rng.normal(0, 0.5, len(g)),
    })


SIM = _sim()
# name: (formula, data, family, priors)
IN_CLASS = {
    "sleepstudy correlated": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "gaussian", None),
    "sleepstudy ||": ("Reaction ~ Days + (Days || Subject)", "sleepstudy", "gaussian", None),
    "sleepstudy three-term block": ("Reaction ~ Days + (1 + Days + I(Days ** 2) | Subject)",
                                    "sleepstudy", "gaussian", None),
    "Penicillin crossed": ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", "gaussian", None),
    "Pastes nested": ("strength ~ 1 + (1 | batch/cask)", "Pastes", "gaussian", None),
    "cake factors": ("angle ~ recipe * temperature + (1 | recipe:replicate)", "cake", "gaussian", None),
    "factor slope block": ("yg ~ x + f + (f | g)", SIM, "gaussian", None),
    "two blocks": ("yg ~ x + (x | g) + (1 | f)", SIM, "gaussian", None),
    "cbpp binomial": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
                      "binomial", None),
    "bernoulli": ("yb ~ x + (1 | g)", SIM, "bernoulli", None),
    "bernoulli correlated": ("yb ~ x + (x | g)", SIM, "bernoulli", None),
    "poisson offset": ("count ~ x + offset(log(exposure)) + (1 | g)", SIM, "poisson", None),
    "epilepsy": ("count ~ zAge + zBase * Trt + (1 | patient)", "epilepsy", "poisson", None),
    "grouseticks": ("TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)", "grouseticks",
                    "poisson", None),
    # the same size as "large data" below: a Poisson model keeps the generic density
    "large poisson": ("count ~ x + (x | g)", pd.concat([SIM] * 40, ignore_index=True), "poisson",
                      None),
    "user priors": ("Reaction ~ Days + (1 | Subject)", "sleepstudy", "gaussian",
                    {"Days": bmb.Prior("Normal", mu=5, sigma=3),
                     "1|Subject": bmb.Prior("Normal", mu=0, sigma=bmb.Prior("Exponential", lam=0.05)),
                     "sigma": bmb.Prior("HalfCauchy", beta=20)}),
    "half-normal residual SD": ("Reaction ~ Days + (1 | Subject)", "sleepstudy", "gaussian",
                                {"sigma": bmb.Prior("HalfNormal", sigma=40)}),
}
OUT_OF_CLASS = {
    "student t": ("Reaction ~ Days + (1 | Subject)", "sleepstudy", "t", None),
    "ridge preset": ("Reaction ~ Days + (1 | Subject)", "sleepstudy", "gaussian", ml.priors.ridge()),
    "distributional sigma": (["Reaction ~ Days + (1 | Subject)", "sigma ~ Days"], "sleepstudy",
                             "gaussian", None),
    "ar1 structure": ("yg ~ x + ar1(0 + f | g)", SIM, "gaussian", None),
    # 7,200 rows x (1 + 2 entries): above the Gaussian limit, where PyTensor's code is faster
    "large data": ("yg ~ x + (x | g)", pd.concat([SIM] * 40, ignore_index=True), "gaussian", None),
}


def _data(data):
    return ml.datasets.load(data) if isinstance(data, str) else data


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MULTILEVEL_KERNEL_DIR", str(tmp_path_factory.mktemp("kernels")))
        K._MEMORY.clear()
        yield K.load_kernel()
    K._MEMORY.clear()


def _pymc_density(model):
    values = model.value_vars
    return _function(values, model.logp()), _function(values, model.dlogp())


@pytest.mark.parametrize("name", list(IN_CLASS))
def test_density_and_gradient_equal_pymcs(name, kernel):
    formula, data, family, priors = IN_CLASS[name]
    model = build_model(formula, _data(data), family, priors).pymc
    layout = build_layout(model)
    verify(layout, kernel)   # also the expansion against PyMC's stored variables
    logp_fn, dlogp_fn = _pymc_density(model)
    _, slices, shapes = layout.shape_info
    rng = np.random.default_rng(11)
    for scale in (0.3, 1.0):
        x = layout.start() + rng.uniform(-scale, scale, layout.n_dim)
        values = [x[s].reshape(shape) for s, shape in zip(slices, shapes[:len(model.value_vars)])]
        code, logp, grad = kernel.logp_at(x, layout.arrays)
        assert code == 0
        assert logp == pytest.approx(float(logp_fn(*values)), rel=1e-10)
        np.testing.assert_allclose(grad, np.asarray(dlogp_fn(*values)), rtol=1e-8, atol=1e-8)
    # the layout's shapes, read from the static types, are PyMC's evaluated ones
    evaluated = model.eval_rv_shapes()
    assert [tuple(s) for s in shapes[:len(model.value_vars)]] == \
        [tuple(int(d) for d in evaluated[v.name]) for v in model.value_vars]


@pytest.mark.parametrize("name", list(OUT_OF_CLASS))
def test_models_outside_the_class_are_refused_with_a_reason(name):
    formula, data, family, priors = OUT_OF_CLASS[name]
    model = build_model(formula, _data(data), family, priors).pymc
    with pytest.raises(NotGeneric) as err:
        build_layout(model)
    assert str(err.value)
    if name == "large data":
        assert "compiled per structure" in str(err.value)


def test_a_wrong_layout_is_caught_and_the_model_compiled_per_structure(kernel, monkeypatch, caplog):
    model = build_model("Reaction ~ Days + (1 | Subject)", _data("sleepstudy")).pymc
    layout = build_layout(model)
    layout.arrays["n_sd"] = layout.arrays["n_sd"] * 1.5   # a misread prior scale
    with pytest.raises(NotGeneric, match="differs from PyMC"):
        verify(layout, kernel)
    bad = dict(layout.arrays, z_src=layout.arrays["z_src"] + 10 ** 6)   # would read outside
    layout.arrays = bad
    with pytest.raises(NotGeneric, match="outside"):
        verify(layout, kernel)
    # through compile_nutpie: the generic route declines, the per-structure one compiles
    monkeypatch.setenv("MULTILEVEL_CACHE", "0")
    real = generic.build_layout

    def misread(model, var_names=None):
        out = real(model, var_names)
        out.arrays["n_mu"] = out.arrays["n_mu"] + 1.0
        return out

    monkeypatch.setattr(generic, "build_layout", misread)
    stats = {}
    with caplog.at_level("WARNING", logger="multilevel.cache"):
        compiled = cache.compile_nutpie(model, stats=stats, generic=generic.compile_generic)
    assert "differs from PyMC" in stats["generic"] and stats["cache"] == "off"
    assert "compiled per structure instead" in caplog.text   # a defect, said
    assert compiled.n_dim == layout.n_dim


def _fit(seed, **env):
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        return ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", draws=1000, seed=seed)


def test_the_generic_route_samples_the_same_posterior(kernel):
    ours = _fit(5)
    assert ours.timings["compile_cache"] == "generic"
    per_structure = _fit(6, MULTILEVEL_GENERIC="0")
    assert per_structure.timings["compile_cache"] != "generic"
    a, b = ours.summary(), per_structure.summary()
    tol = 4.5 * np.hypot(a["mcse_mean"], b["mcse_mean"])
    assert (np.abs(a["estimate"] - b["estimate"]) < tol).all(), (a, b)
    assert a["r_hat"].max() < 1.01


def test_the_same_seed_gives_the_same_draws(kernel):
    one, two = _fit(9), _fit(9)
    assert one.timings["compile_cache"] == two.timings["compile_cache"] == "generic"
    for name in ("Days", "sigma", "corr|Subject", "1|Subject"):
        np.testing.assert_array_equal(one.idata.posterior[name].values, two.idata.posterior[name].values)


def test_the_kernel_is_stored_once_and_a_damaged_entry_is_compiled_again(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTILEVEL_KERNEL_DIR", str(tmp_path))
    K._MEMORY.clear()
    stats = {}
    first = K.load_kernel(stats)
    assert stats["kernel"] == "compiled"
    K._MEMORY.clear()
    stats = {}
    K.load_kernel(stats)
    assert stats["kernel"] == "disk"
    (entry,) = tmp_path.glob("generic-*.pkl")
    entry.write_bytes(entry.read_bytes()[:-100] + b"\x00" * 100)
    K._MEMORY.clear()
    stats = {}
    again = K.load_kernel(stats)
    assert stats["kernel"] == "compiled"
    assert K._check_values(again)[1] == pytest.approx(K._check_values(first)[1], rel=1e-12)
    K._MEMORY.clear()


def test_malformed_arrays_never_reach_the_compiled_code():
    arrays = K._example()
    K.check_arrays(arrays, 2)
    for name, value in [("n_idx", [5]), ("expand_idx", [-1]), ("family", [7]), ("sig_idx", [])]:
        with pytest.raises(ValueError):
            K.check_arrays(dict(arrays, **{name: np.array(value, dtype=np.int64)}), 2)
    with pytest.raises(ValueError, match="different lengths"):
        K.check_arrays(dict(arrays, n_mu=np.zeros(3)), 2)


@pytest.mark.slow
def test_leave_one_subject_out_compiles_nothing_per_fold(bayes_ss_slopes, kernel, tmp_path, monkeypatch):
    """K-fold's 18 training sets (each its own rows) run the one generic kernel: no
    compilation per fold or per structure; the refits store nothing in the compile cache."""
    monkeypatch.setenv("MULTILEVEL_CACHE_DIR", str(tmp_path))
    before = cache.compilations()
    res = ml.compare.loo(bayes_ss_slopes, high_k="kfold", group_by="Subject",
                         refit={"draws": 100, "tune": 100, "chains": 1})
    assert res.method == "logo" and res.n_refits == 18
    assert res.n_compilations == 0 and cache.compilations() == before
    assert not list(tmp_path.rglob("*.pkl"))
    assert np.isfinite(res.elpd.elpd)


def test_verification_records_are_kept_and_capped(kernel, monkeypatch):
    model = build_model("Reaction ~ Days + (1 | Subject)", _data("sleepstudy")).pymc
    layout = build_layout(model)
    fingerprint = layout.fingerprint()
    kernel.verified.discard(fingerprint)
    verify(layout, kernel)
    kernel.verified.discard(fingerprint)
    assert K.is_verified(kernel, fingerprint)   # read back from the folder
    folder = K._verified_path(kernel, fingerprint).parent
    monkeypatch.setattr(K, "MAX_VERIFIED", 10)
    for i in range(12):
        K.mark_verified(kernel, f"{i:064x}")
    assert len(list(folder.iterdir())) <= 10
    # a layout that differs in one number is verified again, and caught when wrong
    layout.arrays["y"] = layout.arrays["y"] + 1e-3
    assert layout.fingerprint() != fingerprint
    with pytest.raises(NotGeneric, match="differs from PyMC"):
        verify(layout, kernel)


def test_sbc_replicates_run_the_generic_density_under_the_simulating_priors(kernel):
    """SBC fixes each replicate's priors to the simulating model's (cache.fixed_priors):
    the model with those priors is read and verified like any other, nothing compiled."""
    before = cache.compilations()
    res = ml.sbc("Reaction ~ Days + (1 | Subject)", "sleepstudy", n=3, seed=4, draws=60, tune=60,
                 chains=1, thin=1, progress=False)
    assert res.n == 3 and not res.failures
    assert res.n_compilations == 0 == cache.compilations() - before


def test_a_reading_that_fails_unexpectedly_falls_back_to_the_per_structure_route(monkeypatch):
    model = build_model("Reaction ~ Days + (1 | Subject)", _data("sleepstudy")).pymc

    def broken(model, var_names=None):
        raise NotImplementedError("an op without a Python implementation")

    monkeypatch.setattr(generic, "build_layout", broken)
    stats = {}
    assert generic.compile_generic(model, stats=stats) is None
    assert stats["generic"].startswith("not read (NotImplementedError")


# ------------------------------------------------------------ loading the stored kernel
def _stored_payload():
    import pickle

    key = K.kernel_key()
    body = cache._read_entry(K.kernel_dir() / f"generic-{key[:24]}.pkl", key)
    return pickle.loads(body)


def test_the_kernels_object_code_is_read(kernel):
    """The ELF reader finds what the object code needs from the process (the density's
    work arrays come from numba's runtime allocator) and no environment is read by code."""
    from multilevel.bayes.objcode import read_symbols

    payload = _stored_payload()
    for part in ("logp", "expand"):
        symbols = read_symbols(payload[part][0][2][0])
        assert symbols is not None
        assert "NRT_MemInfo_call_dtor" in symbols.undefined
        assert all(name.isidentifier() for name in symbols.undefined)
        assert payload[part][8] == ()   # slim: every stored environment is one code reads


def test_a_stored_kernel_loads_without_numbas_registries(kernel):
    """In a new process the stored kernel links with numba's runtime alone (no context
    refresh, no numba.np.arrayobj: 0.2 s of a cached fit) and computes its stored values."""
    import os
    import subprocess
    import sys

    code = ("import sys\n"
            "from multilevel.bayes.generic import kernel as K\n"
            "from multilevel.bayes import parallel_compile as P\n"
            "stats = {}\n"
            "kernel = K.load_kernel(stats)\n"
            "print(kernel.linked, 'context' in P.LAST_LINK)\n"   # linked on first use
            "kernel.logp.address\n"
            "print(stats['kernel'], P.LAST_LINK['context'], 'numba.np.arrayobj' in sys.modules)\n")
    # the kernel fixture's folder is in this process's environment (MULTILEVEL_KERNEL_DIR)
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "disk", "runtime", "False"]


def test_an_unresolved_symbol_refreshes_numbas_context(kernel):
    """Object code that needs a symbol the process does not have gets numba's whole
    context (LLVM would abort the process otherwise); unreadable code too."""
    from multilevel.bayes.objcode import prepare, read_symbols

    class Context:
        refreshed = 0

        def refresh(self):
            self.refreshed += 1

    reduced = _stored_payload()["logp"]
    name, kind, (code, bitcode) = reduced[0]
    assert prepare(Context(), reduced) == "runtime"
    renamed = code.replace(b"NRT_MemInfo_call_dtor\x00", b"NRT_MemInfo_call_dtoX\x00")
    assert "NRT_MemInfo_call_dtoX" in read_symbols(renamed).undefined
    for broken in (renamed, code[:200], b"\x7fELF" + b"\x00" * 60):
        context = Context()
        assert prepare(context, ((name, kind, (broken, bitcode)), *reduced[1:])) == "refresh"
        assert context.refreshed == 1
    assert read_symbols(code[:200]) is None and read_symbols(b"") is None


def test_the_input_record_is_nutpies():
    """The kernel's user-data record, built without nutpie's Python package, is the one
    nutpie's make_user_data gives for the same inputs, byte for byte."""
    from nutpie.compile_pymc import make_user_data

    class Vector:   # what make_user_data reads of a shared variable
        ndim = 1

        def __init__(self, name):
            self.name = name

    packed = K.pack(K._example())
    theirs = make_user_data({Vector(name): name for name in K.PACKED}, packed)
    ours = K.Kernel.user_data(packed)
    assert ours.dtype == theirs.dtype == K.record_dtype()
    assert ours.tobytes() == theirs.tobytes()


def test_a_kernel_that_is_not_stored_is_not_compiled_where_asked(tmp_path, monkeypatch):
    """A sampler's child (multilevel.bayes.speculate) never compiles the kernel itself."""
    monkeypatch.setenv("MULTILEVEL_KERNEL_DIR", str(tmp_path))
    saved = dict(K._MEMORY)
    K._MEMORY.clear()
    try:
        with pytest.raises(LookupError, match="no stored generic kernel"):
            K.load_kernel(compile_missing=False)
        assert not list(tmp_path.glob("generic-*.pkl"))   # nothing compiled, nothing stored
    finally:
        K._MEMORY.clear()
        K._MEMORY.update(saved)


@pytest.mark.parametrize("compile_missing", [True, False])
def test_stored_code_that_misses_its_values_is_compiled_again_when_first_used(
        tmp_path, monkeypatch, compile_missing):
    """A stored kernel is linked on first use; code that does not compute the stored
    check values is then compiled again (or, in a sampler's child, refused)."""
    import pickle

    from multilevel.bayes import cache as C

    monkeypatch.setenv("MULTILEVEL_KERNEL_DIR", str(tmp_path))
    saved = dict(K._MEMORY)
    K._MEMORY.clear()
    try:
        K.load_kernel()
        (entry,) = tmp_path.glob("generic-*.pkl")
        key = entry.read_bytes().split(b"\n")[1].decode()
        payload = pickle.loads(C._read_entry(entry, key))
        codes, values = payload["check"]
        payload["check"] = (codes, np.asarray(values) + 1.0)   # trusted entry, other values
        C._write_atomic(entry, payload)
        K._MEMORY.clear()
        stats, compiled = {}, C._COMPILED[0]
        kernel = K.load_kernel(stats, compile_missing=compile_missing)
        assert stats["kernel"] == "disk" and not kernel.linked
        if not compile_missing:
            with pytest.raises(LookupError, match="does not compute its stored values"):
                _ = kernel.logp.address   # links it
            return
        assert kernel.expand.address != 0 and kernel.linked
        assert stats["kernel"] == "compiled" and C._COMPILED[0] == compiled + 1
        assert K._check_values(kernel)[0] == [0, 0]
    finally:
        K._MEMORY.clear()
        K._MEMORY.update(saved)
