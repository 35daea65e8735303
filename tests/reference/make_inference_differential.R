# Differential references for multilevel's inference verbs on simulated, awkward data
# (tests/test_inference_differential.py). Not a port of an upstream suite: simulated
# unbalanced designs (unequal group sizes, unequal factor frequencies, NA rows in the
# response and a predictor, a missing factor-by-factor cell, a variance near zero, a
# binary response) fitted with lme4/lmerTest and asked what
#   lmerTest  summary() (Satterthwaite, Kenward-Roger), anova() types 1-3, ranova(), drop1()
#   pbkrtest  KRmodcomp(large, L) and KRmodcomp(large, small)
#   lme4      confint(method = "profile" / "Wald", level = 0.9 / 0.95)
#   emmeans   emmeans() over a factor, by =, at =, pairwise / trt.vs.ctrl contrasts with
#             tukey, dunnettx, holm, bonferroni, sidak adjustments, type = "response"
#   performance  r2_nakagawa(), icc()
# report. R 4.2.2, lme4 1.1-31, lmerTest 3.1-3, pbkrtest 0.5.2, emmeans 1.8.4-1,
# performance 0.10.2. Run from the repository root:
#   Rscript tests/reference/make_inference_differential.R
# Writes tests/reference/inference_differential/{inference_differential.json, *.csv}.
suppressPackageStartupMessages({
  library(lmerTest); library(pbkrtest); library(splines); library(emmeans); library(performance); library(jsonlite)
})
source("tests/reference/read_data.R")  # fac(), rd()
out_dir <- "tests/reference/inference_differential/"
dir.create(out_dir, showWarnings = FALSE)
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
emm_options(lmer.df = "kenward-roger")

## ---- data -------------------------------------------------------------------------
set.seed(20261204)
sizes <- c(3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 22)  # 18 groups, 222 rows
n <- sum(sizes)
g <- rep(sprintf("s%02d", seq_along(sizes)), sizes)
# A: levels whose R (C-locale) order differs from their order of appearance; unequal frequencies
A <- sample(c("lo", "mid", "hi"), n, replace = TRUE, prob = c(0.5, 0.3, 0.2))
B <- sample(c("ctl", "trt"), n, replace = TRUE, prob = c(0.6, 0.4))
h <- sample(sprintf("h%d", 1:6), n, replace = TRUE)
x <- round(rnorm(n, 5, 2), 3)
u0 <- rnorm(18, 0, 1.2)[as.integer(factor(g))]
u1 <- rnorm(18, 0, 0.35)[as.integer(factor(g))]
v0 <- rnorm(6, 0, 0.7)[as.integer(factor(h))]
eA <- c(lo = 0, mid = 0.8, hi = -0.5)[A]
eB <- c(ctl = 0, trt = 0.6)[B]
eAB <- ifelse(A == "hi" & B == "trt", 0.9, 0) + ifelse(A == "mid" & B == "trt", -0.4, 0)
eAx <- c(lo = 0.3, mid = 0.1, hi = 0.45)[A] * x
y <- round(2 + eA + eB + eAB + eAx + u0 + u1 * (x - 5) + v0 + rnorm(n, 0, 1), 4)
# near the boundary: group SD 0.2 against a residual SD of 1 (estimated θ 0.106, not 0)
y0 <- round(1 + eA + 0.2 * x + rnorm(18, 0, 0.2)[as.integer(factor(g))] + rnorm(n, 0, 1), 4)
eta <- -0.6 + c(lo = 0, mid = 0.9, hi = -0.7)[A] + 0.25 * (x - 5) + 1.3 * u0 / 1.2
yb <- rbinom(n, 1, plogis(eta))
dose <- sample(c(1, 2, 10), n, replace = TRUE)        # a numeric code used as factor(dose)
d <- data.frame(g, h, A, B, x, y, y0, yb, dose, flag = x > 5.5)
d$y <- round(d$y + c(`1` = 0, `2` = 0.3, `10` = -0.4)[as.character(dose)], 4)
d$y[c(7, 40, 41, 99, 150, 201)] <- NA      # NA rows in the response
d$x[c(12, 77, 130, 180)] <- NA             # and in a predictor
# prior weights, an exposure and counts (drawn last: the columns above keep their values)
d$w <- round(runif(n, 0.5, 2), 3)
d$expo <- round(runif(n, 1, 10), 2)
d$cnt <- rpois(n, d$expo * exp(-1 + 0.3 * (A == "mid") + rnorm(18, 0, 0.4)[as.integer(factor(g))]))
write.csv(d, paste0(out_dir, "u.csv"), row.names = FALSE)
# the same data with a missing A x B cell (hi:trt) -> rank-deficient X in A*B
dm <- d[!(d$A == "hi" & d$B == "trt"), ]
write.csv(dm, paste0(out_dir, "um.csv"), row.names = FALSE)
# rows with x present (R's poly() refuses NA)
write.csv(d[!is.na(d$x), ], paste0(out_dir, "ux.csv"), row.names = FALSE)
fs <- c("g", "h", "A", "B")
u <- rd("u.csv", fs, path = out_dir)
um <- rd("um.csv", fs, path = out_dir)
ux <- rd("ux.csv", fs, path = out_dir)
datasets <- list(u = u, um = um, ux = ux)

