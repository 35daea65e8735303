# R's glm() with the Gamma and inverse.gaussian families (tests/test_glm_dispersion.py):
# simulated response times (inverse_gaussian.csv), several links, prior weights.
# Run from the repository root (R 4.2.2):  Rscript tests/reference/make_glm_dispersion.R
suppressPackageStartupMessages(library(jsonlite))
d <- read.csv("tests/reference/inverse_gaussian.csv")
nd <- data.frame(cond = c("easy", "hard", "hard"), x = c(-1, 0, 1.5))
num <- function(x) unname(as.numeric(x))
cases <- list(
  gamma_log = list(family = "gamma", link = "log", fam = Gamma(link = "log"), weights = FALSE),
  gamma_inverse = list(family = "gamma", link = "inverse", fam = Gamma(), weights = FALSE),
  gamma_log_weights = list(family = "gamma", link = "log", fam = Gamma(link = "log"), weights = TRUE),
  wald_log = list(family = "wald", link = "log", fam = inverse.gaussian(link = "log"), weights = FALSE),
  wald_mu2 = list(family = "wald", link = "1/mu^2", fam = inverse.gaussian(), weights = FALSE)
)
out <- lapply(cases, function(cs) {
  g <- if (cs$weights) glm(rt ~ cond + x, d, family = cs$fam, weights = w) else glm(rt ~ cond + x, d, family = cs$fam)
  s <- summary(g)
  p <- predict(g, nd, se.fit = TRUE, type = "response")
  list(formula = "rt ~ cond + x", family = cs$family, link = cs$link, weights = cs$weights,
       logLik = as.numeric(logLik(g)), df = attr(logLik(g), "df"), AIC = AIC(g), BIC = BIC(g),
       deviance = deviance(g), null_deviance = g$null.deviance, sigma = sigma(g), dispersion = s$dispersion,
       coef = num(coef(g)), se = num(s$coefficients[, 2]), t = num(s$coefficients[, 3]),
       p = num(s$coefficients[, 4]), fitted_head = num(head(fitted(g), 6)),
       pearson_head = num(head(residuals(g, type = "pearson"), 6)),
       new_cond = nd$cond, new_x = nd$x, predict_response = num(p$fit), predict_response_se = num(p$se.fit))
})
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/glm_dispersion.json")
