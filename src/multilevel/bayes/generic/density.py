"""The generic log density, its gradient and the expansion, written out as loops for numba.

The same density as PyMC's for every model of the class (terms in
:mod:`multilevel.bayes.generic.kernel`), with the gradient by hand in reverse order: the
likelihood gives ∂/∂η, the predictor's gather sends it to the coefficients and group
effects, the effects' products to offsets and scales, and the priors add theirs; a
log-transformed element finally takes ∂/∂c · c + 1 (its Jacobian). The rows are visited in
a few simple loops (the predictor's dense columns, its group-effect slots, the family's
likelihood, and back), which LLVM compiles well: per gradient it is as fast as PyTensor's
code compiled for the one model, faster for the Poisson and Bernoulli likelihoods
(``bench/bench_generic.py``).
``tests/test_generic.py`` compares value and gradient with PyMC's own on a table of
models.
"""

from __future__ import annotations

import math

import numpy as np

# the named input arrays; they reach the compiled code packed into two buffers (all
# integers, all floats) with their bounds: CPython passes more than 30 arguments through a
# tuple built at run time, which numba cannot compile
INTS = ("family", "log_idx", "n_idx", "m_idx", "m_sidx", "h_idx", "t_idx", "e_idx", "k_idx",
        "l_ent", "l_row", "r_diag", "g_eff", "g_off", "g_scale", "n_eff", "x_idx",
        "z_src", "cp_a", "cp_b", "cp_pair", "cp_j", "cp_k", "sig_idx", "expand_idx")
FLOATS = ("n_mu", "n_sd", "m_mu", "h_sd", "t_nu", "t_sd", "t_const", "e_scale", "k_beta",
          "r_sd", "r_coef", "r_pos", "lkj_const", "eta0", "X", "z_w", "y", "trials", "y_const")
INPUTS = INTS + FLOATS
PACKED = ("ints", "int_bounds", "floats", "float_bounds")
# the families, as the code reads them from the ``family`` input
FAMILY_CODES = {"gaussian": 0, "poisson": 1, "bernoulli": 2, "binomial": 2}
_LOG_2PI_HALF = 0.5 * math.log(2.0 * math.pi)
_LOG_2_OVER_PI_HALF = 0.5 * math.log(2.0 / math.pi)
# PyMC's log(2) (HalfStudentT, HalfCauchy): PyTensor's log of an int8 2 is a float32
LOG_2_PYMC = float(np.log(np.float32(2.0)))
_EPS = float(np.finfo(np.float64).eps)
# The expansion's pool of values that stored variables are gathered from, in this order
# (``expand`` below concatenates them so): the unconstrained x, the constrained c, the LKJ
# rows' SDs, their correlations, the group effects b, the linear predictor and the mean.
POOL = ("x", "c", "sd", "corr", "b", "eta", "mean")


def pool_offsets(n_dim: int, n_sd: int, n_pairs: int, n_eff: int, n_rows: int) -> dict:
    """Where each part of the expansion's pool starts, and ``"end"``, its length."""
    sizes = dict(zip(POOL, (n_dim, n_dim, n_sd, n_pairs, n_eff, n_rows, n_rows)))
    offsets, at = {}, 0
    for part in POOL:
        offsets[part], at = at, at + sizes[part]
    return {**offsets, "end": at}


def source() -> str:
    """The numba source of ``logp_grad`` and ``expand``: each named input a view into the
    two packed buffers, by position (:func:`multilevel.bayes.generic.kernel.pack`)."""
    views = [f"    {name} = ints[ib[{i}]:ib[{i + 1}]]" for i, name in enumerate(INTS)]
    views += [f"    {name} = floats[fb[{i}]:fb[{i + 1}]]" for i, name in enumerate(FLOATS)]
    return _TEMPLATE.replace("{views}", "\n".join(views))


