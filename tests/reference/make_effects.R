# References for multilevel.effects: estimated marginal means and contrasts (emmeans) on a
# factorial LMM and a binomial GLMM, and bayestestR's pd / ROPE / describe_posterior on a
# fixed set of draws (written next to this file as effects_draws.csv).
# Run from the repository root (no network; R 4.2.2, emmeans 1.8.4-1, bayestestR 0.13.0,
# lme4 1.1-31, pbkrtest, lmerTest from Debian):
#   Rscript tests/reference/make_effects.R
# cake: temperature is an unordered factor (as multilevel.datasets.load reads it), so both
# sides use treatment contrasts; emmeans do not depend on the coding anyway.
suppressPackageStartupMessages({library(lme4); library(emmeans); library(bayestestR); library(jsonlite)})
source("tests/reference/read_data.R")  # dir, fac(), rd()
cake <- rd("cake.csv", c("replicate", "recipe", "temperature"))
cbpp <- rd("cbpp.csv", c("herd", "period"))
lctl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-9, maxfun = 1e5))
gctl <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(rhoend = 1e-9, maxfun = 1e5))
emm_options(msg.interaction = FALSE, msg.nesting = FALSE)

# one summary table as a list of columns (emmean/prob/rate/estimate/ratio -> "estimate")
tab <- function(s) {
  s <- as.data.frame(s)
  est <- intersect(c("emmean", "prob", "response", "estimate", "odds.ratio", "ratio"), names(s))[1]
  lo <- intersect(c("lower.CL", "asymp.LCL"), names(s)); hi <- intersect(c("upper.CL", "asymp.UCL"), names(s))
  st <- intersect(c("t.ratio", "z.ratio"), names(s))
  labs <- setdiff(names(s), c(est, "SE", "df", lo, hi, st, "p.value", "null"))
  out <- lapply(s[labs], as.character)
  out$estimate <- s[[est]]; out$SE <- s$SE; out$df <- ifelse(is.finite(s$df), s$df, NA)
  if (length(lo)) { out$lower <- s[[lo]]; out$upper <- s[[hi]] }
  if (length(st)) { out$stat <- s[[st]]; out$p_value <- s$p.value }
  out
}
out <- list()

## cake LMM (REML): KR df (emmeans' default for lmerMod), Satterthwaite, asymptotic
m <- lmer(angle ~ recipe * temperature + (1 | recipe:replicate), cake, control = lctl)
out$cake <- list(formula = "angle ~ recipe * temperature + (1 | recipe:replicate)",
                 fixef = unname(fixef(m)))
for (ddf in c("kenward-roger", "satterthwaite", "asymptotic")) {
  e_r <- emmeans(m, ~ recipe, lmer.df = ddf)
  e_t <- emmeans(m, ~ temperature, lmer.df = ddf)
  e_tr <- emmeans(m, ~ temperature | recipe, lmer.df = ddf)
  out$cake[[ddf]] <- list(
    recipe = tab(e_r),
    temperature = tab(e_t),
    temperature_by_recipe = tab(e_tr),
    recipe_pairwise_tukey = tab(pairs(e_r, adjust = "tukey")),
    recipe_pairwise_none = tab(pairs(e_r, adjust = "none")),
    temperature_pairwise_tukey = tab(pairs(e_t, adjust = "tukey")),
    temperature_pairwise_holm = tab(pairs(e_t, adjust = "holm")),
    temperature_pairwise_bonferroni = tab(pairs(e_t, adjust = "bonferroni")),
    temperature_trt_vs_ctrl_none = tab(contrast(e_t, "trt.vs.ctrl", adjust = "none")),
    temperature_trt_vs_ctrl_bonferroni = tab(contrast(e_t, "trt.vs.ctrl", adjust = "bonferroni")),
    temperature_trt_vs_ctrl_dunnettx = tab(contrast(e_t, "trt.vs.ctrl")),  # emmeans' default adjust
    temperature_by_recipe_pairwise_tukey = tab(pairs(e_tr, adjust = "tukey"))
  )
}
# a covariate at its mean (emmeans' reference grid): numeric temp
m2 <- lmer(angle ~ recipe + temp + (1 | recipe:replicate), cake, control = lctl)
out$cake_temp <- list(formula = "angle ~ recipe + temp + (1 | recipe:replicate)",
                      recipe = tab(emmeans(m2, ~ recipe, lmer.df = "kenward-roger")),
                      recipe_at = tab(emmeans(m2, ~ recipe, at = list(temp = 200), lmer.df = "asymptotic")))

## a linear model (no group effects): residual df, as emmeans for lm
ml <- lm(angle ~ recipe + temp, cake)
el <- emmeans(ml, ~ recipe)
out$cake_lm <- list(formula = "angle ~ recipe + temp", recipe = tab(el),
                    pairwise_tukey = tab(pairs(el, adjust = "tukey")))

## cbpp binomial GLMM (Laplace): asymptotic df, link and response scale
g <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial, control = gctl)
eg <- emmeans(g, ~ period)
out$cbpp <- list(formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                 fixef = unname(fixef(g)),
                 link = tab(eg), response = tab(summary(eg, type = "response")),
                 pairwise_tukey = tab(pairs(eg, adjust = "tukey")),
                 pairwise_none_response = tab(summary(pairs(eg, adjust = "none"), type = "response")),
                 trt_vs_ctrl_none = tab(contrast(eg, "trt.vs.ctrl", adjust = "none")),
                 trt_vs_ctrl_dunnettx = tab(contrast(eg, "trt.vs.ctrl")))

## bayestestR on fixed draws
set.seed(20261203)
n <- 4000
draws <- data.frame(a = round(rnorm(n, 0.3, 1), 6), b = round(rnorm(n, -0.05, 0.1), 6),
                    c = round(rexp(n, 2) - 0.2, 6), d = round(rnorm(n, 2, 0.5), 6))
draws$b[1:40] <- 0  # ties at the null (pd's "direct" method counts them in neither direction)
write.csv(draws, "tests/reference/effects_draws.csv", row.names = FALSE)
bt <- list()
for (v in names(draws)) {
  x <- draws[[v]]
  r1 <- rope(x, range = c(-0.1, 0.1), ci = 0.95)
  r2 <- rope(x, range = c(-0.1, 0.1), ci = 1)
  r3 <- rope(x, range = c(-0.1, 0.1), ci = 0.95, ci_method = "HDI")
  h <- hdi(x, ci = 0.95); e <- eti(x, ci = 0.89)
  bt[[v]] <- list(pd = as.numeric(p_direction(x)), rope_95 = r1$ROPE_Percentage,
                  rope_full = r2$ROPE_Percentage, rope_95_hdi = r3$ROPE_Percentage,
                  hdi_95 = c(h$CI_low, h$CI_high), eti_89 = c(e$CI_low, e$CI_high))
}
dp <- describe_posterior(draws, rope_range = c(-0.1, 0.1), ci = 0.95)
bt$describe_posterior <- list(Parameter = dp$Parameter, Median = dp$Median, CI_low = dp$CI_low,
                              CI_high = dp$CI_high, pd = dp$pd, ROPE_Percentage = dp$ROPE_Percentage)
out$bayestestR <- bt

out$`_about` <- paste("emmeans", as.character(packageVersion("emmeans")), "bayestestR",
                      as.character(packageVersion("bayestestR")), "lme4", as.character(packageVersion("lme4")),
                      "on", R.version.string, "by tests/reference/make_effects.R")
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           "tests/reference/effects.json")
