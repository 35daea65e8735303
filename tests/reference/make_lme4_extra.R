# Extra references beyond ../shared/reference/lme4.json, so the frequentist engine is
# tested on models it was not tuned on: crossed, nested, interaction, random slopes on
# a crossed design, singular and rank-deficient fits, GLMMs (binomial, bernoulli, Poisson
# with an observation-level effect, adaptive Gauss-Hermite), GLMs and lm.
# Run from the repository root (needs no network; R 4.2.2, lme4 1.1-31 from Debian):
#   Rscript tests/reference/make_lme4_extra.R
# Optimizers are run to tight tolerances (bobyqa rhoend 1e-9, glmer tolPwrss 1e-12),
# so the references are the optima themselves; the shared file has lme4's defaults.
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
source("tests/reference/read_data.R")  # dir, fac(), rd()
ss <- rd("sleepstudy.csv", "Subject")
pen <- rd("Penicillin.csv", c("plate", "sample"))
pastes <- rd("Pastes.csv", c("batch", "cask", "sample"))
cake <- rd("cake.csv", c("replicate", "recipe", "temperature"))
gt <- rd("grouseticks.csv", c("INDEX", "BROOD", "YEAR", "LOCATION"))
cbpp <- rd("cbpp.csv", c("herd", "period"))
verb <- rd("VerbAgg.csv.gz", c("Gender", "item", "resp", "id", "btype", "situ", "mode", "r2"))
ie <- rd("InstEval.csv.gz", c("s", "d", "studage", "lectage", "service", "dept"))
ie <- ie[1:8000, ]; for (v in c("s", "d", "dept")) ie[[v]] <- fac(as.character(ie[[v]]))
mt <- read.csv(paste0(dir, "mtcars.csv"), row.names = 1)
# a data set without any group effect: y ~ N(0, 1), 8 groups of 10 -> singular fit
set.seed(20261123)
sing <- data.frame(y = round(rnorm(80), 4), g = rep(sprintf("g%02d", 1:8), each = 10))
write.csv(sing, "tests/reference/singular.csv", row.names = FALSE)
sing$g <- fac(sing$g)
# random slopes: a q = 3 block (LMM), a q = 2 first term (bernoulli), a q = 2 rest term (Poisson)
set.seed(20261124)
ng <- 40; nh <- 12; nr <- 800
syn <- data.frame(g = sample(sprintf("g%02d", 1:ng), nr, TRUE), h = sample(sprintf("h%02d", 1:nh), nr, TRUE),
                  x = round(rnorm(nr), 4), z = round(runif(nr, -1, 1), 4))
gi <- as.integer(factor(syn$g)); hi <- as.integer(factor(syn$h))
b <- matrix(rnorm(3 * ng), ng) %*% chol(matrix(c(1, .3, .2, .3, .5, .1, .2, .1, .4), 3))
bh <- matrix(rnorm(2 * nh), nh) %*% chol(matrix(c(.4, .1, .1, .2), 2))
syn$yl <- round(2 + syn$x - syn$z + b[gi, 1] + b[gi, 2] * syn$x + b[gi, 3] * syn$z + rnorm(nr), 4)
syn$yb <- rbinom(nr, 1, plogis(-0.5 + 0.8 * syn$x + b[gi, 1] + b[gi, 2] * syn$x))
syn$yp <- rpois(nr, exp(0.3 + 0.4 * syn$x + 0.5 * b[gi, 1] + bh[hi, 1] + bh[hi, 2] * syn$x))
write.csv(syn, "tests/reference/slopes.csv", row.names = FALSE)
syn$g <- fac(syn$g); syn$h <- fac(syn$h)
# mirrored in the tests (DERIVED in tests/test_freq_reference.py)
ss$Days2 <- 2 * ss$Days
mt$wt2 <- 2 * mt$wt
gt$h <- gt$cHEIGHT / 50  # lme4 fails to converge with the unscaled cHEIGHT (max|grad| 0.04)

lctl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-9, maxfun = 1e5))
gctl <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12,
                     optCtrl = list(rhoend = 1e-9, maxfun = 1e5))