_TEMPLATE = '''
def _forward(x, ints, ib, floats, fb, need_grad):
{views}
    n = x.shape[0]
    c = x.copy()
    for i in log_idx:
        c[i] = math.exp(x[i])
    lp = 0.0
    gc = np.zeros(n)         # d logp / d c
    gx = np.zeros(n)         # d logp / d x, direct
    for i in log_idx:
        lp += x[i]
    # normal priors with fixed parameters
    for k in range(n_idx.shape[0]):
        i = n_idx[k]
        z = (x[i] - n_mu[k]) / n_sd[k]
        lp += -0.5 * z * z - math.log(n_sd[k]) - LOG_2PI_HALF
        gx[i] += -z / n_sd[k]
    # normal priors whose scale is a parameter
    for k in range(m_idx.shape[0]):
        i, s = m_idx[k], m_sidx[k]
        z = (x[i] - m_mu[k]) / c[s]
        lp += -0.5 * z * z - math.log(c[s]) - LOG_2PI_HALF
        gx[i] += -z / c[s]
        gc[s] += (z * z - 1.0) / c[s]
    for k in range(h_idx.shape[0]):
        i = h_idx[k]
        z = c[i] / h_sd[k]
        lp += -0.5 * z * z - math.log(h_sd[k]) + LOG_2_OVER_PI_HALF
        gc[i] += -z / h_sd[k]
    for k in range(t_idx.shape[0]):
        i = t_idx[k]
        a = t_nu[k] * t_sd[k] * t_sd[k]
        lp += t_const[k] - (t_nu[k] + 1.0) / 2.0 * math.log1p(c[i] * c[i] / a)
        gc[i] += -(t_nu[k] + 1.0) * c[i] / (a + c[i] * c[i])
    for k in range(e_idx.shape[0]):
        i = e_idx[k]
        lp += -math.log(e_scale[k]) - c[i] / e_scale[k]
        gc[i] += -1.0 / e_scale[k]
    for k in range(k_idx.shape[0]):
        i = k_idx[k]
        z = c[i] / k_beta[k]
        lp += LOG_2_PYMC - math.log(math.pi * k_beta[k]) - math.log1p(z * z)
        gc[i] += -2.0 * z / (k_beta[k] * (1.0 + z * z))
    # LKJ Cholesky blocks (PyMC's _LKJCholeskyCovRV logp), all rows together
    n_rows = r_diag.shape[0]
    var = np.zeros(n_rows)
    for k in range(l_ent.shape[0]):
        var[l_row[k]] += c[l_ent[k]] * c[l_ent[k]]
    sd = np.sqrt(var)
    gsd = np.zeros(n_rows)
    for r in range(n_rows):
        z = sd[r] / r_sd[r]
        lcd = math.log(c[r_diag[r]] / sd[r])
        lp += -0.5 * z * z - math.log(r_sd[r]) + LOG_2_OVER_PI_HALF
        lp += (r_coef[r] + 1.0) * lcd - r_pos[r] * math.log(sd[r])
        gsd[r] = -z / r_sd[r] - (r_coef[r] + 1.0 + r_pos[r]) / sd[r]
        gc[r_diag[r]] += (r_coef[r] + 1.0) / c[r_diag[r]]
    for k in range(lkj_const.shape[0]):
        lp += lkj_const[k]
    for k in range(l_ent.shape[0]):
        r, e = l_row[k], l_ent[k]
        gc[e] += gsd[r] * c[e] / sd[r]
    # group effects b_e = sum x_off * c_scale
    b = np.zeros(n_eff[0])
    for k in range(g_eff.shape[0]):
        b[g_eff[k]] += x[g_off[k]] * c[g_scale[k]]
    # The linear predictor eta = eta0 + X x[x_idx] + Z P (P = [x, b, 0]), in passes over
    # the rows: the dense columns, then Z's slots (Z is stored slot by slot, each slot one
    # entry per row, padded with weight 0 on P's final zero). Each row's sum is taken in
    # the same order as one written row by row; simple loops over the rows, each family's
    # likelihood in a loop without branches, are what makes it as fast as PyTensor's code.
    rows = y.shape[0]
    p = x_idx.shape[0]
    slots = z_src.shape[0] // rows if rows > 0 else 0
    pool = np.concatenate((x, b, np.zeros(1)))
    src = z_src.view(np.uint64)   # unsigned: no negative-index wraparound in the gathers
    lin = eta0.copy()
    for j in range(p):
        beta_j = x[x_idx[j]]
        for r in range(rows):
            lin[r] += X[r * p + j] * beta_j
    for slot in range(slots):
        at = slot * rows
        for r in range(rows):
            lin[r] += z_w[at + r] * pool[src[at + r]]
    code = family[0]
    sig = sig_idx[0] if code == 0 else 0
    s = c[sig] if code == 0 else 1.0
    inv_s = 1.0 / s
    if not need_grad:   # the expansion: the predictor and the mean, no gradient
        mean = np.empty(rows)
        for r in range(rows):
            if code == 0:
                mean[r] = lin[r]
            elif code == 1:
                mean[r] = math.exp(lin[r])
            else:
                mu = 1.0 / (1.0 + math.exp(-lin[r]))
                mean[r] = EPS if mu == 0.0 else 1.0 - EPS if mu == 1.0 else mu
        return lp, gx, c, sd, b, lin, mean
    d_eta = np.empty(rows)   # d logp / d eta
    if code == 0:
        acc = 0.0
        for r in range(rows):
            z = (y[r] - lin[r]) * inv_s
            acc += z * z
            d_eta[r] = z * inv_s
        lp += -0.5 * acc - rows * (math.log(s) + LOG_2PI_HALF)
        gc[sig] += acc / s - rows / s
    elif code == 1:
        for r in range(rows):
            mu = math.exp(lin[r])
            lp += y[r] * lin[r] - mu + y_const[r]
            d_eta[r] = y[r] - mu
    else:
        for r in range(rows):
            mu = 1.0 / (1.0 + math.exp(-lin[r]))
            clipped = mu == 0.0 or mu == 1.0
            if mu == 0.0:
                mu = EPS
            if mu == 1.0:
                mu = 1.0 - EPS
            lp += y[r] * math.log(mu) + (trials[r] - y[r]) * math.log(1.0 - mu) + y_const[r]
            d_eta[r] = 0.0 if clipped else y[r] - trials[r] * mu
    # backward: the rows' gradient to the coefficients and to P
    gpool = np.zeros(pool.shape[0])
    for j in range(p):
        acc_j = 0.0
        for r in range(rows):
            acc_j += X[r * p + j] * d_eta[r]
        gx[x_idx[j]] += acc_j
    for slot in range(slots):
        at = slot * rows
        for r in range(rows):
            gpool[src[at + r]] += z_w[at + r] * d_eta[r]
    # the effects -> offsets and scales
    for i in range(n):
        gx[i] += gpool[i]
    for k in range(g_eff.shape[0]):
        sc, o = g_scale[k], g_off[k]
        g = gpool[n + g_eff[k]]
        gx[o] += g * c[sc]
        gc[sc] += g * x[o]
    # c = x except where log-transformed (c = exp(x), plus the Jacobian's 1)
    is_log = np.zeros(n, dtype=np.bool_)
    for i in log_idx:
        is_log[i] = True
    for i in range(n):
        if is_log[i]:
            gx[i] += gc[i] * c[i] + 1.0
        else:
            gx[i] += gc[i]
    return lp, gx, c, sd, b, lin, d_eta   # (the last two unused: the expansion returned above)


def logp_grad(x, ints, ib, floats, fb):
    lp, gx, c, sd, b, eta, mean = _forward(x, ints, ib, floats, fb, True)
    return lp, gx


def expand(x, ints, ib, floats, fb):
    lp, gx, c, sd, b, eta, mean = _forward(x, ints, ib, floats, fb, False)
{views}
    n = x.shape[0]
    n_pairs = cp_j.shape[0]
    cross = np.zeros(n_pairs)
    for k in range(cp_pair.shape[0]):
        cross[cp_pair[k]] += c[cp_a[k]] * c[cp_b[k]]
    pool = np.concatenate((x, c, sd, np.zeros(n_pairs), b, eta, mean))
    start = 2 * n + sd.shape[0]
    for k in range(n_pairs):
        pool[start + k] = cross[k] / (sd[cp_j[k]] * sd[cp_k[k]])
    out = np.empty(expand_idx.shape[0])
    for k in range(expand_idx.shape[0]):
        out[k] = pool[expand_idx[k]]
    return (out,)
'''


def functions():
    """``(logp_grad, expand)``: numba dispatchers of the written-out density."""
    import numba

    namespace = {"__name__": __name__, "np": np, "math": math, "LOG_2PI_HALF": _LOG_2PI_HALF,
                 "LOG_2_OVER_PI_HALF": _LOG_2_OVER_PI_HALF, "LOG_2_PYMC": LOG_2_PYMC, "EPS": _EPS}
    exec(compile(source(), "<multilevel generic density>", "exec"), namespace)  # noqa: S102
    # IEEE division (inf, nan) as PyTensor's kernels, not Python's ZeroDivisionError
    jit = numba.njit(fastmath=False, boundscheck=False, nogil=True, error_model="numpy")
    namespace["_forward"] = jit(namespace["_forward"])
    return jit(namespace["logp_grad"]), jit(namespace["expand"])
