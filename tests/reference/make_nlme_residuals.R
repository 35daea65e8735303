# References for correlated residuals within groups (multilevel.bayes.residuals):
# nlme's gls with corAR1(form = ~ t | g) and corCompSymm(form = ~ 1 | g), fitted by ML.
# The data are simulated here and stored in the JSON with the fits, so the tests need no R.
# Run from the repository root (R 4.2.2, nlme 3.1 from Debian; no network):
#   Rscript tests/reference/make_nlme_residuals.R
suppressPackageStartupMessages({library(nlme); library(jsonlite)})
set.seed(20261123)
ctl <- glsControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 500, msMaxIter = 500)

# AR(1): 8 groups, times 0..11, phi = 0.6, marginal SD 1.5; about a quarter of the
# time points removed (gaps of several steps) and the rows shuffled.
ar <- do.call(rbind, lapply(1:8, function(i) {
  e <- numeric(12); e[1] <- rnorm(1, 0, 1.5)
  for (t in 2:12) e[t] <- 0.6 * e[t - 1] + rnorm(1, 0, 1.5 * sqrt(1 - 0.6^2))
  x <- rnorm(12)
  d <- data.frame(g = sprintf("g%02d", i), t = 0:11, x = x, y = 1 + 0.5 * x + e)
  d[sort(sample(12, 9)), ]
}))
ar <- ar[sample(nrow(ar)), ]
m_ar <- gls(y ~ x, data = ar, correlation = corAR1(form = ~ t | g), method = "ML", control = ctl)

# Compound symmetry with a negative correlation (which a random intercept cannot give):
# 12 groups of 3 to 6 rows, rho = -0.12, SD 2.
cs <- do.call(rbind, lapply(1:12, function(i) {
  n <- sample(3:6, 1)
  S <- 4 * ((1 + 0.12) * diag(n) - 0.12)
  e <- drop(t(chol(S)) %*% rnorm(n))
  x <- rnorm(n)
  data.frame(g = sprintf("h%02d", i), x = x, y = 2 - x + e)
}))
m_cs <- gls(y ~ x, data = cs, correlation = corCompSymm(form = ~ 1 | g), method = "ML", control = ctl)

fit_out <- function(m, param) list(
  coef = unname(coef(m)), sigma = sigma(m), logLik = as.numeric(logLik(m)),
  param = unname(coef(m$modelStruct$corStruct, unconstrained = FALSE)), param_name = param)
out <- list(
  `_about` = sprintf("nlme %s on %s by tests/reference/make_nlme_residuals.R; gls ML fits; sigma is the marginal residual SD (nlme)",
                     packageVersion("nlme"), R.version.string),
  ar1 = c(list(data = ar), fit_out(m_ar, "Phi")),
  cs = c(list(data = cs), fit_out(m_cs, "Rho")))
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, dataframe = "columns"),
      "tests/reference/nlme_residuals.json")
print(summary(m_ar)$tTable); print(out$ar1[-1]); print(out$cs[-1])
