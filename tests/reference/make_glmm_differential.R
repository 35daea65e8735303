# Differential GLMM cases: glmer / glmer.nb (lme4 1.1-31) on simulated awkward data, for
# tests/test_glmm_differential.py. Binomial responses in every form lme4 takes (0/1,
# logical, a two-level string whose first level is failure, cbind(s, f), a proportion
# with its trials as weights), the logit/probit/cloglog links, Poisson with
# offset(log(exposure)) and with glmer's offset= argument, Gamma (log and inverse links),
# glmer.nb, nAGQ > 1, near-separation and all-zero groups, missing values, crossed and
# nested terms, correlated (x | g) and uncorrelated (x || g) blocks. Each case records
# criteria, fixed effects and SEs, Wald z and p, VarCorr, conditional modes, fitted
# values, the four residual types and predictions on new data (re.form = NA and a new
# level); anova() of nested pairs.
# Run from the repository root: Rscript tests/reference/make_glmm_differential.R
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
source("tests/reference/read_data.R")  # fac(), rd()
ref <- "tests/reference/glmm_differential/"
dir.create(ref, showWarnings = FALSE)
put <- function(d, name, factors = character()) {
  file <- paste0(name, ".csv")
  write.csv(d, paste0(ref, file), row.names = FALSE)
  d <- rd(file, factors, path = ref)
  d
}

## ---- data -------------------------------------------------------------------------
# bin: 24 groups g x 8 rows, a crossed factor h (6 levels), a binary response in four
# codings; group g03 is all failures, g07 all successes (near-separation of those groups'
# modes), x has 4 missing values and y01 2 (their rows are dropped: na.omit)
set.seed(20261204)
n <- 192
bin <- data.frame(g = sprintf("g%02d", rep(1:24, each = 8)), h = sprintf("h%d", rep(1:6, times = 32)),
                  x = round(rnorm(n), 3), z = round(runif(n, -1, 1), 3))
bg <- rnorm(24, sd = 1.2); bh <- rnorm(6, sd = 0.6); bs <- rnorm(24, sd = 0.5)
gi <- as.integer(factor(bin$g)); hi <- as.integer(factor(bin$h))
eta <- -0.3 + 0.8 * bin$x - 0.5 * bin$z + bg[gi] + bh[hi] + bs[gi] * bin$x
bin$y01 <- rbinom(n, 1, plogis(eta))
bin$y01[bin$g == "g03"] <- 0L
bin$y01[bin$g == "g07"] <- 1L
bin$x[c(5, 50, 111, 170)] <- NA
bin$y01[c(20, 140)] <- NA
bin$ylgl <- as.logical(bin$y01)
# a two-level string whose alphabetical first level ("alive") is lme4's failure
bin$status <- ifelse(bin$y01 == 1, "dead", "alive")
# three levels: R's binomial() makes the first ("alive") failure and both others success
bin$status3 <- ifelse(bin$y01 == 1, ifelse(bin$z > 0, "dead", "missing"), "alive")
# trials: binomial counts per row (1..12 trials), s successes
bin$n <- sample(1:12, n, replace = TRUE)
bin$s <- rbinom(n, bin$n, plogis(eta))
bin$s[bin$g == "g03"] <- 0L
bin$prop <- bin$s / bin$n
# quasi-separation in a fixed effect: every row with f = "hi" is a success (glmer's
# estimate runs off to ~20 with SE ~3300, its Hessian not positive definite: SEs from R_X)
bin$f <- ifelse(bin$z > 0.6, "hi", "lo")
bin$ysep <- ifelse(bin$f == "hi", 1L, bin$y01)
bin <- put(bin, "bin", c("g", "h", "f"))
bin$status <- factor(bin$status)          # lme4's formula handling: a string response is a factor
bin$status3 <- factor(bin$status3)
# pois: sites with plots nested in them (plot labels repeat across sites), exposure, an
# all-zero plot, one missing count
set.seed(7)
np <- 240
pois <- data.frame(site = sprintf("s%d", rep(1:6, each = 40)), plot = sprintf("p%d", rep(rep(1:5, each = 8), 6)),
                   x = round(rnorm(np), 3), exposure = round(runif(np, 0.2, 5), 2))
