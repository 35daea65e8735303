"""A PyMC model read into the generic density's arrays (:mod:`multilevel.bayes.generic.kernel`).

Everything is read from the model PyMC holds, not from how it was meant to be built:
each free variable's distribution, transform and (constant) parameters; the likelihood's
family and link; the linear predictor as a linear map of its coefficient tensors, found
by evaluating it at probe values (PyTensor's Python linker: nothing is compiled); the
group effects' offsets and scales; the stored variables' positions. Whatever falls
outside the class raises :class:`NotGeneric`, and the model is compiled per structure
as before. :func:`multilevel.bayes.generic.verify` then compares the result with
PyMC's own log density and stored variables before it is used.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from multilevel.bayes.generic.density import FAMILY_CODES, LOG_2_PYMC, pool_offsets
from multilevel.bayes.generic.kernel import FLOATS, INTS

# most coefficients of the dense part of the predictor (each probed by itself)
MAX_DENSE_PROBE = 256
# Above this much predictor work per evaluation (rows x (1 + the most group-effect entries
# of a row)), a model is compiled per structure. Per gradient, y ~ x + (1 | g) + (x | h),
# C callbacks through ctypes, against PyTensor's code compiled per structure (2026-12-05):
#   Gaussian   1,500 rows 11.6 vs 13.0 us, 5,000 27.6 vs 27.1, 10,000 52 vs 48, 20,000 101
#              vs 91, 100,000 512 vs 442: beyond ~5,000 rows the per-structure code is 8-16 %
#              faster, and over a fit's ~130,000 gradients that repays its one compile;
#   Poisson    1,500 rows 15 vs 28 us, 20,000 148 vs 351, 100,000 777 vs 2,054;
#   Bernoulli  1,500 rows 28 vs 41 us, 20,000 329 vs 473: for these the generic code is
#              faster at every size measured, and only the size of its arrays bounds it.
# sleepstudy's (Days | Subject) is 540, grouseticks' 1,209.
MAX_WORK = {"gaussian": 20_000}
MAX_WORK_OTHER = 2_000_000
# the class: (family, observed op, link op at the top of its mean parameter)
FAMILIES = {"NormalRV": "gaussian", "BernoulliRV": "bernoulli", "PoissonRV": "poisson",
            "BinomialRV": "binomial"}
LINKS = {"gaussian": None, "bernoulli": "Sigmoid", "poisson": "Exp", "binomial": "Sigmoid"}


class NotGeneric(Exception):
    """The model is outside the generic class (the message says where)."""


@dataclass
class Layout:
    """The generic density's arrays for one model, and what nutpie needs besides."""

    family: str
    arrays: dict
    n_dim: int
    shape_info: tuple
    reparam: list
    support: dict                       # value variable -> support point (transformed)
    model: object = None
    values: list = field(default_factory=list)      # the value variables, in θ's order
    remaining: list = field(default_factory=list)   # the stored variables after them

    def start(self) -> np.ndarray:
        """The support point as one unconstrained vector."""
        parts = [np.asarray(self.support[v.name], dtype=float).reshape(-1) for v in self.values]
        return np.concatenate(parts) if parts else np.zeros(0)

    def reference_points(self) -> list[tuple[np.ndarray, float, np.ndarray]]:
        """(x, PyMC's log density, PyMC's expanded draw) at the support point and at a
        jittered point, evaluated by PyTensor's Python linker (nothing compiled)."""
        import pytensor

        with pytensor.config.change_flags(traceback__limit=0):
            logp_fn = _function(self.values, self.model.logp())
            stored_fn = _function(self.values, self.remaining) if self.remaining else None
        x0 = self.start()
        points = []
        names, slices, shapes = self.shape_info
        for x in (x0, x0 + np.random.default_rng(7).uniform(-1.0, 1.0, size=x0.shape)):
            values = [x[s].reshape(shape) for s, shape in zip(slices, shapes[:len(self.values)])]
            stored = [np.asarray(v, dtype=float) for v in stored_fn(*values)] if stored_fn else []
            for name, value, shape in zip(names[len(self.values):], stored, shapes[len(self.values):]):
                if value.shape != tuple(shape):
                    raise NotGeneric(f"the stored variable {name} has shape {value.shape}, not {shape}")
            expanded = np.concatenate([x, *[v.reshape(-1) for v in stored]])
            points.append((x, float(logp_fn(*values)), expanded))
        return points

    def fingerprint(self) -> str:
        """A digest of the arrays, the storage and the model's variables (names,
        distributions, transforms): a layout verified once need not be verified again."""
        import hashlib

        h = hashlib.sha256(self.family.encode())
        for name in sorted(self.arrays):
            value = np.ascontiguousarray(self.arrays[name])
            h.update(name.encode() + str(value.dtype).encode() + str(value.shape).encode())
            h.update(value.tobytes())
        h.update(repr(self.shape_info).encode())
        model = self.model
        parts = [(rv.name, type(rv.owner.op).__name__, type(model.rvs_to_transforms.get(rv)).__name__)
                 for rv in [*model.free_RVs, *model.observed_RVs]]
        parts += [("det", d.name) for d in model.deterministics]
        parts += [("potential", p.name) for p in model.potentials]
        h.update(repr(parts).encode())
        return h.hexdigest()


