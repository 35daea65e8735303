"""Markov chains on the hyperparameters of a collapsed Gaussian model, exact draws of the rest.

The hyperparameters (σ, group SDs, LKJ Cholesky factors; a handful of numbers) have
the marginal posterior p(v | y) ∝ p(v) p(y | v), evaluated by one sparse factorization
(:mod:`multilevel.bayes.marginal.gaussian`). With thousands of rows per hyperparameter
that posterior is close to Gaussian in PyMC's unconstrained coordinates, so

1. the posterior mode and the Hessian there (central differences) give a Laplace
   approximation N(v̂, Σ);
2. each chain runs Metropolis-Hastings mixing an *independence* proposal — Geweke's
   split-t: a multivariate t with 10 degrees of freedom around v̂ whose scale along
   each principal axis of 1.1²Σ differs on the two sides, matched to how fast the
   log posterior falls on that side (:class:`Proposal`) — with a random-walk proposal
   N(v, 2.38²Σ/d) (10 % of steps) that keeps the chain moving where the approximation
   is poor; both are exact MH kernels, so the chain targets p(v | y) exactly. The
   split matters where a factor has few levels: its SD's posterior is skewed in log σ
   (a long tail towards 0), the symmetric t of the Laplace fit left that tail to rare
   proposals with huge weights, and chains stuck there (Pastes ``(1 | batch/cask)``:
   min ESS 15 and 290 of 4000 with two seeds, R-hat 1.19; now 1,227 and 1,238;
   bench/README.md "The marginal sampler's proposal"). Heavier tails than the target
   keep the ratio bounded: t₁₀ against t₃₀ gave ESS/N 0.33-0.63 against 0.10-0.44 on
   sleepstudy ``(Days | Subject)``;
3. after every step (β, group effects) are drawn exactly from their Gaussian
   conditional given the chain's current v.

Draws are therefore nearly independent and cost one factorization each. Warm-up: the
chain starts at a draw from the proposal, so no adaptation is needed; the first
``min(tune, MAX_WARMUP)`` iterations are discarded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from multilevel.errors import FitError

T_DF = 10.0
PROPOSAL_SCALE = 1.1
RANDOM_WALK_SHARE = 0.1
MAX_WARMUP = 50
HESSIAN_STEP = 1e-3
GRADIENT_STEP = 1e-4
MODE_GTOL = 0.05        # |∂ log p| at the mode: the MH step corrects a rougher mode
# the split-t's side scales (Proposal): probed this many axis SDs from the mode; a drop of
# the log posterior below SPLIT_MIN_DROP there counts as flat; scales at least SPLIT_FLOOR SDs
SPLIT_PROBE = 3.0
SPLIT_MIN_DROP = 0.05
SPLIT_FLOOR = 0.5


@dataclass(frozen=True)
class Laplace:
    """Mode, covariance and its Cholesky factor of the hyperparameters' posterior."""

    mode: np.ndarray
    cov: np.ndarray
    chol: np.ndarray
    log_posterior: float
    evaluations: int


def laplace(collapsed) -> Laplace:
    """Posterior mode (BFGS on finite-difference gradients) and the inverse Hessian there."""
    count = [0]

    def f(v):
        count[0] += 1
        lp, _ = collapsed.log_posterior(v)
        return -lp if np.isfinite(lp) else 1e300

    def grad(v):
        # forward differences: d + 1 evaluations; they move the optimum by h/2 = 5e-5 in
        # these log-scale coordinates, far inside the posterior SDs the proposal needs
        f0 = f(v)
        g = np.empty_like(v)
        for i in range(len(v)):
            e = np.zeros_like(v)
            e[i] = GRADIENT_STEP
            g[i] = (f(v + e) - f0) / GRADIENT_STEP
        return g

    start = np.asarray(collapsed.start, dtype=float)
    if not f(start) < 1e300:
        raise FitError("The log posterior is not finite at the model's initial point; check the "
                       "data for extreme values or rescale the response.")
    # BFGS starts from the diagonal curvature: the unit identity would make its first line
    # searches long where the curvature is 10⁵ (log σ with 70 000 rows)
    curvature = np.array([(f(start + e) - 2 * f(start) + f(start - e)) / HESSIAN_STEP ** 2
                          for e in np.eye(len(start)) * HESSIAN_STEP])
    scale = np.where(np.isfinite(curvature) & (curvature > 0), curvature, 1.0)
    result = optimize.minimize(f, start, jac=grad, method="BFGS",
                               options={"gtol": MODE_GTOL, "hess_inv0": np.diag(1.0 / scale)})
    mode = result.x
    H = _hessian(f, mode)
    vals, vecs = np.linalg.eigh(0.5 * (H + H.T))
    if not np.all(np.isfinite(vals)):
        raise FitError("The curvature of the hyperparameters' posterior is not finite at its "
                       "mode; use sampler='nutpie'.")
    # a flat direction (a variance at its prior's edge) gets the largest curvature's floor
    vals = np.maximum(vals, 1e-8 * max(vals.max(), 1e-8))
    cov = (vecs / vals) @ vecs.T
    return Laplace(mode=mode, cov=cov, chol=np.linalg.cholesky(cov), log_posterior=-f(mode),
                   evaluations=count[0])