bsite <- rnorm(6, sd = 0.7); bplot <- rnorm(30, sd = 0.5)
si <- as.integer(factor(pois$site)); pj <- as.integer(factor(paste(pois$site, pois$plot)))
pois$count <- rpois(np, pois$exposure * exp(-0.5 + 0.4 * pois$x + bsite[si] + bplot[pj]))
pois$count[pois$site == "s2" & pois$plot == "p3"] <- 0L
pois$count[17] <- NA
pois$exposure[30] <- NA                    # a missing offset drops its row too
pois$logexp <- log(pois$exposure)
pois$w <- ifelse(pois$x > 0, 2, 1)           # prior weights (each row counts w times)
pois <- put(pois, "pois", c("site", "plot"))
# gam: positive amounts, Gamma(log) with a random slope; nb: overdispersed counts
set.seed(11)
ng <- 200
gam <- data.frame(g = sprintf("G%02d", rep(1:20, each = 10)), x = round(runif(ng, 0, 3), 3))
b0 <- rnorm(20, sd = 0.5); b1 <- rnorm(20, sd = 0.2)
gj <- as.integer(factor(gam$g))
mu <- exp(1 + 0.3 * gam$x + b0[gj] + b1[gj] * gam$x)
gam$y <- round(rgamma(ng, shape = 2.5, rate = 2.5 / mu), 4)
gam$cnt <- rnbinom(ng, mu = mu, size = 1.5)
gam$g[13] <- NA                            # a missing grouping factor drops its row
gam <- put(gam, "gam", "g")

## ---- quantities -------------------------------------------------------------------
first <- function(x, k = 8) unname(as.numeric(x)[seq_len(min(k, length(x)))])
re_all <- function(m, k = 8) {   # the first k levels of each grouping factor, plus any named
  re <- as.data.frame(ranef(m, condVar = TRUE))
  keep <- unlist(lapply(split(seq_len(nrow(re)), re$grpvar), function(i)
    i[re$grp[i] %in% unique(as.character(re$grp[i]))[1:k]]))
  re <- re[sort(keep), ]
  list(grpvar = as.character(re$grpvar), term = as.character(re$term), grp = as.character(re$grp),
       condval = re$condval, condsd = re$condsd)
}
summ <- function(m, case, newdata) {
  types <- c("deviance", "pearson", "working", "response")
  out <- c(case, list(
    nobs = nobs(m), df = attr(logLik(m), "df"), df_residual = df.residual(m),
    logLik = as.numeric(logLik(m)), AIC = AIC(m), BIC = BIC(m), deviance = deviance(m),
    fixef = as.list(fixef(m)), fixef_se = as.list(sqrt(diag(as.matrix(vcov(m))))),
    # summary()'s Wald z (labelled "t value" for Gamma) and its normal p-value
    wald_z = unname(coef(summary(m))[, 3]), wald_p = unname(coef(summary(m))[, 4]),
    theta = as.list(getME(m, "theta")), singular = isSingular(m),
    varcorr = as.data.frame(VarCorr(m)), ranef = re_all(m),
    fitted = first(fitted(m)),
    residuals = lapply(setNames(types, types), function(t) first(residuals(m, type = t))),
    pred_link = first(predict(m)), pred_response = first(predict(m, type = "response"))))
  if (!is.null(newdata)) {
    out$newdata <- as.list(newdata)
    out$new_link <- unname(predict(m, newdata, allow.new.levels = TRUE))
    out$new_response <- unname(predict(m, newdata, allow.new.levels = TRUE, type = "response"))
    out$new_marg <- unname(predict(m, newdata, re.form = NA))
    out$new_marg_response <- unname(predict(m, newdata, re.form = NA, type = "response"))
  }
  if (family(m)$family == "Gamma") out$sigma <- sigma(m)
  if (grepl("Negative Binomial", family(m)$family)) out$nb_theta <- getME(m, "glmer.nb.theta")
  out
}
C <- function(data, formula, family, ...) list(data = data, formula = formula, method = "ml", family = family, ...)
# new rows: two seen levels and one unseen (allow.new.levels = TRUE: the population value)
nd_bin <- data.frame(x = c(-1, 0.5, 1.2), z = c(0.2, -0.4, 0), g = c("g01", "g07", "gNEW"), h = c("h2", "h5", "hNEW"),
                     n = c(5, 10, 3), f = c("hi", "lo", "lo"), stringsAsFactors = FALSE)
nd_pois <- data.frame(x = c(-0.5, 0, 1), exposure = c(1, 2.5, 4), site = c("s1", "s2", "sNEW"), plot = c("p1", "p3", "p1"),
                      stringsAsFactors = FALSE)