fml <- function(m) paste(deparse(formula(m), width.cutoff = 500), collapse = "")
first <- function(x, k = 6) unname(as.numeric(x)[seq_len(min(k, length(x)))])
# predictions for the first 3 rows with the last row's `column` set to a new level
new_rows <- function(d, column) {
  nd <- d[1:3, ]; nd[[column]] <- as.character(nd[[column]]); nd[[column]][3] <- "new_level"; nd
}
common <- function(m, d, data, new_column) {
  out <- list(data = data, formula = fml(m), nobs = nobs(m), fixef = as.list(fixef(m)),
              fixef_se = as.list(sqrt(diag(as.matrix(vcov(m))))), logLik = as.numeric(logLik(m)),
              df = attr(logLik(m), "df"), AIC = AIC(m), BIC = BIC(m),
              theta = as.list(getME(m, "theta")), singular = isSingular(m),
              varcorr = as.data.frame(VarCorr(m)), ranef = re_tables(m),
              pred = first(predict(m)), pred_marg = first(predict(m, re.form = NA)))
  if (!is.null(new_column)) {
    out$new_column <- new_column
    out$pred_new <- unname(predict(m, new_rows(d, new_column), allow.new.levels = TRUE))
  }
  out
}
lmm <- function(formula, d, data, REML = TRUE, new_column = NULL) {
  m <- lmer(formula, d, REML = REML, control = lctl)
  out <- c(common(m, d, data, new_column), list(REML = REML, sigma = sigma(m),
           deviance_at_fit = deviance(m, REML = FALSE)))
  if (REML) out$REMLcrit <- REMLcrit(m)
  out
}
glmm <- function(formula, d, data, family, nAGQ = 1, new_column = NULL) {
  m <- glmer(formula, d, family = family, nAGQ = nAGQ, control = gctl)
  c(common(m, d, data, new_column),
    list(family = family()$family, nAGQ = nAGQ, deviance = deviance(m),
         fixef_se_rx = as.list(sqrt(diag(as.matrix(vcov(m, use.hessian = FALSE))))),
         pred_response = first(predict(m, type = "response"))))
}
glm_ref <- function(formula, d, data, family) {
  m <- glm(formula, family = family, data = d)
  list(data = data, formula = fml(m), family = family()$family, nobs = nobs(m),
       fixef = as.list(coef(m)), fixef_se = as.list(sqrt(diag(vcov(m)))),
       logLik = as.numeric(logLik(m)), df = attr(logLik(m), "df"), AIC = AIC(m), BIC = BIC(m),
       deviance = deviance(m), null_deviance = m$null.deviance,
       pred_response = first(predict(m, type = "response")))
}
lm_ref <- function(formula, d, data) {
  m <- lm(formula, d)
  cf <- coef(m)
  list(data = data, formula = fml(m), nobs = nobs(m), fixef = as.list(cf[!is.na(cf)]),
       aliased = I(names(cf)[is.na(cf)]), fixef_se = as.list(sqrt(diag(vcov(m)))[!is.na(cf)]),
       logLik = as.numeric(logLik(m)), logLik_REML = as.numeric(logLik(m, REML = TRUE)),
       df = attr(logLik(m), "df"), AIC = AIC(m), BIC = BIC(m), sigma = sigma(m),
       pred = first(predict(m)))
}
meth <- function(m) if (inherits(m, "merMod") && isREML(m)) "reml" else "ml"
lrt_ref <- function(m1, m2, data, family = "gaussian") {
  a <- suppressMessages(anova(m2, m1))  # merMod first: anova.merMod sorts by npar
  list(data = data, family = family, formulas = c(fml(m1), fml(m2)), methods = c(meth(m1), meth(m2)),
       npar = a$npar, AIC = a$AIC, BIC = a$BIC, logLik = a$logLik, deviance = a$deviance,
       Chisq = a$Chisq[2], Df = a$Df[2], p = a[["Pr(>Chisq)"]][2])
}

