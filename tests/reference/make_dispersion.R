# performance 0.10.2's check_overdispersion() and check_zeroinflation() of glmer, glmer.nb
# and glm fits (tests/test_dispersion.py).
# Run from the repository root (R 4.2.2, lme4 1.1-31):  Rscript tests/reference/make_dispersion.R
suppressPackageStartupMessages({ library(lme4); library(performance); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
grouse <- rd("grouseticks.csv", c("BROOD", "YEAR", "LOCATION"))
cbpp <- rd("cbpp.csv", c("herd", "period"))
ctl <- glmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
fits <- list(
  poisson = list(formula = "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", data = "grouseticks", family = "poisson",
                 fit = glmer(TICKS ~ YEAR + cHEIGHT + (1 | LOCATION), grouse, poisson, control = ctl)),
  negbin = list(formula = "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", data = "grouseticks",
                family = "negativebinomial", fit = glmer.nb(TICKS ~ YEAR + cHEIGHT + (1 | LOCATION), grouse)),
  poisson_glm = list(formula = "TICKS ~ YEAR + cHEIGHT", data = "grouseticks", family = "poisson",
                     fit = glm(TICKS ~ YEAR + cHEIGHT, grouse, family = poisson)),
  binomial = list(formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)", data = "cbpp",
                  family = "binomial", fit = glmer(cbind(incidence, size - incidence) ~ period + (1 | herd),
                                                   cbpp, binomial, control = ctl))
)
out <- lapply(fits, function(f) {
  o <- unclass(check_overdispersion(f$fit))
  res <- list(formula = f$formula, data = f$data, family = f$family, chisq = o$chisq_statistic,
              ratio = o$dispersion_ratio, df_resid = o$residual_df, p_value = o$p_value)
  if (f$family != "binomial") {
    z <- unclass(check_zeroinflation(f$fit))
    res <- c(res, list(observed_zeros = z$observed.zeros, predicted_zeros = z$predicted.zeros,
                       zero_ratio = z$ratio))
  }
  res
})
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/dispersion.json")