nd_pois$logexp <- log(nd_pois$exposure)
nd_gam <- data.frame(x = c(0.5, 2, 1), g = c("G01", "G05", "GNEW"), stringsAsFactors = FALSE)
G <- function(case, d, family, nd, ...) {
  f <- as.formula(case$formula)
  # glmer evaluates `weights` in the data first: a local name no data set has as a column
  case_wts <- if (is.null(case$weights)) NULL else d[[case$weights]]
  m <- glmer(f, d, family = family, weights = case_wts, nAGQ = if (is.null(case$nAGQ)) 1 else case$nAGQ, ...)
  list(model = m, ref = summ(m, case, nd))
}

fits <- list(
  # binomial: the response codings (identical fits in lme4)
  bin01_logit = G(C("bin", "y01 ~ x + z + (1 | g)", "binomial"), bin, binomial, nd_bin),
  binlgl_logit = G(C("bin", "ylgl ~ x + z + (1 | g)", "binomial"), bin, binomial, nd_bin),
  binstr_logit = G(C("bin", "status ~ x + z + (1 | g)", "binomial"), bin, binomial, nd_bin),
  # a logical expression as the response (TRUE: success)
  binexpr_logit = G(C("bin", "I(s > 0) ~ x + z + (1 | g)", "binomial"), bin, binomial, nd_bin),
  binstr3_logit = G(C("bin", "status3 ~ x + z + (1 | g)", "binomial"), bin, binomial, nd_bin),
  # a logical or factor response with weights: w trials, all successes or none
  binlgl_weights = G(C("bin", "ylgl ~ x + z + (1 | g)", "binomial", weights = "n"), bin, binomial, nd_bin),
  binstr_weights = G(C("bin", "status ~ x + z + (1 | g)", "binomial", weights = "n"), bin, binomial, nd_bin),
  bincbind_logit = G(C("bin", "cbind(s, n - s) ~ x + z + (1 | g)", "binomial"), bin, binomial, nd_bin),
  binprop_logit = G(C("bin", "prop ~ x + z + (1 | g)", "binomial", weights = "n"), bin, binomial, nd_bin),
  bin_separated = G(C("bin", "ysep ~ x + f + (1 | g)", "binomial"), bin, binomial, nd_bin),
  # links
  bin01_probit = G(C("bin", "y01 ~ x + z + (1 | g)", "binomial", link = "probit"), bin, binomial("probit"), nd_bin),
  bin01_cloglog = G(C("bin", "y01 ~ x + z + (1 | g)", "binomial", link = "cloglog"), bin, binomial("cloglog"), nd_bin),
  bincbind_probit = G(C("bin", "cbind(s, n - s) ~ x + z + (1 | g)", "binomial", link = "probit"), bin,
                      binomial("probit"), nd_bin),
  binprop_cloglog = G(C("bin", "prop ~ x + z + (1 | g)", "binomial", link = "cloglog", weights = "n"), bin,
                      binomial("cloglog"), nd_bin),
  # nAGQ > 1 for one scalar random effect
  bin01_agq9 = G(C("bin", "y01 ~ x + z + (1 | g)", "binomial", nAGQ = 9), bin, binomial, nd_bin),
  bincbind_agq5 = G(C("bin", "cbind(s, n - s) ~ x + (1 | g)", "binomial", nAGQ = 5), bin, binomial, nd_bin),
  binprop_agq6 = G(C("bin", "prop ~ x + (1 | g)", "binomial", weights = "n", nAGQ = 6), bin, binomial, nd_bin),
  # crossed terms, a correlated block
  bincbind_crossed = G(C("bin", "cbind(s, n - s) ~ x + z + (1 | g) + (1 | h)", "binomial"), bin, binomial, nd_bin),
  bincbind_slope = G(C("bin", "cbind(s, n - s) ~ x + z + (x | g)", "binomial"), bin, binomial, nd_bin),
  bin01_slope = G(C("bin", "y01 ~ x + (x | g)", "binomial"), bin, binomial, nd_bin),
  bincbind_uncorr = G(C("bin", "cbind(s, n - s) ~ x + z + (x || g)", "binomial"), bin, binomial, nd_bin),
  # Poisson: offset in the formula, a nested term, the offset= argument, nAGQ
  pois_offset = G(C("pois", "count ~ x + offset(log(exposure)) + (1 | site)", "poisson"), pois, poisson, nd_pois),
  pois_nested = G(C("pois", "count ~ x + offset(log(exposure)) + (1 | site/plot)", "poisson"), pois, poisson,
                  nd_pois),
  # glmer(offset = logexp): the same fit as offset(logexp) in the formula
  pois_offset_arg = G(C("pois", "count ~ x + (1 | site)", "poisson", offset = "logexp"), pois, poisson, nd_pois,
                      offset = pois$logexp),
  pois_offset_weights = G(C("pois", "count ~ x + offset(log(exposure)) + (1 | site)", "poisson", weights = "w"),
                          pois, poisson, nd_pois),
  pois_agq7 = G(C("pois", "count ~ x + offset(log(exposure)) + (1 | site)", "poisson", nAGQ = 7), pois, poisson,
                nd_pois),
  pois_slope = G(C("pois", "count ~ x + offset(log(exposure)) + (x | site)", "poisson"), pois, poisson, nd_pois),
  # Gamma(log) with a random slope
  gamma_log = G(C("gam", "y ~ x + (1 | g)", "gamma", link = "log"), gam, Gamma("log"), nd_gam),
  gamma_log_slope = G(C("gam", "y ~ x + (x | g)", "gamma", link = "log"), gam, Gamma("log"), nd_gam),
  # glmer stops at a boundary (θ₁ = 0, logLik -501.17) well below the optimum: multilevel
  # finds -489.36 (test_gamma_inverse_slope_better_optimum)
  gamma_inverse_slope = G(C("gam", "y ~ x + (x | g)", "gamma", link = "inverse"), gam, Gamma("inverse"), nd_gam),
  gamma_log_agq5 = G(C("gam", "y ~ x + (1 | g)", "gamma", link = "log", nAGQ = 5), gam, Gamma("log"), nd_gam)
)
out <- lapply(fits, `[[`, "ref")
# negative binomial (glmer.nb, θ estimated)
m <- glmer.nb(cnt ~ x + (1 | g), gam)
out$nb_ri <- summ(m, C("gam", "cnt ~ x + (1 | g)", "negativebinomial"), nd_gam)
fits$nb_ri <- list(model = m)
# (glmer.nb with offset(log(exposure)) on pois agreed too, logLik to 2e-7, but a glmer.nb
# fit takes 3-7 s here: one is kept, for the test-time budget)

