# References for R's scale() inside lme4 formulas (tests/test_formula_scale.py): scale()
# centres and divides by the sample SD (n - 1); its mean and SD come from every row where
# its argument is present (model.frame evaluates it before na.omit) and predict() reuses them.
# Run from the repository root (R 4.2.2, lme4 1.1-31 from Debian; no network):
#   Rscript tests/reference/make_scale.R
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
source("tests/reference/read_data.R")  # dir, fac(), rd()
ss <- rd("sleepstudy.csv", "Subject")
# "sleepstudy_na" (mirrored in the test): Days missing in rows 1, 5; Reaction in rows 2, 3, 40,
# so scale(Days) is fitted on 178 rows and the model on 175
ss_na <- ss
ss_na$Days[c(1, 5)] <- NA
ss_na$Reaction[c(2, 3, 40)] <- NA
gt <- rd("grouseticks.csv", c("INDEX", "BROOD", "YEAR", "LOCATION"))
new_days <- data.frame(Days = c(0, 4.5, 12))

fml <- function(m) paste(deparse(formula(m), width.cutoff = 500), collapse = "")
summ <- function(m, data) {
  mf <- model.frame(m)
  s <- mf[[grep("^scale\\(", names(mf), value = TRUE)[1]]]
  list(data = data, formula = fml(m), REML = isREML(m), nobs = nobs(m),
       logLik = as.numeric(logLik(m)), fixef = as.list(fixef(m)),
       fixef_se = as.list(sqrt(diag(as.matrix(vcov(m))))), theta = as.list(getME(m, "theta")),
       center = as.numeric(attr(s, "scaled:center")), scale = as.numeric(attr(s, "scaled:scale")),
       column = as.numeric(s))
}
# lmer's default bobyqa stops short of the optimum on the random-slope model (SEs 1e-4 off);
# "tight" is the optimum that multilevel reaches
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
lmm <- function(formula, d, data, REML = TRUE, newdata = new_days) {
  m <- lmer(formula, d, REML = REML)
  mt <- lmer(formula, d, REML = REML, control = tight)
  c(summ(m, data), list(newdata = as.list(newdata),
                        predict = predict(m, newdata = newdata, re.form = NA),
                        tight = list(logLik = as.numeric(logLik(mt)), fixef = as.list(fixef(mt)),
                                     fixef_se = as.list(sqrt(diag(as.matrix(vcov(mt))))),
                                     theta = as.list(getME(mt, "theta")))))
}

out <- list(
  ss_scale = lmm(Reaction ~ scale(Days) + (1 | Subject), ss, "sleepstudy"),
  ss_scale_ml = lmm(Reaction ~ scale(Days) + (1 | Subject), ss, "sleepstudy", REML = FALSE),
  ss_scale_slope = lmm(Reaction ~ scale(Days) + (scale(Days) | Subject), ss, "sleepstudy"),
  ss_scale_nocenter = lmm(Reaction ~ scale(Days, center = FALSE) + (1 | Subject), ss, "sleepstudy"),
  ss_scale_noscale = lmm(Reaction ~ scale(Days, scale = FALSE) + (1 | Subject), ss, "sleepstudy"),
  ss_scale_numbers = lmm(Reaction ~ scale(Days, center = 2, scale = 10) + (1 | Subject), ss, "sleepstudy"),
  ss_scale_log = lmm(Reaction ~ scale(log(Days + 1)) + (1 | Subject), ss, "sleepstudy"),
  ss_na_scale = lmm(Reaction ~ scale(Days) + (1 | Subject), ss_na, "sleepstudy_na"),
  grouseticks_scale = c(summ(glmer(TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION),
                                   gt, family = poisson), "grouseticks"), list(family = "poisson"))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           "tests/reference/scale.json")
