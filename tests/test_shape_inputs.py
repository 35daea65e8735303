"""The row count as an input: refits on training sets of different sizes compile once.

K-fold folds of unequal size (k = 7 on sleepstudy's 180 rows: training sets of 154 and
155 rows) were one compilation per training-set size, because the lifted model's row
count was a static shape. Refits now lift with symbolic rows
(``multilevel.bayes.cache.symbolic_rows``, set by ``compare.refit.run_job``): one graph,
one compile key, one compilation, whose log density is PyMC's for every training set.
"""

from __future__ import annotations

import numpy as np
import pytest

from multilevel.bayes import cache
from multilevel.bayes.datainputs import lift_data, set_values
from multilevel.bayes.model import build_model
from multilevel.compare.refit import make_folds

CASES = {
    "gaussian slopes": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "gaussian", "Subject"),
    "poisson": ("TICKS ~ YEAR + cHEIGHT + (1 | BROOD)", "grouseticks", "poisson", "BROOD"),
}


def _two_training_sets(data, group: str):
    """Two training sets of different sizes holding every level of ``group``: the K-fold
    folds of k = 7 when they keep every level, else the data less one or two rows."""
    folds = make_folds(len(data), k=7, seed=0)
    sets = {int((folds != f).sum()): data[folds != f] for f in np.unique(folds)
            if data.loc[folds != f, group].nunique() == data[group].nunique()}
    if len(sets) >= 2:
        return [sets[n].reset_index(drop=True) for n in sorted(sets)[:2]]
    counts = data[group].map(data[group].value_counts())
    spare = np.flatnonzero(counts.to_numpy() >= 3)
    return [data.drop(data.index[spare[:k]]).reset_index(drop=True) for k in (1, 2)]


def _stored(model) -> list[str]:
    """The variables Bambi asks nutpie to store (all but the likelihood's mean)."""
    return [v.name for v in model.unobserved_value_vars if v.name != "mu" and not v.name.endswith("__")]


@pytest.mark.parametrize("case", list(CASES))
def test_symbolic_rows_give_one_key_and_pymcs_log_density_on_every_size(case):
    formula, dataset, family, group = CASES[case]
    import multilevel as ml

    sets = _two_training_sets(ml.datasets.load(dataset), group)
    assert len(sets[0]) != len(sets[1])
    models = [build_model(formula, d, family=family).pymc for d in sets]
    lifted = [lift_data(m, rows=True) for m in models]
    assert [v.row_dims for v in lifted] == [("__obs__",)] * 2
    keys = {cache.model_key(v.model, _stored(m), v.row_dims) for v, m in zip(lifted, models)}
    assert len(keys) == 1
    fixed = {cache.model_key(lift_data(m).model, _stored(m)) for m in models}
    assert len(fixed) == 2   # with static rows they are two structures

    rng = np.random.default_rng(5)
    start = models[0].initial_point(0)
    points = [{k: v + rng.normal(size=np.shape(v)) * 0.3 for k, v in start.items()} for _ in range(3)]
    # Python implementations (no C compilation): a fast test
    originals = [m.compile_logp(mode="FAST_COMPILE") for m in models]
    graph = lifted[0].model.compile_logp(mode="FAST_COMPILE")   # one graph for both sizes
    for i, values in ((0, lifted[0].values), (1, lifted[1].values), (0, lifted[0].values)):
        set_values(lifted[0], values)
        for p in points:
            assert graph(p) == pytest.approx(originals[i](p), rel=1e-12)
    own = lifted[1].model.compile_logp(mode="FAST_COMPILE")
    assert all(own(p) == pytest.approx(originals[1](p), rel=1e-12) for p in points)


def test_ordinary_fits_keep_fixed_rows(sleepstudy):
    """Outside refits the compiled code keeps its static shapes (and its cache entries)."""
    model = build_model("Reaction ~ Days + (1 | Subject)", sleepstudy).pymc
    assert lift_data(model).row_dims == ()
    with cache.symbolic_rows():
        assert cache._lift(model, {}, _stored(model)).row_dims == ("__obs__",)
        # a trace storing a variable along the rows (mu) keeps the rows fixed
        assert cache._lift(model, {}, None).row_dims == ()
    assert cache._lift(model, {}, _stored(model)).row_dims == ()


def test_a_row_count_left_in_a_static_shape_keeps_the_rows_fixed():
    """The hurdle families assert the row count in a shape the rebuild does not reach:
    those models keep fixed rows (one compilation per size, as before), never a graph
    that would fail on another size."""
    import multilevel as ml

    data = ml.datasets.load("grouseticks")
    model = build_model("TICKS ~ YEAR + (1 | BROOD)", data, family="hurdle_poisson").pymc
    lifted = lift_data(model, rows=True)
    assert lifted.row_dims == () and lifted.buffers[0].type.shape == lifted.values[0].shape
