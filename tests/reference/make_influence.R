# lme4's influence.merMod(): group- and case-deletion refits, with dfbeta, dfbetas and its
# cooks.distance (tests/test_influence.py). lme4's own refits (lmer/glmer defaults, maxfun
# 1000, started at the fit's estimates). Run from the repository root (R 4.2.2, lme4 1.1-31):
#   Rscript tests/reference/make_influence.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
ss <- rd("sleepstudy.csv", "Subject")
dye <- rd("Dyestuff.csv", "Batch")
pen <- rd("Penicillin.csv", c("plate", "sample"))
cbpp <- rd("cbpp.csv", c("herd", "period"))
# lme4's dfbetas.influence.merMod, which fails for a single fixed effect (t() of a vector)
dfbetas_ <- function(inf) dfbeta(inf) / t(sapply(inf[[6]], function(v) sqrt(diag(as.matrix(v))), simplify = "array") |>
                                           matrix(nrow = ncol(inf[[2]])))
one <- function(m, data, formula, groups = NULL, family = "gaussian") {
  inf <- if (is.null(groups)) influence(m, data = data) else influence(m, groups = groups, data = data)
  list(formula = formula, data = deparse(substitute(data)), groups = if (is.null(groups)) "" else groups,
       family = family, units = as.character(rownames(inf[[2]])),
       fixed_deleted = unname(inf[[2]]), var_cov_names = colnames(inf[[4]]), var_cov_deleted = unname(inf[[4]]),
       dfbetas = unname(dfbetas_(inf)), cooks = unname(cooks.distance(inf)))
}
out <- list(
  sleepstudy_subject = one(lmer(Reaction ~ Days + (Days | Subject), ss), ss,
                           "Reaction ~ Days + (Days | Subject)", "Subject"),
  dyestuff_case = one(lmer(Yield ~ 1 + (1 | Batch), dye), dye, "Yield ~ 1 + (1 | Batch)"),
  penicillin_plate = one(lmer(diameter ~ 1 + (1 | plate) + (1 | sample), pen), pen,
                         "diameter ~ 1 + (1 | plate) + (1 | sample)", "plate"),
  cbpp_herd = one(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial), cbpp,
                  "cbind(incidence, size - incidence) ~ period + (1 | herd)", "herd", "binomial")
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/influence.json")
