# References for GLMMs fitted by R's *default* glmer() (lme4 1.1-31, glmerControl()), which
# stops its Nelder-Mead second stage short of the optimum: multilevel's default
# optimizer="glmer" replays that run and must print the same numbers. Each model is
# also fitted with tight controls (bobyqa rhoend 1e-9, tolPwrss 1e-12), the optimum that
# optimizer="bobyqa" must reach.
# Run from the repository root (needs no network; R 4.2.2, lme4 1.1-31 from Debian):
#   Rscript tests/reference/make_glmer_default.R
# slopes.csv is written by make_lme4_extra.R; the derived data sets are mirrored in
# DERIVED of tests/test_freq_reference.py.
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
source("tests/reference/read_data.R")  # dir, fac(), rd()
cbpp <- rd("cbpp.csv", c("herd", "period"))
cbpp$obs <- fac(seq_len(nrow(cbpp)))       # observation-level effect ("cbpp_obs")
gt <- rd("grouseticks.csv", c("INDEX", "BROOD", "YEAR", "LOCATION"))
# The scaled height as a column ("grouseticks_sH"); scale(HEIGHT) inside the formula gives
# the same numbers in multilevel too (tests/test_formula_scale.py)
gt$sH <- as.numeric(scale(gt$HEIGHT))
verb <- rd("VerbAgg.csv.gz", c("Gender", "item", "resp", "id", "btype", "situ", "mode", "r2"))
syn <- rd("slopes.csv", c("g", "h"), path = "tests/reference/")

tight <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(rhoend = 1e-9, maxfun = 1e5))
fml <- function(m) paste(deparse(formula(m), width.cutoff = 500), collapse = "")
summ <- function(m) list(logLik = as.numeric(logLik(m)), AIC = AIC(m), BIC = BIC(m),
                         deviance = deviance(m), fixef = as.list(fixef(m)),
                         fixef_se = as.list(sqrt(diag(as.matrix(vcov(m))))),
                         theta = as.list(getME(m, "theta")), singular = isSingular(m))
ref <- function(formula, d, data, family, nAGQ = 1) {
  m <- glmer(formula, d, family = family, nAGQ = nAGQ)
  mt <- glmer(formula, d, family = family, nAGQ = nAGQ, control = tight)
  c(list(data = data, formula = fml(m), family = family()$family, nAGQ = nAGQ, nobs = nobs(m),
         df = attr(logLik(m), "df"), evaluations = m@optinfo$feval,
         optimizer_message = m@optinfo$message,
         conv_messages = I(as.character(unlist(m@optinfo$conv$lme4$messages)))),
    summ(m), list(tight = summ(mt)))
}

out <- list(
  cbpp = ref(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, "cbpp", binomial),
  cbpp_obs = ref(cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs), cbpp,
                 "cbpp_obs", binomial),
  # lme4's logLik for nAGQ > 1 leaves out the saturated log-likelihood (the test adds it back)
  cbpp_agq9 = ref(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, "cbpp", binomial,
                  nAGQ = 9),
  cbpp_null_agq5 = ref(cbind(incidence, size - incidence) ~ 1 + (1 | herd), cbpp, "cbpp", binomial,
                       nAGQ = 5),
  grouseticks_3re = ref(TICKS ~ YEAR + sH + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION), gt,
                        "grouseticks_sH", poisson),
  grouseticks_brood = ref(TICKS ~ YEAR + (1 | BROOD), gt, "grouseticks", poisson),
  grouseticks_brood_agq7 = ref(TICKS ~ YEAR + (1 | BROOD), gt, "grouseticks", poisson, nAGQ = 7),
  grouseticks_slope = ref(TICKS ~ YEAR + sH + (1 + sH | LOCATION), gt, "grouseticks_sH", poisson),
  verbagg_crossed = ref(r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item), verb, "VerbAgg",
                        binomial),
  slopes_bernoulli = ref(yb ~ x + (1 + x | g), syn, "slopes", binomial),
  slopes_bernoulli_uncorr = ref(yb ~ x + (x || g), syn, "slopes", binomial),
  # no slope on x for h in yb: a singular fit (that θ ends at 7e-5, near its bound)
  slopes_bernoulli_singular = ref(yb ~ x + (1 | g) + (1 | h) + (0 + x | h), syn, "slopes", binomial),
  slopes_poisson_crossed = ref(yp ~ x + (1 | g) + (1 + x | h), syn, "slopes", poisson)
)
out$`_about` <- paste("lme4", as.character(packageVersion("lme4")), "on", R.version.string,
                      "by tests/reference/make_glmer_default.R; default glmer() and, under 'tight',",
                      "glmer with tight controls.")
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           "tests/reference/glmer_default.json")