## ---- models --------------------------------------------------------------------------
M <- function(data, formula, reml = TRUE, family = "gaussian")
  list(data = data, formula = formula, reml = reml, family = family)
models <- list(
  fxf = M("u", "y ~ A * B + x + (1 | g)"),
  fxf_ml = M("u", "y ~ A * B + x + (1 | g)", FALSE),
  fxf_miss = M("um", "y ~ A * B + x + (1 | g)"),
  fxn = M("u", "y ~ A * x + B + (x | g)"),
  crossed = M("u", "y ~ B * x + A + (1 | g) + (1 | h)"),
  boundary = M("u", "y0 ~ A + x + (1 | g)"),
  glmm = M("u", "yb ~ A + x + (1 | g)", FALSE, "binomial"),
  nested = M("u", "y ~ A + x + (1 | g/h)"),
  diag_slope = M("u", "y ~ A * x + B + (x || g)"),
  no_intercept = M("u", "y ~ 0 + A + B + x + (1 | g)"),
  miss_fxn = M("um", "y ~ A * B + A:x + (1 | g)"),
  poly_b = M("ux", "y ~ poly(x, 2) * B + (1 | g)"),
  ns_b = M("ux", "y ~ ns(x, df = 3) + B + (1 | g)"),
  scaled = M("u", "y ~ scale(x) * A + (1 | g)"),
  crossed_ml = M("u", "y ~ B * x + A + (1 | g) + (1 | h)", FALSE),
  dose = M("u", "y ~ factor(dose) + A + x + (1 | g)"),
  flag = M("u", "y ~ flag * x + A + (1 | g)"),
  glmm_ab = M("u", "yb ~ A * B + (1 | g)", FALSE, "binomial"),
  glmm_slope = M("u", "yb ~ A + x + (x | g)", FALSE, "binomial"),
  # the slope SD's profile reaches 0 and the correlation's spans [-1, 1]
  cor_boundary = M("u", "y ~ B + (B | g)"),
  weighted = c(M("u", "y ~ A + B + x + (1 | g)"), weights = "w"),
  offset_lmm = M("u", "y ~ A + x + offset(2 * x) + (1 | g)"),
  poisson_offset = M("u", "cnt ~ A + x + offset(log(expo)) + (1 | g)", FALSE, "poisson")
)
# the call names the data set (ranova and drop1 refit from it); the GLMM to the optimum of
# the Laplace deviance (tight PIRLS, as multilevel's optimizer="bobyqa")
fit_r <- function(s) {
  f <- as.formula(s$formula); dn <- as.name(s$data)
  if (s$family == "gaussian" && is.null(s$weights))
    eval(bquote(lmer(.(f), .(dn), REML = .(s$reml), control = tight)), globalenv())
  else if (s$family == "gaussian")
    eval(bquote(lmer(.(f), .(dn), REML = .(s$reml), weights = .(as.name(s$weights)), control = tight)), globalenv())
  else eval(bquote(glmer(.(f), .(dn), family = .(as.name(s$family)), control = glmerControl(
    optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))), globalenv())
}
num <- function(v) unname(as.numeric(v))
tab <- function(df, cols) {
  df <- as.data.frame(df, check.names = FALSE)
  res <- list(rows = rownames(df))
  for (k in names(cols)) res[[k]] <- num(df[[cols[[k]]]])
  res
}
COEF <- c(estimate = "Estimate", std_error = "Std. Error", df = "df", t_value = "t value", p = "Pr(>|t|)")
AOV <- c(`Sum Sq` = "Sum Sq", `Mean Sq` = "Mean Sq", NumDF = "NumDF", DenDF = "DenDF", F = "F value",
         p = "Pr(>F)")
