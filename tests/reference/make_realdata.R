# References for "real data as it comes" (issue 19): offsets, prior weights, links, the
# Gamma family, glmer.nb, R's column names, nesting names and nAGQ > 1 logLik.
# Run from the repository root (R 4.2.2, lme4 1.1-31 and MASS from Debian, no network):
#   Rscript tests/reference/make_realdata.R
# It writes tests/reference/realdata.json and the simulated data beside it
# (realdata_sim.csv, realdata_rnames.csv), which the tests read with pandas.
suppressPackageStartupMessages({library(lme4); library(MASS); library(jsonlite)})
source("tests/reference/read_data.R")  # dir, fac(), rd()
cbpp <- rd("cbpp.csv", c("herd", "period"))
gt <- rd("grouseticks.csv", c("INDEX", "BROOD", "YEAR", "LOCATION"))
sleep <- rd("sleepstudy.csv", c("Subject"))

# ---- simulated data (deterministic), saved as CSV
set.seed(20261203)
ng <- 20; per <- 10; n <- ng * per
g <- rep(sprintf("g%02d", 1:ng), each = per)
bg <- rep(rnorm(ng, 0, 0.5), each = per)
x <- round(rnorm(n), 4)
exposure <- round(runif(n, 0.5, 5), 3)
count <- rpois(n, exposure * exp(0.3 + 0.5 * x + bg))
yn <- round(10 + 2 * x + 3 * bg + rnorm(n, 0, 2), 4)
w <- sample(1:4, n, replace = TRUE)
ygam <- round(rgamma(n, shape = 3, rate = 3 / exp(1 + 0.4 * x + bg)), 5)
# three-level nesting: a (4) / b (3 per a) / c (2 per b); labels reused across parents
a <- rep(paste0("A", 1:4), length.out = n)
b <- rep(rep(paste0("B", 1:3), each = 4), length.out = n)
cc <- rep(rep(paste0("C", 1:2), each = 12), length.out = n)
ab <- paste(a, b); abc <- paste(a, b, cc)
ynest <- round(yn + rnorm(4, 0, 2)[factor(a)] + rnorm(12, 0, 1.5)[factor(ab)] + rnorm(24, 0, 1)[factor(abc)], 4)
sim <- data.frame(g, x, exposure, count, yn, w, ygam, a, b, c = cc, ynest, stringsAsFactors = FALSE)
write.csv(sim, "tests/reference/realdata_sim.csv", row.names = FALSE)
for (v in c("g", "a", "b", "c")) sim[[v]] <- fac(sim[[v]])

rn <- data.frame(check.names = FALSE,
                 yield = round(50 + 4 * x + rep(rnorm(ng, 0, 3), each = per) + rnorm(n, 0, 2), 3),
                 x.1 = x, Petal.Width = round(runif(n, 0.1, 2.5), 2),
                 `my var` = round(rnorm(n), 3), class = g)
write.csv(rn, "tests/reference/realdata_rnames.csv", row.names = FALSE)
rn$class <- fac(rn$class)

# ---- helpers
num <- function(v) as.list(v)
fml <- function(m) paste(deparse(formula(m), width.cutoff = 500), collapse = "")
vc <- function(m) {
  d <- as.data.frame(VarCorr(m))
  list(grp = d$grp, var1 = ifelse(is.na(d$var1), NA, d$var1), var2 = ifelse(is.na(d$var2), NA, d$var2),
       vcov = d$vcov, sdcor = d$sdcor)
}
summ <- function(m) {
  out <- list(formula = fml(m), logLik = as.numeric(logLik(m)), df = attr(logLik(m), "df"),
              AIC = AIC(m), BIC = BIC(m), nobs = nobs(m), deviance = deviance(m),
              fixef = num(fixef(m)), fixef_se = num(sqrt(diag(as.matrix(vcov(m))))),
              theta = num(getME(m, "theta")), sigma = sigma(m), varcorr = vc(m),
              fitted = as.numeric(fitted(m)),
              predict_link = as.numeric(predict(m)),
              predict_link_fixed = as.numeric(predict(m, re.form = NA)),
              predict_response = as.numeric(predict(m, type = "response")),
              ranef_names = names(ranef(m)))
  if (isLMM(m)) out$REMLcrit <- if (isREML(m)) as.numeric(REMLcrit(m)) else NA
  if (isLMM(m)) out$deviance <- deviance(m, REML = FALSE)
  out
}
tight_g <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(rhoend = 1e-9, maxfun = 1e5))
tight_l <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
newd <- sim[c(1, 15, 40, 77, 150), ]
newd$exposure <- c(1, 2, 0.5, 4, 3)

