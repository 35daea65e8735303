# References for structured group-effect covariances (lme4 2.0's us/diag/cs/ar1, glmmTMB's
# toep): glmmTMB 1.1.5 (Debian r-cran-glmmtmb, R 4.2) REML and ML fits, logLik, fixed
# effects, SDs and correlations. Run from the repository root:
#   Rscript tests/reference/make_structures.R
# Data: `visits` (simulated here and shipped: 60 subjects x 4 visits x 2 replicate assays,
# so that a 4x4 subject-by-visit block is identified next to the residual) and MASS's
# `oats` (6 blocks only: its us, ML cs and REML ar1/toep fits are ill-conditioned in
# glmmTMB (non-positive-definite Hessian), so only its well-determined fits are kept).
# glmmTMB has no hom= argument: a homogeneous cs/diag is cs/diag with its log-SDs tied
# through map= (one shared SD). glmmTMB's REML integrates the fixed effects out by the
# Laplace approximation (exact for a gaussian model): its REML logLik is lme4's
# -REMLcrit/2, and its df counts the covariance parameters and sigma only.
suppressPackageStartupMessages({library(glmmTMB); library(jsonlite)})
source("tests/reference/read_data.R")  # dir, fac(), rd()

set.seed(20261203)
ns <- 60; visit_levels <- paste0("v", 1:4)
sds <- c(2, 2.5, 3, 3.5); r <- c(1, 0.6, 0.4, 0.3)
S <- diag(sds) %*% toeplitz(r) %*% diag(sds)
b <- matrix(rnorm(ns * 4), ns) %*% chol(S)
d <- expand.grid(rep = 1:2, visit = visit_levels, subject = sprintf("s%02d", 1:ns), stringsAsFactors = FALSE)
d$arm <- ifelse(as.integer(substr(d$subject, 2, 3)) %% 2 == 0, "treated", "control")
vi <- match(d$visit, visit_levels); si <- match(d$subject, sprintf("s%02d", 1:ns))
d$y <- round(10 + 1.5 * (d$arm == "treated") + c(0, 0.5, 1.2, 1.6)[vi] + b[cbind(si, vi)] +
             rnorm(nrow(d), 0, 1.5), 3)
write.csv(d[, c("subject", "arm", "visit", "rep", "y")], paste0(dir, "visits.csv"),
          row.names = FALSE, quote = c(1, 2, 3))

visits <- rd("visits.csv", c("subject", "arm", "visit"))
oats <- rd("oats.csv", c("Block", "Variety", "nitro"))
tied <- function(q, ncorr) factor(c(rep(1, q), if (ncorr) 1 + seq_len(ncorr)))
V <- "y ~ arm + visit + "
O <- "yield ~ nitro + Variety + "
# name = list(data, glmmTMB formula, our formula (default: the same), map, methods)
models <- list(
  us       = list(visits, paste0(V, "us(0 + visit | subject)")),
  diag     = list(visits, paste0(V, "diag(0 + visit | subject)")),
  diag_hom = list(visits, paste0(V, "diag(0 + visit | subject)"), paste0(V, "diag(0 + visit | subject, hom = TRUE)"),
                  list(theta = tied(4, 0))),
  cs       = list(visits, paste0(V, "cs(0 + visit | subject)")),
  cs_hom   = list(visits, paste0(V, "cs(0 + visit | subject)"), paste0(V, "cs(0 + visit | subject, hom = TRUE)"),
                  list(theta = tied(4, 1))),
  ar1      = list(visits, paste0(V, "ar1(0 + visit | subject)")),
  toep     = list(visits, paste0(V, "toep(0 + visit | subject)")),
  cs_slope = list(visits, paste0(V, "cs(1 + arm + visit | subject)")),
  oats_diag = list(oats, paste0(O, "diag(0 + nitro | Block)")),
  oats_cs   = list(oats, paste0(O, "cs(0 + nitro | Block)"), NULL, NULL, "reml"),
  oats_ar1  = list(oats, paste0(O, "ar1(0 + nitro | Block)"), NULL, NULL, "ml"),
  oats_toep = list(oats, paste0(O, "toep(0 + nitro | Block)"), NULL, NULL, "ml")
)
out <- list(`_about` = paste(
  "glmmTMB", as.character(packageVersion("glmmTMB")), "on", R.version.string,
  "; data: visits (simulated, shipped) and MASS oats as shipped; made by tests/reference/make_structures.R"))
for (name in names(models)) {
  m <- models[[name]]
  methods <- if (length(m) >= 5) m[[5]] else c("reml", "ml")
  for (method in methods) {
    fit <- glmmTMB(as.formula(m[[2]]), data = m[[1]], REML = method == "reml",
                   map = if (length(m) >= 4) m[[4]] else NULL)
    vc <- VarCorr(fit)$cond
    terms <- lapply(names(vc), function(g) {
      v <- vc[[g]]
      list(group = g, sd = unname(attr(v, "stddev")), corr = unname(attr(v, "correlation")))
    })
    out[[paste0(name, "_", method)]] <- list(
      data = if (identical(m[[1]], oats)) "oats" else "visits",
      formula = if (length(m) >= 3 && !is.null(m[[3]])) m[[3]] else m[[2]],
      method = method, logLik = as.numeric(logLik(fit)), df = attr(logLik(fit), "df"),
      fixef = as.list(fixef(fit)$cond), sigma = sigma(fit), terms = terms,
      convergence = fit$fit$convergence, pdHess = fit$sdr$pdHess)
  }
}
write_json(out, "tests/reference/structures.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