def _hessian(f, x: np.ndarray) -> np.ndarray:
    """Hessian of f at x by central differences (f is the negative log posterior)."""
    d, h = len(x), HESSIAN_STEP
    f0 = f(x)
    H = np.empty((d, d))
    E = np.eye(d) * h
    for i in range(d):
        H[i, i] = (f(x + E[i]) - 2 * f0 + f(x - E[i])) / h ** 2
        for j in range(i):
            H[i, j] = H[j, i] = (f(x + E[i] + E[j]) - f(x + E[i] - E[j]) - f(x - E[i] + E[j])
                                 + f(x - E[i] - E[j])) / (4 * h * h)
    return H


class Proposal:
    """Split multivariate t around the mode (independence) and a Gaussian random walk.

    The independence proposal is Geweke's (1989) split-t: along each principal axis of
    the Laplace covariance (scaled by :data:`PROPOSAL_SCALE`) each side gets its own
    scale, matched to the log posterior's drop :data:`SPLIT_PROBE` axis SDs out on that
    side, so a skewed posterior (the SD of a factor with few levels: long tail towards
    0 in log σ, steep towards large σ) is covered on both sides. Without ``collapsed``
    both sides keep the Laplace scale (a symmetric t).
    """

    def __init__(self, approx: Laplace, collapsed=None, df: float = T_DF,
                 scale: float = PROPOSAL_SCALE):
        self.mode, self.df = approx.mode, float(df)
        self.d = len(approx.mode)
        vals, self.axes = np.linalg.eigh(approx.cov * scale ** 2)
        sd = np.sqrt(np.maximum(vals, 0.0))
        self.scales = np.vstack([sd, sd])               # (below, above) the mode per axis
        if collapsed is not None:
            self.scales = _split_scales(collapsed, self.mode, self.axes, sd)
        self.walk = approx.chol * (2.38 / np.sqrt(self.d))

    def _side(self, u: np.ndarray) -> np.ndarray:
        return np.where(u > 0, self.scales[1], self.scales[0])

    def independent(self, rng) -> np.ndarray:
        z = rng.standard_normal(self.d)
        w = rng.chisquare(self.df) / self.df
        z = z / np.sqrt(w)
        return self.mode + self.axes @ (z * self._side(z))

    def log_density(self, v: np.ndarray) -> float:
        """Up to a constant (the same for every point)."""
        u = self.axes.T @ (v - self.mode)
        s = self._side(u)
        z = u / s
        return -np.sum(np.log(s)) - 0.5 * (self.df + self.d) * np.log1p(z @ z / self.df)

    def step(self, v: np.ndarray, rng) -> np.ndarray:
        return v + self.walk @ rng.standard_normal(self.d)


def _split_scales(collapsed, mode: np.ndarray, axes: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Per axis and side, the normal scale whose log density drops as the posterior's does
    :data:`SPLIT_PROBE` SDs out (2 evaluations per axis). A side where the posterior barely
    drops (flat, within :data:`SPLIT_MIN_DROP`) gets twice the SD; one outside the support
    keeps the SD; none goes below :data:`SPLIT_FLOOR` SDs."""
    lp0 = collapsed.log_posterior(mode)[0]
    scales = np.vstack([sd, sd])
    for j in range(len(sd)):
        for side, sign in enumerate((-1.0, 1.0)):
            drop = lp0 - collapsed.log_posterior(mode + sign * SPLIT_PROBE * sd[j] * axes[:, j])[0]
            if not np.isfinite(drop):
                continue
            scales[side, j] = (SPLIT_PROBE * sd[j] / np.sqrt(2 * drop) if drop > SPLIT_MIN_DROP
                               else 2 * sd[j])
    return np.maximum(scales, SPLIT_FLOOR * sd)


def run_chain(collapsed, proposal: Proposal, warmup: int, draws: int, rng, store) -> dict:
    """One chain; ``store(k, values, beta, b)`` keeps each kept draw. Returns its statistics."""
    for _ in range(100):  # a start where the density is finite
        v = proposal.independent(rng)
        lp, cur = collapsed.log_posterior(v)
        if np.isfinite(lp):
            break
    else:
        raise FitError("No finite starting point found for the marginal sampler; use sampler='nutpie'.")
    accepted = np.zeros(draws, dtype=bool)
    accept_prob = np.zeros(draws)
    lps = np.zeros(draws)
    for it in range(warmup + draws):
        if rng.random() < RANDOM_WALK_SHARE:
            w = proposal.step(v, rng)
            log_q = 0.0
        else:
            w = proposal.independent(rng)
            log_q = proposal.log_density(v) - proposal.log_density(w)
        lp_w, new = collapsed.log_posterior(w)
        log_ratio = lp_w - lp + log_q if np.isfinite(lp_w) else -np.inf
        ok = np.log(rng.random()) < log_ratio
        if ok:
            v, lp, cur = w, lp_w, new
        state, values = cur
        beta, b = collapsed.marginal.draw(state, rng)
        k = it - warmup
        if k >= 0:
            store(k, values, beta, b)
            accepted[k], accept_prob[k], lps[k] = ok, min(1.0, float(np.exp(min(0.0, log_ratio)))), lp
    return {"accepted": accepted, "acceptance_rate": accept_prob, "lp": lps}