out <- list(
  penicillin_reml = lmm(diameter ~ 1 + (1 | plate) + (1 | sample), pen, "Penicillin",
                        new_column = "plate"),
  penicillin_ml = lmm(diameter ~ 1 + (1 | plate) + (1 | sample), pen, "Penicillin", REML = FALSE),
  penicillin_sample_ml = lmm(diameter ~ 1 + (1 | sample), pen, "Penicillin", REML = FALSE),
  pastes_nested_sample = lmm(strength ~ 1 + (1 | batch) + (1 | sample), pastes, "Pastes",
                             new_column = "batch"),
  cake_interaction_reml = lmm(angle ~ recipe * temperature + (1 | recipe:replicate), cake, "cake",
                              new_column = "replicate"),
  cake_temp_ml = lmm(angle ~ recipe + temp + (1 | recipe:replicate), cake, "cake", REML = FALSE),
  ss_slopes_reml = lmm(Reaction ~ Days + (Days | Subject), ss, "sleepstudy", new_column = "Subject"),
  ss_quadratic_reml = lmm(Reaction ~ Days + I(Days^2) + (1 | Subject), ss, "sleepstudy"),
  ss_uncorr_ml = lmm(Reaction ~ Days + (Days || Subject), ss, "sleepstudy", REML = FALSE,
                     new_column = "Subject"),
  ss_rankdef_reml = lmm(Reaction ~ Days + Days2 + (1 | Subject), ss, "sleepstudy_days2"),
  singular_reml = lmm(y ~ 1 + (1 | g), sing, "singular"),
  insteval8k_slopes_reml = lmm(y ~ service + (1 + service | s) + (1 | d), ie, "InstEval_8000",
                               new_column = "d"),
  grouse_log_crossed_reml = lmm(log(TICKS + 1) ~ YEAR + cHEIGHT + (1 | BROOD) + (1 + cHEIGHT | LOCATION),
                                gt, "grouseticks"),
  slopes_q3_reml = lmm(yl ~ x + z + (1 + x + z | g), syn, "slopes", new_column = "g"),
  slopes_bernoulli = glmm(yb ~ x + (1 + x | g), syn, "slopes", binomial, new_column = "g"),
  slopes_poisson_crossed = glmm(yp ~ x + (1 | g) + (1 + x | h), syn, "slopes", poisson),
  cbpp_glmer = glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, "cbpp",
                    binomial, new_column = "herd"),
  cbpp_null = glmm(cbind(incidence, size - incidence) ~ 1 + (1 | herd), cbpp, "cbpp", binomial),
  # lme4's logLik for nAGQ > 1 leaves out the saturated log-likelihood (sum of log
  # dbinom(y, n, y/n)), which nAGQ = 1 includes; the test adds it back
  cbpp_agq9 = glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, "cbpp",
                   binomial, nAGQ = 9),
  grouseticks_poisson = glmm(TICKS ~ YEAR + (1 | BROOD), gt, "grouseticks", poisson,
                             new_column = "BROOD"),
  grouseticks_olre = glmm(TICKS ~ YEAR + h + (1 | INDEX) + (1 | BROOD) + (1 | LOCATION), gt,
                          "grouseticks_h", poisson),
  verbagg_bernoulli = glmm(r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item), verb,
                           "VerbAgg", binomial),
  glm_cbpp_binomial = glm_ref(cbind(incidence, size - incidence) ~ period, cbpp, "cbpp", binomial),
  glm_grouse_poisson = glm_ref(TICKS ~ YEAR + cHEIGHT, gt, "grouseticks", poisson),
  glm_mtcars_bernoulli = glm_ref(am ~ wt + hp, mt, "mtcars", binomial),
  lm_mtcars = lm_ref(mpg ~ wt + hp, mt, "mtcars"),
  lm_mtcars_rankdef = lm_ref(mpg ~ wt + wt2 + hp, mt, "mtcars_wt2")
)
m_pen_s <- lmer(diameter ~ 1 + (1 | sample), pen, control = lctl)
m_pen <- lmer(diameter ~ 1 + (1 | plate) + (1 | sample), pen, control = lctl)
m_ss_ri <- lmer(Reaction ~ Days + (1 | Subject), ss, control = lctl)
m_ss_lm <- lm(Reaction ~ Days, ss)
m_cbpp0 <- glmer(cbind(incidence, size - incidence) ~ 1 + (1 | herd), cbpp, binomial, control = gctl)
m_cbpp <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial, control = gctl)
m_cbpp_glm <- glm(cbind(incidence, size - incidence) ~ period, binomial, cbpp)
out$lrt_penicillin_plate <- lrt_ref(m_pen_s, m_pen, "Penicillin")
out$lrt_lm_vs_lmer <- lrt_ref(m_ss_lm, m_ss_ri, "sleepstudy")
out$lrt_cbpp_period <- lrt_ref(m_cbpp0, m_cbpp, "cbpp", "binomial")
out$lrt_glm_vs_glmer <- lrt_ref(m_cbpp_glm, m_cbpp, "cbpp", "binomial")
out$`_about` <- paste("lme4", as.character(packageVersion("lme4")), "on", R.version.string,
                      "by tests/reference/make_lme4_extra.R; tight optimizer tolerances (see script).")
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           "tests/reference/lme4_extra.json")