out <- list()
# offsets
m <- glmer(count ~ x + offset(log(exposure)) + (1 | g), sim, family = poisson)
mt <- update(m, control = tight_g)
out$poisson_offset <- c(summ(m), list(tight = summ(mt), family = "poisson", link = "log", data = "sim",
  newdata_rows = c(1, 15, 40, 77, 150), newdata_exposure = newd$exposure,
  newdata_predict_link = as.numeric(predict(mt, newdata = newd)),
  newdata_predict_link_fixed = as.numeric(predict(mt, newdata = newd, re.form = NA)),
  newdata_predict_response = as.numeric(predict(mt, newdata = newd, type = "response"))))
sleep$off <- 10 * log1p(sleep$Days)
m <- lmer(Reaction ~ Days + offset(10 * log1p(Days)) + (Days | Subject), sleep)
out$lmm_offset <- c(summ(m), list(tight = summ(update(m, control = tight_l)), family = "gaussian",
                                  data = "sleepstudy", method = "reml"))
m <- lmer(Reaction ~ Days + offset(10 * log1p(Days)) + (Days | Subject), sleep, REML = FALSE)
out$lmm_offset_ml <- c(summ(m), list(tight = summ(update(m, control = tight_l)), family = "gaussian",
                                     data = "sleepstudy", method = "ml"))
# prior weights
m <- lmer(yn ~ x + (1 | g), sim, weights = w)
out$lmm_weights <- c(summ(m), list(family = "gaussian", data = "sim", method = "reml", weights = "w"))
m <- lmer(yn ~ x + (1 | g), sim, weights = w, REML = FALSE)
out$lmm_weights_ml <- c(summ(m), list(family = "gaussian", data = "sim", method = "ml", weights = "w"))
m <- glmer(count ~ x + (1 | g), sim, family = poisson, weights = w)
mt <- update(m, control = tight_g)
out$poisson_weights <- c(summ(m), list(tight = summ(mt), family = "poisson", link = "log", data = "sim",
                                       weights = "w"))
cbpp$prop <- cbpp$incidence / cbpp$size
m <- glmer(prop ~ period + (1 | herd), cbpp, family = binomial, weights = size)
mt <- update(m, control = tight_g)
out$binomial_weights <- c(summ(m), list(tight = summ(mt), family = "binomial", link = "logit",
                                        data = "cbpp", weights = "size"))
# links
for (lk in c("probit", "cloglog")) {
  m <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial(link = lk))
  mt <- update(m, control = tight_g)
  out[[paste0("binomial_", lk)]] <- c(summ(m), list(tight = summ(mt), family = "binomial", link = lk, data = "cbpp"))
}
m <- glmer(count ~ x + (1 | g), sim, family = poisson(link = "sqrt"))
mt <- update(m, control = tight_g)
out$poisson_sqrt <- c(summ(m), list(tight = summ(mt), family = "poisson", link = "sqrt", data = "sim"))
# Gamma
m <- glmer(ygam ~ x + (1 | g), sim, family = Gamma(link = "log"))
mt <- update(m, control = tight_g)
out$gamma_log <- c(summ(m), list(tight = summ(mt), family = "gamma", link = "log", data = "sim"))
m <- glmer(ygam ~ x + (1 | g), sim, family = Gamma)   # R's default link: inverse
mt <- update(m, control = tight_g)
out$gamma_inverse <- c(summ(m), list(tight = summ(mt), family = "gamma", link = "inverse", data = "sim"))
# negative binomial
m <- glmer.nb(TICKS ~ YEAR + (1 | BROOD), gt)
out$glmer_nb <- c(summ(m), list(family = "negativebinomial", data = "grouseticks",
                                theta_nb = getME(m, "glmer.nb.theta")))
# R names
m <- lmer(yield ~ x.1 + Petal.Width + `my var` + (1 | class), rn)
out$rnames <- c(summ(m), list(family = "gaussian", data = "rnames", method = "reml"))
# three-level nesting
m <- lmer(ynest ~ x + (1 | a/b/c), sim)
out$nested3 <- c(summ(m), list(family = "gaussian", data = "sim", method = "reml",
                               ranef_levels = lapply(ranef(m), rownames)))
# nAGQ = 25
m <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial, nAGQ = 25)
mt <- update(m, control = tight_g)
out$cbpp_agq25 <- c(summ(m), list(tight = summ(mt), family = "binomial", link = "logit", data = "cbpp", nAGQ = 25))

out$`_about` <- paste("lme4", as.character(packageVersion("lme4")), "and MASS",
                      as.character(packageVersion("MASS")), "on", R.version.string,
                      "by tests/reference/make_realdata.R; glmer entries: default glmer() at the top,",
                      "tight controls (bobyqa, rhoend 1e-9, tolPwrss 1e-12) under 'tight'")
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           "tests/reference/realdata.json")