RAN <- c(npar = "npar", logLik = "logLik", AIC = "AIC", LRT = "LRT", Df = "Df", p = "Pr(>Chisq)")
CI <- function(ci) list(rows = rownames(ci), lower = num(ci[, 1]), upper = num(ci[, 2]))
emm_tab <- function(e) {
  s <- as.data.frame(summary(e, infer = c(TRUE, TRUE)))
  est <- intersect(c("emmean", "prob", "rate", "response", "estimate", "odds.ratio", "ratio"), names(s))[1]
  lo <- intersect(c("lower.CL", "asymp.LCL"), names(s))[1]
  hi <- intersect(c("upper.CL", "asymp.UCL"), names(s))[1]
  stat <- intersect(c("t.ratio", "z.ratio"), names(s))[1]
  keys <- setdiff(names(s), c(est, "SE", "df", lo, hi, stat, "p.value", "null"))
  res <- lapply(s[keys], as.character)
  c(res, list(estimate = num(s[[est]]), std_error = num(s$SE), df = num(s$df), lower = num(s[[lo]]),
              upper = num(s[[hi]]), statistic = num(s[[stat]]), p_value = num(s$p.value)))
}

out <- list(`_about` = paste(
  "Simulated unbalanced data (set.seed(20261204)); references from lmerTest 3.1-3, pbkrtest 0.5.2,",
  "lme4 1.1-31, emmeans 1.8.4-1, performance 0.10.2 (R 4.2.2). Made by",
  "tests/reference/make_inference_differential.R."), models = list())
for (name in names(models)) {
  s <- models[[name]]
  m <- fit_r(s)
  r <- list(spec = s, fixef = as.list(fixef(m)), logLik = as.numeric(logLik(m)), nobs = nobs(m),
            checks = list())
  if (s$family == "gaussian") {
    r$checks$coef_sat <- tab(summary(m, ddf = "Satterthwaite")$coefficients, COEF)
    for (type in 1:3) r$checks[[paste0("anova", type)]] <- tab(anova(m, type = type), AOV)
    r$checks$drop1 <- tab(drop1(m), AOV)
    if (s$reml) {
      r$checks$coef_kr <- tab(summary(m, ddf = "Kenward-Roger")$coefficients, COEF)
      for (type in 1:3)
        r$checks[[paste0("anova", type, "_kr")]] <- tab(anova(m, type = type, ddf = "Kenward-Roger"), AOV)
      r$checks$drop1_kr <- tab(drop1(m, ddf = "Kenward-Roger"), AOV)
    }
    r$checks$ranova <- tab(ranova(m), RAN)
  }
  out$models[[name]] <- r
  assign(paste0("m_", name), m)
}
# the rank-deficient model's dropped column, as lme4 reports it
out$models$fxf_miss$dropped <- attr(m_fxf_miss@pp$X, "col.dropped")
out$models$fxn$checks$ranova_whole <- tab(ranova(m_fxn, reduce.terms = FALSE), RAN)

## ---- pbkrtest KRmodcomp -------------------------------------------------------------
# L for the interaction columns of fxf (A:B) and for A and A:x of fxn
Lsel <- function(m, pattern) {
  nm <- names(fixef(m)); L <- diag(length(nm))[grepl(pattern, nm), , drop = FALSE]; L
}
kr <- function(large, L = NULL, small = NULL) {
  k <- if (is.null(small)) KRmodcomp(large, L) else KRmodcomp(large, small)
  t <- k$test
  list(L = if (is.null(L)) NULL else unname(L), F = t["Ftest", "stat"], NumDF = t["Ftest", "ndf"],
       DenDF = t["Ftest", "ddf"], F_scaling = t["Ftest", "F.scaling"], p = t["Ftest", "p.value"],
       F_unscaled = t["FtestU", "stat"], p_unscaled = t["FtestU", "p.value"])
}
m_fxf_noint <- lmer(y ~ A + B + x + (1 | g), u, control = tight)
out$krmodcomp <- list(
  fxf_AB = c(list(model = "fxf", columns = names(fixef(m_fxf))[grepl(":", names(fixef(m_fxf)))]),
             kr(m_fxf, Lsel(m_fxf, ":"))),
  fxn_A = c(list(model = "fxn", columns = names(fixef(m_fxn))[grepl("^A", names(fixef(m_fxn)))]),
            kr(m_fxn, Lsel(m_fxn, "^A"))),
  fxf_vs_additive = c(list(model = "fxf", small = "y ~ A + B + x + (1 | g)"), kr(m_fxf, small = m_fxf_noint))
)

