"""The marginal sampler for Gaussian multilevel models (``sampler="marginal"``).

A Gaussian model's fixed effects and group effects are jointly Gaussian given the
variance parameters, so they can be integrated out exactly with the frequentist
engine's sparse factorization. Markov chains then run on the handful of variance
parameters only (σ, group SDs, LKJ Cholesky factors), and every draw of the
coefficients and group effects is an exact draw from their Gaussian conditional.

* :mod:`~multilevel.bayes.marginal.gaussian` — log p(y | θ, σ) and conditional draws;
* :mod:`~multilevel.bayes.marginal.model` — which built models qualify, and the map
  between PyMC's variables and the collapsed parameterization;
* :mod:`~multilevel.bayes.marginal.sampler` — Laplace approximation and the
  Metropolis-Hastings chains;
* :mod:`~multilevel.bayes.marginal.run` — the chains (one process per core) into the
  DataTree NUTS would give.
"""
