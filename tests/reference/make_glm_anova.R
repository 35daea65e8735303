# Analysis of deviance of GLMs without group terms (tests/test_glm_anova.py): R's
# anova(glm, test = "Chisq"), car's Anova(glm) type II and III likelihood-ratio tests,
# drop1(glm, test = "Chisq"); Poisson, binomial (cbind), Gamma (dispersion estimated)
# and glm.nb (theta kept by anova and drop1).
# Run from the repository root (R 4.2.2, car 3.1):  Rscript tests/reference/make_glm_anova.R
suppressPackageStartupMessages({ library(car); library(MASS); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
grouse <- rd("grouseticks.csv", c("BROOD", "YEAR", "LOCATION"))
cbpp <- rd("cbpp.csv", c("herd", "period"))
ig <- read.csv("tests/reference/inverse_gaussian.csv"); ig$cond <- fac(ig$cond)
num <- function(x) unname(as.numeric(x))
tab <- function(a, cols) c(list(rows = rownames(a)), setNames(lapply(cols, function(k) num(a[[k]])), cols))
cases <- list(
  poisson = list(formula = "TICKS ~ YEAR * cHEIGHT", data = "grouseticks", family = "poisson",
                 fit = glm(TICKS ~ YEAR * cHEIGHT, grouse, family = poisson)),
  binomial = list(formula = "cbind(incidence, size - incidence) ~ period + size", data = "cbpp",
                  family = "binomial", fit = glm(cbind(incidence, size - incidence) ~ period + size, cbpp,
                                                 family = binomial)),
  gamma = list(formula = "rt ~ cond * x", data = "inverse_gaussian", family = "gamma", link = "log",
               fit = glm(rt ~ cond * x, ig, family = Gamma(link = "log")))
)
out <- lapply(cases, function(cs) {
  m <- cs$fit
  res <- cs[c("formula", "data", "family")]
  res$link <- if (is.null(cs$link)) NULL else cs$link
  res$type1 <- tab(anova(m, test = "Chisq"), c("Df", "Deviance", "Resid. Df", "Resid. Dev", "Pr(>Chi)"))
  res$type2 <- tab(Anova(m, type = 2), c("LR Chisq", "Df", "Pr(>Chisq)"))
  res$type3 <- tab(Anova(m, type = 3), c("LR Chisq", "Df", "Pr(>Chisq)"))
  d <- drop1(m, test = "Chisq")
  res$drop1 <- tab(d, c("Df", "Deviance", "AIC", names(d)[4], "Pr(>Chi)"))
  res
})
nb <- glm.nb(TICKS ~ YEAR + cHEIGHT, grouse)
out$negbin <- list(formula = "TICKS ~ YEAR + cHEIGHT", data = "grouseticks", family = "negativebinomial",
                   type1 = tab(suppressWarnings(anova(nb, test = "Chisq")), c("Df", "Deviance", "Resid. Df", "Resid. Dev", "Pr(>Chi)")),
                   drop1 = tab(drop1(nb, test = "Chisq"), c("Df", "Deviance", "AIC", "LRT", "Pr(>Chi)")))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE), "tests/reference/glm_anova.json")
# MASS's confint(glm) (profile, spline-interpolated) and confint.default (Wald)
ci <- lapply(cases, function(cs) list(profile = unname(suppressMessages(confint(cs$fit))),
                                      wald = unname(confint.default(cs$fit))))
ci$negbin <- list(profile = unname(suppressMessages(confint(nb))), wald = unname(confint.default(nb)))
writeLines(toJSON(ci, digits = NA, pretty = TRUE), "tests/reference/glm_confint.json")