def _py_mode():
    from pytensor.compile.mode import Mode

    return Mode(linker="py", optimizer=None)


def _function(inputs, outputs):
    import pytensor

    return pytensor.function(inputs, outputs, mode=_py_mode(), on_unused_input="ignore")


def _value_shapes(model, values) -> dict:
    """Each value variable's shape: its static type's where every one is complete (Bambi's
    models: their dims are constants), else PyMC's ``eval_rv_shapes``, which compiles a
    PyTensor function (0.07 s of a cached fit, the first compilation of its process)."""
    static = {v.name: v.type.shape for v in values}
    if all(None not in shape for shape in static.values()):
        return static
    return model.eval_rv_shapes()


class _Reader:
    """Reads a model in stages (free variables, group effects, likelihood, predictor,
    storage), collecting the density's arrays."""

    def __init__(self, model, var_names):
        self.model = model
        self.var_names = var_names
        self.free = list(model.free_RVs)
        self.values = [model.rvs_to_values[rv] for rv in self.free]
        self.random = set(self.free) | set(model.observed_RVs) | set(model.value_vars)
        self.dets = {d.name: d for d in model.deterministics}
        shapes = _value_shapes(model, self.values)
        self.shape = {}   # value var name -> shape
        self.pos = {}     # value var name -> θ positions (array of its shape)
        self.rv_pos = {}  # rv name -> θ positions
        start = 0
        for rv, value in zip(self.free, self.values):
            shape = tuple(int(s) for s in shapes[value.name])
            size = int(np.prod(shape))
            self.shape[value.name] = shape
            self.pos[value.name] = np.arange(start, start + size).reshape(shape)
            self.rv_pos[rv.name] = self.pos[value.name]
            start += size
        self.n_dim = start
        self.ints = {name: [] for name in INTS}
        self.floats = {name: [] for name in FLOATS}
        self.support = {}
        self.blocks = {}                                   # LKJ variable -> its rows
        self.b_pos, self.sd_pos, self.corr_pos = {}, {}, {}   # stored name -> pool positions
        self.n_eff = self.n_pairs = 0

    # ------------------------------------------------------------------ helpers
    def constants(self, graphs, what: str) -> list[np.ndarray]:
        from pytensor.graph.traversal import ancestors

        if any(a in self.random for a in ancestors(graphs)):
            raise NotGeneric(f"{what}: a parameter depends on another random variable")
        return [np.asarray(v, dtype=float) for v in _function([], list(graphs))()]

    def positions_through(self, graph, rv, what: str) -> np.ndarray:
        """The θ positions of ``rv`` as ``graph`` (a broadcast or reshape of ``rv``) reads them."""
        from pytensor.graph import clone_replace
        from pytensor.graph.traversal import ancestors

        others = [a for a in ancestors([graph], blockers=[rv]) if a in self.random and a is not rv]
        if others:
            raise NotGeneric(f"{what}: its scale depends on more than one variable")
        stand_in = rv.type()
        probe = clone_replace(graph, {rv: stand_in})
        index = _function([stand_in], probe)(self.rv_pos[rv.name].astype(float))
        return np.asarray(index, dtype=float)

    def add(self, **parts) -> None:
        for name, values in parts.items():
            target = self.ints if name in self.ints else self.floats
            target[name].append(np.asarray(values).reshape(-1))

    # ------------------------------------------------------------- free variables
    def free_variables(self) -> None:
        for rv, value in zip(self.free, self.values):
            if self.model.rvs_to_initial_values.get(rv) is not None:
                raise NotGeneric(f"{rv.name}: has an initial value of its own")
            kind = type(rv.owner.op).__name__
            transform = type(self.model.rvs_to_transforms.get(rv)).__name__
            pos = self.pos[value.name]
            reader = _KINDS.get((kind, transform))
            if reader is None:
                raise NotGeneric(f"{rv.name}: {kind} with {transform} is not in the generic class")
            reader(self, rv, pos)

    def _normal(self, rv, pos) -> None:
        mu, sigma = rv.owner.inputs[2:4]
        (mu_v,) = self.constants([mu], rv.name)
        mu_v = np.broadcast_to(mu_v, pos.shape)
        self.support[self.model.rvs_to_values[rv].name] = np.array(mu_v, dtype=float)
        try:
            (sd,) = self.constants([sigma], rv.name)
        except NotGeneric:   # a centred group effect: its scale is another parameter
            scale = _strip(sigma)
            if scale not in self.free or type(self.model.rvs_to_transforms.get(scale)).__name__ != "LogTransform":
                raise NotGeneric(f"{rv.name}: its scale is not a positive parameter") from None
            index = np.broadcast_to(self.positions_through(sigma, scale, rv.name), pos.shape)
            self.add(m_idx=pos, m_mu=mu_v, m_sidx=np.rint(index).astype(np.int64))
            return
        self.add(n_idx=pos, n_mu=mu_v, n_sd=np.broadcast_to(sd, pos.shape))

    def _positive(self, rv, pos, values: dict, support: np.ndarray) -> None:
        self.add(log_idx=pos, **{k: np.broadcast_to(v, pos.shape) for k, v in values.items()})
        self.support[self.model.rvs_to_values[rv].name] = np.log(np.broadcast_to(support, pos.shape)).astype(float)

    def _half_normal(self, rv, pos) -> None:
        loc, sigma = self.constants(rv.owner.inputs[2:4], rv.name)
        if np.any(loc != 0):
            raise NotGeneric(f"{rv.name}: HalfNormal with a non-zero location")
        self._positive(rv, pos, {"h_idx": pos, "h_sd": sigma}, sigma)

    def _half_student(self, rv, pos) -> None:
        from scipy.special import gammaln

        nu, sigma = self.constants(rv.owner.inputs[2:4], rv.name)
        nu, sigma = np.broadcast_arrays(nu, sigma)
        const = (LOG_2_PYMC + gammaln((nu + 1.0) / 2.0) - gammaln(nu / 2.0)
                 - 0.5 * np.log(nu * np.pi * sigma ** 2))
        self._positive(rv, pos, {"t_idx": pos, "t_nu": nu, "t_sd": sigma, "t_const": const}, sigma)

    def _exponential(self, rv, pos) -> None:
        (scale,) = self.constants(rv.owner.inputs[2:3], rv.name)
        self._positive(rv, pos, {"e_idx": pos, "e_scale": scale}, scale)

    def _half_cauchy(self, rv, pos) -> None:
        *loc, beta = self.constants(rv.owner.inputs[2:], rv.name)   # PyMC's: (beta,)
        if loc and np.any(loc[0] != 0):
            raise NotGeneric(f"{rv.name}: HalfCauchy with a non-zero location")
        self._positive(rv, pos, {"k_idx": pos, "k_beta": beta}, beta)

    def _lkj(self, rv, pos) -> None:
        from scipy.special import gammaln

        n, eta, sd_dist = rv.owner.inputs[1:4]
        n, eta = self.constants([n, eta], rv.name)
        n = int(n)
        if sd_dist.owner is None or type(sd_dist.owner.op).__name__ != "HalfNormalRV":
            raise NotGeneric(f"{rv.name}: its standard deviations are not HalfNormal")
        loc, sd_scale = self.constants(sd_dist.owner.inputs[2:4], rv.name)
        if np.any(loc != 0) or pos.shape != (n * (n + 1) // 2,):
            raise NotGeneric(f"{rv.name}: an LKJ block of another shape")
        first_row = sum(len(r) for r in self.floats["r_sd"])
        rows = np.concatenate([np.full(i + 1, i) for i in range(n)])
        diag = pos[np.cumsum(np.arange(1, n + 1)) - 1]
        k = np.arange(1, n)
        const = (n - 1) * gammaln(eta + 0.5 * (n - 1)) - np.sum(0.5 * k * np.log(np.pi)
                                                                 + gammaln(eta + 0.5 * (n - 1 - k)))
        self.add(log_idx=diag, l_ent=pos, l_row=first_row + rows, r_diag=diag,
                 r_sd=np.broadcast_to(sd_scale, (n,)), r_coef=2 * eta - 3 + n - np.arange(n),
                 r_pos=np.arange(n, dtype=float), lkj_const=[const])
        self.blocks[rv.name] = {"n": n, "pos": pos, "first_row": first_row}
        self.support[self.model.rvs_to_values[rv].name] = np.zeros(pos.shape)


    # ------------------------------------------------------------ group effects
    def effects(self) -> None:
        for meta in getattr(self.model, "_multilevel_blocks", ()):
            self._block(meta)
        names = {rv.name: rv for rv in self.free}
        for name in self.dets:
            offset, sigma = names.get(f"{name}_offset"), names.get(f"{name}_sigma")
            if name in self.b_pos or offset is None or sigma is None:
                continue
            if type(self.model.rvs_to_transforms.get(sigma)).__name__ != "LogTransform":
                continue
            off = self.rv_pos[offset.name]
            scale = np.broadcast_to(self.rv_pos[sigma.name], off.shape)
            eff = self.n_eff + np.arange(off.size).reshape(off.shape)
            self.add(g_eff=eff, g_off=off, g_scale=scale)
            self.b_pos[name] = eff
            self.n_eff += off.size

    def _block(self, meta: dict) -> None:
        block = self.blocks.get(meta["chol"])
        if block is None or meta["offset"] not in self.pos:
            raise NotGeneric(f"block {meta['chol']}: not read as an LKJ block")
        q, chol = block["n"], block["pos"]
        off = self.pos[meta["offset"]]
        if off.ndim != 2 or off.shape[1] != q:
            raise NotGeneric(f"block {meta['chol']}: offsets of another shape")
        levels = off.shape[0]
        base = self.n_eff
        j, l_ = np.tril_indices(q)                       # packed order: row by row
        packed = j * (j + 1) // 2 + l_
        g = np.arange(levels)[:, None]
        self.add(g_eff=base + g * q + j, g_off=off[:, l_], g_scale=np.broadcast_to(chol[packed], (levels, len(j))))
        self.n_eff += levels * q
        for name, start, width, sigma_name, flat in meta["terms"]:
            cols = base + g * q + start + np.arange(width)
            self.b_pos[name] = cols[:, 0] if flat else cols
            self.sd_pos[sigma_name] = block["first_row"] + start + (np.arange(width) if not flat else np.array(0))
        pair = self.n_pairs + np.arange(q * q).reshape(q, q)
        for a in range(q):
            for b in range(q):
                ls = np.arange(min(a, b) + 1)
                self.add(cp_pair=np.full(len(ls), pair[a, b]), cp_a=chol[a * (a + 1) // 2 + ls],
                         cp_b=chol[b * (b + 1) // 2 + ls])
                self.add(cp_j=[block["first_row"] + a], cp_k=[block["first_row"] + b])
        self.corr_pos[meta["corr"]] = pair
        self.n_pairs += q * q

    # --------------------------------------------------------------- likelihood
    def likelihood(self) -> None:
        if len(self.model.observed_RVs) != 1 or self.model.potentials:
            raise NotGeneric("not one observed variable without potentials")
        obs = self.model.observed_RVs[0]
        self.family = FAMILIES.get(type(obs.owner.op).__name__)
        if self.family is None:
            raise NotGeneric(f"likelihood {type(obs.owner.op).__name__}")
        data = self.model.rvs_to_values[obs]   # a constant, or read from data inputs
        y = (np.asarray(data.data, dtype=float) if hasattr(data, "data")
             else self.constants([data], "the response")[0]).reshape(-1)
        if not np.all(np.isfinite(y)):
            raise NotGeneric("a response with missing values")
        params = obs.owner.inputs[2:]
        trials = np.ones_like(y)
        if self.family == "gaussian":
            mean, sigma = params
            scale = _strip(sigma)
            if scale not in self.free or self.rv_pos[scale.name].size != 1 or \
                    type(self.model.rvs_to_transforms.get(scale)).__name__ != "LogTransform":
                raise NotGeneric("the residual SD is not one positive parameter")
            self.add(sig_idx=self.rv_pos[scale.name].reshape(1))
            eta = mean
        else:
            if self.family == "binomial":
                n, mean = params
                (trials,) = self.constants([n], "the binomial trials")
                trials = np.broadcast_to(trials, y.shape).astype(float)
            else:
                (mean,) = params
            eta = self._link(mean)
        from scipy.special import gammaln

        const = {"gaussian": np.zeros_like(y), "bernoulli": np.zeros_like(y),
                 "poisson": -gammaln(y + 1.0),
                 "binomial": gammaln(trials + 1) - gammaln(y + 1) - gammaln(trials - y + 1)}[self.family]
        self.add(y=y, trials=trials, y_const=const)
        self.eta, self.mean, self.n_rows = eta, mean, len(y)

    def _link(self, mean):
        """η of ``mean`` = the family's inverse link of η (Bambi's, with its clipping),
        found as the one link node in ``mean``'s graph and checked at probe values."""
        from pytensor.graph import clone_replace
        from pytensor.graph.traversal import ancestors

        nodes = {a.owner for a in ancestors([mean]) if a.owner is not None
                 and type(getattr(a.owner.op, "scalar_op", None)).__name__ == LINKS[self.family]}
        if len(nodes) != 1:
            raise NotGeneric(f"{self.family}: not its canonical link")
        eta = next(iter(nodes)).inputs[0]
        stand_in = eta.type()
        probe = clone_replace(mean, {eta: stand_in})
        if any(a in self.random for a in ancestors([probe])):
            raise NotGeneric(f"{self.family}: its mean reads more than the predictor")
        test = np.array([-800.0, -40.0, -3.0, 0.0, 0.5, 4.0, 40.0, 800.0])
        shape = tuple(1 if s is None else s for s in eta.type.shape)
        values = np.resize(test, int(np.prod(shape))).reshape(shape) if shape else test[:1].reshape(())
        got = np.asarray(_function([stand_in], probe)(values), dtype=float)
        from scipy.special import expit

        eps = np.finfo(np.float64).eps
        with np.errstate(over="ignore"):
            want = np.exp(values) if self.family == "poisson" else expit(values)
        if self.family != "poisson":
            want = np.where(want == 0.0, eps, np.where(want == 1.0, 1 - eps, want))
        if got.shape != np.broadcast(want).shape or not np.allclose(got, want, rtol=1e-12, atol=0):
            raise NotGeneric(f"{self.family}: its mean is not the canonical inverse link of the predictor")
        return eta

    # ------------------------------------------------------------- the predictor
    def predictor(self) -> None:
        from pytensor.graph import clone_replace
        from pytensor.graph.traversal import ancestors

        eta = self.eta
        known = set(self.free) | set(self.dets.values())
        start = list(eta.owner.inputs) if eta in known and eta.owner is not None else [eta]
        found = list(dict.fromkeys(a for a in ancestors(start, blockers=list(known)) if a in known))
        stand_ins, sources = {}, []
        for leaf in found:
            if leaf in self.free:
                value = self.model.rvs_to_values[leaf]
                if self.model.rvs_to_transforms.get(leaf) is not None:
                    raise NotGeneric(f"the predictor reads {leaf.name} on its constrained scale")
                src = self.pos[value.name]
            elif leaf.name in self.b_pos:
                src = self.n_dim + self.b_pos[leaf.name]
            else:
                raise NotGeneric(f"the predictor reads {leaf.name}")
            stand_ins[leaf] = leaf.type()
            sources.append(np.asarray(src))
        probe = clone_replace(eta, stand_ins)
        if any(a in self.random for a in ancestors([probe])):
            raise NotGeneric("the predictor reads a random variable outside its coefficients")
        fn = _function(list(stand_ins.values()), probe)
        shapes = [s.shape for s in sources]

        def at(values):
            out = np.asarray(fn(*values), dtype=float)
            return np.broadcast_to(out, (self.n_rows,)) if out.ndim <= 1 else out

        zeros = [np.zeros(s) for s in shapes]
        base = np.array(at(zeros), dtype=float)
        if base.shape != (self.n_rows,):
            raise NotGeneric("the predictor's length differs from the response's")
        columns, column_src = [], []        # dense: common coefficients
        rows, srcs, weights = [], [], []    # gathers of group coefficients
        from_b = []                         # per gather: reads the effects b (else x)
        for i, (leaf, src) in enumerate(zip(stand_ins, sources)):
            in_b = leaf.name in self.b_pos and leaf not in self.free
            if src.ndim in (1, 2) and src.size > 1 and self._grouped(leaf):
                found = len(rows)
                self._gather(at, zeros, i, src, base, rows, srcs, weights)
                from_b += [in_b] * (len(rows) - found)
            elif not in_b and src.size <= MAX_DENSE_PROBE:
                for k in range(src.size):
                    probe_v = [z.copy() for z in zeros]
                    probe_v[i].reshape(-1)[k] = 1.0
                    columns.append(at(probe_v) - base)
                    column_src.append(src.reshape(-1)[k])
            else:
                raise NotGeneric(f"the predictor's coefficient {leaf.name} is too large to probe")
        X = np.column_stack(columns) if columns else np.zeros((self.n_rows, 0))
        tags = np.concatenate([np.full(len(r), b) for r, b in zip(rows, from_b)]) if rows else np.zeros(0)
        rows, srcs, weights = (np.concatenate(a) if a else np.zeros(0) for a in (rows, srcs, weights))
        rows, srcs = rows.astype(np.int64), srcs.astype(np.int64)
        rng = np.random.default_rng(20261204)
        for _ in range(2):   # the predictor is this linear map (affine in its coefficients)
            values = [rng.normal(size=s) for s in shapes]
            pool = np.zeros(self.n_dim + self.n_eff)
            for v, src in zip(values, sources):
                pool[src.reshape(-1)] = v.reshape(-1)
            mapped = base + X @ pool[np.asarray(column_src, dtype=np.int64)]
            np.add.at(mapped, rows, pool[srcs] * weights)
            if not np.allclose(mapped, at(values), rtol=1e-10, atol=1e-10 * (1 + np.abs(base).max())):
                raise NotGeneric("the predictor is not linear in its coefficients")
        # the gathers over P = [x, b, 0] in slots: slot s holds each row's s-th entry, rows
        # with fewer entries padded with weight 0 on P's final zero. Within a row those of x
        # come before those of b (the order of the sum, and so its rounding, is part of the
        # draws).
        order = np.lexsort((tags, rows))
        rows, srcs, weights = rows[order], srcs[order], weights[order]
        counts = np.bincount(rows, minlength=self.n_rows)
        slots = int(counts.max()) if counts.size else 0
        work = self.n_rows * (1 + slots)
        if work > MAX_WORK.get(self.family, MAX_WORK_OTHER):
            raise NotGeneric(f"a large predictor ({work:,} entries): compiled per structure, "
                             "which samples faster at this size")
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        slot = np.arange(len(rows)) - starts[rows]        # each entry's place in its row
        z_src = np.full((slots, self.n_rows), self.n_dim + self.n_eff, dtype=np.int64)
        z_w = np.zeros((slots, self.n_rows))
        z_src[slot, rows], z_w[slot, rows] = srcs, weights
        self.add(eta0=base, X=np.ascontiguousarray(X).reshape(-1),
                 x_idx=np.asarray(column_src, dtype=np.int64), z_src=z_src.reshape(-1),
                 z_w=z_w.reshape(-1))

    def _grouped(self, leaf) -> bool:
        dims = self.model.named_vars_to_dims.get(leaf.name) or ()
        return leaf.name in self.b_pos or bool(dims and str(dims[0]).endswith("__factor_dim"))

    @staticmethod
    def _gather(at, zeros, i, src, base, rows, srcs, weights) -> None:
        """A group coefficient (levels x columns) enters row r as coef[level(r), j] · w_rj:
        two probes per column find w (all ones) and the level (the level numbers)."""
        table = src.reshape(src.shape[0], -1)
        levels = table.shape[0]
        for j in range(table.shape[1]):
            probe_v = [z.copy() for z in zeros]
            column = probe_v[i].reshape(levels, -1)
            column[:, j] = 1.0
            w = at(probe_v) - base
            column[:, j] = np.arange(1, levels + 1)
            d = at(probe_v) - base
            hit = np.nonzero(w)[0]
            level = d[hit] / w[hit] - 1.0
            index = np.rint(level).astype(np.int64)
            if np.any(np.abs(level - index) > 1e-6) or np.any((index < 0) | (index >= levels)):
                raise NotGeneric("a group coefficient enters the predictor other than by level")
            rows.append(hit), srcs.append(table[index, j]), weights.append(w[hit])

    # ------------------------------------------------------------------ storage
    def storage(self):
        joined = [v.name for v in self.values]
        remaining = [v for v in self.model.unobserved_value_vars if v.name not in joined]
        if self.var_names is not None:
            keep = set(self.var_names)
            remaining = [v for v in remaining if v.name in keep]
        rows = self.n_rows
        n_sd = sum(len(a) for a in self.floats["r_sd"])
        offsets = pool_offsets(self.n_dim, n_sd, self.n_pairs, self.n_eff, rows)
        rvs = {rv.name: rv for rv in self.free}
        positions = []
        for var in remaining:
            name = var.name
            if name in rvs:
                pos = offsets["c"] + self.rv_pos[name]
            elif name in self.corr_pos:
                pos = offsets["corr"] + self.corr_pos[name]
            elif name in self.sd_pos:
                pos = offsets["sd"] + self.sd_pos[name]
            elif name in self.b_pos:
                pos = offsets["b"] + self.b_pos[name]
            elif name == getattr(self.eta, "name", None) and self.eta in self.dets.values():
                pos = offsets["eta"] + np.arange(rows)
            elif name == getattr(self.mean, "name", None) and self.mean in self.dets.values():
                pos = offsets["mean"] + np.arange(rows)
            else:
                raise NotGeneric(f"the stored variable {name} is not in the generic class")
            positions.append(np.asarray(pos))
        return remaining, positions

    def arrays(self) -> dict:
        out = {name: (np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64))
               for name, parts in self.ints.items()}
        out |= {name: (np.concatenate(parts).astype(float) if parts else np.zeros(0))
                for name, parts in self.floats.items()}
        out["n_eff"] = np.array([self.n_eff], dtype=np.int64)
        out["family"] = np.array([FAMILY_CODES[self.family]], dtype=np.int64)
        return out


_KINDS = {
    ("NormalRV", "NoneType"): _Reader._normal,
    ("HalfNormalRV", "LogTransform"): _Reader._half_normal,
    ("HalfStudentTRV", "LogTransform"): _Reader._half_student,
    ("ExponentialRV", "LogTransform"): _Reader._exponential,
    ("HalfCauchyRV", "LogTransform"): _Reader._half_cauchy,
    ("_LKJCholeskyCovRV", "CholeskyCovPacked"): _Reader._lkj,
}


def _strip(var):
    """``var`` without the broadcasts, views and casts wrapped around it."""
    from pytensor.tensor.elemwise import DimShuffle, Elemwise

    while var.owner is not None:
        op = var.owner.op
        wrapper = isinstance(op, DimShuffle) or type(op).__name__ in ("ViewOp", "SpecifyShape") \
            or (isinstance(op, Elemwise) and type(op.scalar_op).__name__ == "Cast")
        if not wrapper:
            break
        var = var.owner.inputs[0]
    return var


def build_layout(model, var_names=None) -> Layout:
    """The generic density's arrays for ``model`` (raises :class:`NotGeneric`).

    Parameters
    ----------
    model : pymc.Model
    var_names : list of str, optional
        The variables to store, as nutpie's ``var_names``.
    """
    import pytensor

    # PyTensor records a stack trace per new graph node; reading the source lines for it
    # was half of this function's time (0.15 s) in a fresh process
    with pytensor.config.change_flags(traceback__limit=0):
        return _build_layout(model, var_names)


def _build_layout(model, var_names) -> Layout:
    reader = _Reader(model, var_names)
    reader.free_variables()
    reader.effects()
    reader.likelihood()
    reader.predictor()
    remaining, positions = reader.storage()
    names = [v.name for v in reader.values]
    arrays = reader.arrays()
    arrays["expand_idx"] = np.concatenate([np.arange(reader.n_dim)]
                                          + [p.reshape(-1) for p in positions]).astype(np.int64)
    shapes = [reader.shape[name] for name in names] + [tuple(int(s) for s in p.shape) for p in positions]
    sizes = [int(np.prod(s)) for s in shapes]
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    slices = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
    reparam = [model.rvs_to_values[rv].name for rv in reader.free
               if model.rvs_to_transforms.get(rv) is not None]
    return Layout(family=reader.family, arrays=arrays, n_dim=reader.n_dim,
                  shape_info=(names + [v.name for v in remaining], slices, shapes),
                  reparam=reparam, support=reader.support, model=model,
                  values=list(reader.values), remaining=remaining)
