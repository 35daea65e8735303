# MASS's glm.nb(): negative binomial GLMs with theta by maximum likelihood
# (tests/test_glm_dispersion.py). Run from the repository root (R 4.2.2, MASS 7.3):
#   Rscript tests/reference/make_glm_nb.R
suppressPackageStartupMessages({ library(MASS); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
grouse <- rd("grouseticks.csv", c("BROOD", "YEAR", "LOCATION"))
num <- function(x) unname(as.numeric(x))
cases <- list(height = "TICKS ~ YEAR + cHEIGHT", year = "TICKS ~ YEAR",
              offset = "TICKS ~ YEAR + offset(log(HEIGHT))")
out <- lapply(cases, function(f) {
  m <- glm.nb(as.formula(f), grouse)
  s <- summary(m)
  list(formula = f, theta = m$theta, logLik = as.numeric(logLik(m)), df = attr(logLik(m), "df"),
       AIC = AIC(m), BIC = BIC(m), deviance = deviance(m), null_deviance = m$null.deviance,
       coef = num(coef(m)), se = num(s$coefficients[, 2]), z = num(s$coefficients[, 3]),
       fitted_head = num(head(fitted(m), 6)))
})
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/glm_nb.json")
