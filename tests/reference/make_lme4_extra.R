# Extra lme4 references beyond ../shared/reference/lme4.json, so the engine is tested
# on models it was not tuned on. Run from the repository root:
#   Rscript tests/reference/make_lme4_extra.R
# (R 4.2.2, lme4 1.1-31 from Debian's r-cran-lme4; needs no network.)
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
data <- "src/multilevel/datasets/data/"
rd <- function(f) read.csv(paste0(data, f), stringsAsFactors = TRUE)
pen <- rd("Penicillin.csv"); cake <- rd("cake.csv"); ss <- rd("sleepstudy.csv")
gt <- rd("grouseticks.csv"); cbpp <- rd("cbpp.csv")
ss$Subject <- factor(ss$Subject); gt$BROOD <- factor(gt$BROOD); gt$YEAR <- factor(gt$YEAR)
cbpp$herd <- factor(cbpp$herd); cbpp$period <- factor(cbpp$period)
cake$recipe <- factor(cake$recipe); cake$replicate <- factor(cake$replicate)
ctl <- lmerControl(optimizer = "bobyqa")
lmm <- function(m) list(
  formula = paste(deparse(formula(m), width.cutoff = 500), collapse = ""), REML = isREML(m),
  nobs = nobs(m), fixef = as.list(fixef(m)), fixef_se = as.list(sqrt(diag(as.matrix(vcov(m))))),
  varcorr = as.data.frame(VarCorr(m)), sigma = sigma(m), logLik = as.numeric(logLik(m)),
  df = attr(logLik(m), "df"), AIC = AIC(m), BIC = BIC(m), theta = as.list(getME(m, "theta")),
  singular = isSingular(m))
glmm <- function(m) list(
  formula = paste(deparse(formula(m), width.cutoff = 500), collapse = ""),
  family = family(m)$family, nobs = nobs(m), fixef = as.list(fixef(m)),
  logLik = as.numeric(logLik(m)), AIC = AIC(m), BIC = BIC(m), deviance = deviance(m),
  theta = as.list(getME(m, "theta")))
out <- list(
  penicillin_reml = lmm(lmer(diameter ~ 1 + (1 | plate) + (1 | sample), pen, control = ctl)),
  penicillin_ml = lmm(lmer(diameter ~ 1 + (1 | plate) + (1 | sample), pen, REML = FALSE, control = ctl)),
  cake_reml = lmm(lmer(angle ~ recipe + temp + (1 | recipe:replicate), cake, control = ctl)),
  ss_days_factor_ri = lmm(lmer(Reaction ~ Days + I(Days^2) + (1 | Subject), ss, control = ctl)),
  grouseticks_poisson = glmm(glmer(TICKS ~ YEAR + (1 | BROOD), gt, family = poisson)),
  cbpp_null = glmm(glmer(cbind(incidence, size - incidence) ~ 1 + (1 | herd), cbpp, family = binomial)),
  lm_mtcars = {m <- lm(mpg ~ wt + hp, rd("mtcars.csv")); list(formula = "mpg ~ wt + hp",
    fixef = as.list(coef(m)), fixef_se = as.list(sqrt(diag(vcov(m)))), logLik = as.numeric(logLik(m)),
    AIC = AIC(m), BIC = BIC(m), sigma = sigma(m))},
  `_about` = paste("lme4", as.character(packageVersion("lme4")), "on", R.version.string,
                   "by tests/reference/make_lme4_extra.R (lmer optimizer bobyqa, glmer defaults)."))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           "tests/reference/lme4_extra.json")
