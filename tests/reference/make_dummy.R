# lme4's dummy(f, levelsToKeep) in formulas: group effects for some levels of a factor
# only, and indicator columns among the fixed effects (tests/test_dummy.py).
# Run from the repository root (R 4.2.2, lme4 1.1-31):  Rscript tests/reference/make_dummy.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
cake <- rd("cake.csv", c("replicate", "recipe"))
cbpp <- rd("cbpp.csv", c("herd", "period"))
num <- function(x) unname(as.numeric(x))
one <- function(m, data, formula) {
  vc <- as.data.frame(VarCorr(m))
  re <- ranef(m)[[1]]
  list(formula = formula, data = data, loglik = num(logLik(m)), fixef = as.list(fixef(m)),
       vc_var1 = ifelse(is.na(vc$var1), "", vc$var1), vc_var2 = ifelse(is.na(vc$var2), "", vc$var2),
       vc_grp = vc$grp, sdcor = vc$sdcor, ranef_columns = colnames(re),
       ranef_first = num(unlist(re[1, ])), fitted = num(head(fitted(m), 10)))
}
f1 <- "angle ~ temp + (0 + dummy(recipe, \"B\") | replicate)"
f2 <- "angle ~ temp + (1 | replicate) + (0 + dummy(recipe, \"B\") | replicate)"
f3 <- "angle ~ recipe + temp + (0 + dummy(recipe, c(\"B\", \"C\")) | replicate)"
f4 <- "angle ~ dummy(recipe, c(\"C\", \"A\")) + temp + (1 | replicate)"
f5 <- "cbind(incidence, size - incidence) ~ dummy(period, \"1\") + (1 | herd)"
out <- list(
  one_level = one(lmer(as.formula(f1), cake, control = tight), "cake", f1),
  beside_intercept = one(lmer(as.formula(f2), cake, control = tight), "cake", f2),
  two_levels = one(lmer(as.formula(f3), cake, control = tight), "cake", f3),
  fixed = one(lmer(as.formula(f4), cake, control = tight), "cake", f4),
  glmer = one(glmer(as.formula(f5), cbpp, binomial,
                    control = glmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))), "cbpp", f5)
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/dummy.json")