## ---- confint -------------------------------------------------------------------------
out$confint <- list()
for (name in c("fxn", "boundary", "fxf_ml", "glmm")) {
  m <- get(paste0("m_", name))
  for (level in c(0.9, 0.95)) {
    key <- sprintf("%s_%g", name, level)
    out$confint[[key]] <- list(model = name, level = level,
                               wald = CI(confint(m, method = "Wald", level = level, oldNames = TRUE)),
                               profile = CI(suppressWarnings(confint(m, method = "profile", level = level,
                                                                     oldNames = TRUE))))
  }
}

## ---- emmeans -------------------------------------------------------------------------
E <- function(model, call, specs, ...) {
  e <- emmeans(get(paste0("m_", model)), specs, ...)
  list(model = model, call = call, table = emm_tab(e))
}
C <- function(model, call, e, method, adjust) {
  list(model = model, call = call, table = emm_tab(contrast(e, method, adjust = adjust)))
}
e_fxf_A <- emmeans(m_fxf, "A")
e_fxf_AB <- emmeans(m_fxf, "A", by = "B")
e_fxn_x <- emmeans(m_fxn, "A", at = list(x = c(3, 7)), by = "x")
e_glmm <- emmeans(m_glmm, "A", type = "response")
e_cross <- emmeans(m_crossed, "B", at = list(x = 6.5), lmer.df = "satterthwaite")
e_miss <- emmeans(m_fxf_miss, "B", by = "A")
out$emmeans <- list(
  fxf_A = E("fxf", "emmeans(m, 'A')", "A"),
  fxf_A_sat = E("fxf", "emmeans(m, 'A', lmer.df = 'satterthwaite')", "A", lmer.df = "satterthwaite"),
  fxf_A_by_B = E("fxf", "emmeans(m, 'A', by = 'B')", "A", by = "B"),
  fxf_A_prop = E("fxf", "emmeans(m, 'A', weights = 'proportional')", "A", weights = "proportional"),
  fxn_A_at_x = E("fxn", "emmeans(m, 'A', at = list(x = c(3, 7)), by = 'x')", "A", at = list(x = c(3, 7)),
                 by = "x"),
  crossed_B_at = E("crossed", "emmeans(m, 'B', at = list(x = 6.5), lmer.df = 'satterthwaite')", "B",
                   at = list(x = 6.5), lmer.df = "satterthwaite"),
  miss_B_by_A = E("fxf_miss", "emmeans(m, 'B', by = 'A')", "B", by = "A"),
  glmm_A_response = E("glmm", "emmeans(m, 'A', type = 'response')", "A", type = "response"),
  glmm_A_link = E("glmm", "emmeans(m, 'A')", "A"),
  fxf_A_pairwise_tukey = C("fxf", "pairwise, tukey", e_fxf_A, "pairwise", "tukey"),
  fxf_A_pairwise_holm = C("fxf", "pairwise, holm", e_fxf_A, "pairwise", "holm"),
  fxf_A_trt_dunnettx = C("fxf", "trt.vs.ctrl, dunnettx", e_fxf_A, "trt.vs.ctrl", "dunnettx"),
  fxf_A_trt_bonf = C("fxf", "trt.vs.ctrl, bonferroni", e_fxf_A, "trt.vs.ctrl", "bonferroni"),
  fxf_AB_pairwise_tukey = C("fxf", "by B: pairwise, tukey", e_fxf_AB, "pairwise", "tukey"),
  fxn_x_revpairwise_sidak = C("fxn", "by x: revpairwise, sidak", e_fxn_x, "revpairwise", "sidak"),
  crossed_B_pairwise = C("crossed", "pairwise, none", e_cross, "pairwise", "none"),
  miss_B_by_A_pairwise = C("fxf_miss", "by A: pairwise, none", e_miss, "pairwise", "none"),
  glmm_A_pairwise_response = C("glmm", "pairwise, tukey, type response (odds ratios)", e_glmm, "pairwise",
                               "tukey"),
  glmm_A_trt_response = C("glmm", "trt.vs.ctrl, holm, type response", e_glmm, "trt.vs.ctrl", "holm"),
  noint_A = E("no_intercept", "emmeans(m, 'A')", "A"),
  poly_B_at_x = E("poly_b", "emmeans(m, 'B', at = list(x = c(4, 6)), by = 'x')", "B", at = list(x = c(4, 6)),
                  by = "x"),
  scaled_A_at_x = E("scaled", "emmeans(m, 'A', at = list(x = c(3, 7)), by = 'x')", "A", at = list(x = c(3, 7)),
                    by = "x"),
  dose = E("dose", "emmeans(m, 'dose')", "dose"),
  dose_pairwise = C("dose", "pairwise, tukey", emmeans(m_dose, "dose"), "pairwise", "tukey"),
  flag = E("flag", "emmeans(m, 'flag')", "flag"),
  nested_A = E("nested", "emmeans(m, 'A')", "A"),
  miss_fxn_A_by_B = E("miss_fxn", "emmeans(m, 'A', by = 'B')", "A", by = "B"),
  glmm_ab_response = E("glmm_ab", "emmeans(m, 'A', by = 'B', type = 'response')", "A", by = "B",
                       type = "response"),
  fxf_A_at_B = E("fxf", "emmeans(m, 'A', at = list(B = 'trt'))", "A", at = list(B = "trt")),
  miss_A = E("fxf_miss", "emmeans(m, 'A')", "A"),
  miss_A_cells = E("fxf_miss", "emmeans(m, 'A', weights = 'cells')", "A", weights = "cells"),
  miss_A_outer = E("fxf_miss", "emmeans(m, 'A', weights = 'outer')", "A", weights = "outer"),
  glmm_A_regrid = C("glmm", "regrid(emmeans(m, 'A')), pairwise, holm", regrid(emmeans(m_glmm, "A")), "pairwise",
                    "holm"),
  fxf_ml_A = E("fxf_ml", "emmeans(m, 'A') of the ML fit (Kenward-Roger: pbkrtest refits by REML)", "A"),
  fxf_ml_A_pairwise = C("fxf_ml", "pairwise, tukey (ML fit)", emmeans(m_fxf_ml, "A"), "pairwise", "tukey"),
  weighted_A = E("weighted", "emmeans(m, 'A')", "A"),
  offset_lmm_x = E("offset_lmm", "emmeans(m, 'x', at = list(x = c(3, 7)))", "x", at = list(x = c(3, 7))),
  offset_lmm_x_pairwise = C("offset_lmm", "pairwise of x at 3, 7 (the offset held at its mean)",
                            emmeans(m_offset_lmm, "x", at = list(x = c(3, 7))), "pairwise", "none"),
  poisson_offset_A = E("poisson_offset", "emmeans(m, 'A', type = 'response')", "A", type = "response"),
  poisson_offset_pairwise = C("poisson_offset", "pairwise, tukey, type response (rate ratios)",
                              emmeans(m_poisson_offset, "A", type = "response"), "pairwise", "tukey"),
  glmm_ab_pairwise = C("glmm_ab", "by B: pairwise, tukey, type response", emmeans(m_glmm_ab, "A", by = "B",
                       type = "response"), "pairwise", "tukey")
)

## ---- performance ---------------------------------------------------------------------
out$performance <- list()
for (name in c("fxf", "fxf_ml", "fxn", "crossed", "boundary", "glmm")) {
  m <- get(paste0("m_", name))
  r2 <- suppressWarnings(r2_nakagawa(m))
  ic <- suppressWarnings(icc(m))
  get1 <- function(r, k) if (is.list(r)) num(r[[k]]) else NA
  out$performance[[name]] <- list(R2_marginal = get1(r2, "R2_marginal"), R2_conditional = get1(r2, "R2_conditional"),
                                  ICC_adjusted = get1(ic, "ICC_adjusted"),
                                  ICC_conditional = get1(ic, "ICC_conditional"))
}

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           paste0(out_dir, "inference_differential.json"))