# anova() of nested GLMM pairs (lme4's LRT: rows by npar)
lrt <- function(small, big, data, family, ...) {
  a <- anova(fits[[big]]$model, fits[[small]]$model)
  list(small = small, big = big, data = data, family = family, ...,
       npar = a$npar, AIC = a$AIC, BIC = a$BIC, logLik = a$logLik, deviance = a$deviance,
       Chisq = a$Chisq[2], Df = a$Df[2], p = a[["Pr(>Chisq)"]][2])
}
fits$bincbind_x <- G(C("bin", "cbind(s, n - s) ~ x + (1 | g)", "binomial"), bin, binomial, nd_bin)
out$bincbind_x <- fits$bincbind_x$ref
out$lrt_bin_z <- lrt("bincbind_x", "bincbind_logit", "bin", "binomial")
# three models at once: each row tested against the one before
a <- anova(fits$bincbind_x$model, fits$bincbind_logit$model, fits$bincbind_slope$model)
out$anova3_bin <- list(models = c("bincbind_x", "bincbind_logit", "bincbind_slope"), npar = a$npar, AIC = a$AIC,
                       BIC = a$BIC, logLik = a$logLik, deviance = a$deviance, Chisq = a$Chisq, Df = a$Df,
                       p = a[["Pr(>Chisq)"]])
out$lrt_bin_crossed <- lrt("bincbind_logit", "bincbind_crossed", "bin", "binomial")
out$lrt_bin_slope <- lrt("bincbind_logit", "bincbind_slope", "bin", "binomial")
out$lrt_pois_nested <- lrt("pois_offset", "pois_nested", "pois", "poisson")
out$lrt_gamma_slope <- lrt("gamma_log", "gamma_log_slope", "gam", "gamma")

out$`_about` <- paste("lme4", as.character(packageVersion("lme4")), "on", R.version.string,
                      "by tests/reference/make_glmm_differential.R: simulated awkward GLMM data.")
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           paste0(ref, "glmm_differential.json"))
