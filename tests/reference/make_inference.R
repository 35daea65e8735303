# References for multilevel.inference (issue 22): lmerTest 3.1-3 (Satterthwaite), pbkrtest
# 0.5.2 (Kenward-Roger, PBmodcomp), lme4 1.1-31 (confint: Wald, profile, parametric
# bootstrap), performance 0.10.2 with insight 0.19.0 (r2_nakagawa). R 4.2.2 from Debian, no network.
# Run from the repository root:  Rscript tests/reference/make_inference.R
# cake's temperature is read as an unordered factor (treatment contrasts), as
# multilevel.datasets.load reads it, so both sides fit the same 18 columns.
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(pbkrtest); library(performance); library(jsonlite)
})
source("tests/reference/read_data.R")  # dir, fac(), rd()
ss <- rd("sleepstudy.csv", "Subject")
pen <- rd("Penicillin.csv", c("plate", "sample"))
cake <- rd("cake.csv", c("replicate", "recipe", "temperature"))
cbpp <- rd("cbpp.csv", c("herd", "period"))
lctl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-9, maxfun = 1e5))

coef_tab <- function(m, ddf) {
  s <- coef(summary(m, ddf = ddf))
  list(term = rownames(s), estimate = unname(s[, "Estimate"]), std_error = unname(s[, "Std. Error"]),
       df = unname(s[, "df"]), t_value = unname(s[, "t value"]), p = unname(s[, "Pr(>|t|)"]))
}
anova_tab <- function(m, type, ddf) {
  a <- anova(m, type = type, ddf = ddf)
  list(term = rownames(a), sum_sq = unname(a[["Sum Sq"]]), mean_sq = unname(a[["Mean Sq"]]),
       num_df = unname(a[["NumDF"]]), den_df = unname(a[["DenDF"]]), F = unname(a[["F value"]]),
       p = unname(a[["Pr(>F)"]]))
}
tests <- function(m, anova_types = c(1, 2, 3)) {
  out <- list(formula = deparse(formula(m)), REML = isREML(m),
              satterthwaite = coef_tab(m, "Satterthwaite"))
  if (isREML(m)) out$kenward_roger <- coef_tab(m, "Kenward-Roger")
  out$anova <- list()
  for (ty in anova_types) {
    out$anova[[paste0("type", ty, "_satterthwaite")]] <- anova_tab(m, ty, "Satterthwaite")
    if (isREML(m)) out$anova[[paste0("type", ty, "_kenward_roger")]] <- anova_tab(m, ty, "Kenward-Roger")
  }
  out
}
out <- list(`_about` = paste("make_inference.R:", R.version.string, "lme4", format(packageVersion("lme4")),
                             "lmerTest", format(packageVersion("lmerTest")), "pbkrtest",
                             format(packageVersion("pbkrtest")), "performance",
                             format(packageVersion("performance"))))

m_ss <- lmer(Reaction ~ Days + (Days | Subject), ss, control = lctl)
m_ss_ml <- lmer(Reaction ~ Days + (Days | Subject), ss, REML = FALSE, control = lctl)
m_cake <- lmer(angle ~ recipe * temperature + (1 | recipe:replicate), cake, control = lctl)
m_cake_ml <- lmer(angle ~ recipe * temperature + (1 | recipe:replicate), cake, REML = FALSE, control = lctl)
m_pen <- lmer(diameter ~ 1 + (1 | plate) + (1 | sample), pen, control = lctl)
# a factor x numeric interaction (temp numeric): containment with a covariate
m_cake_num <- lmer(angle ~ recipe * temp + (1 | recipe:replicate), cake, control = lctl)
out$tests <- list(sleepstudy = tests(m_ss), sleepstudy_ml = tests(m_ss_ml),
                  cake = tests(m_cake), cake_ml = tests(m_cake_ml), cake_numeric = tests(m_cake_num))

# contest(): a user's L on cake (rows: recipe B - A at 175, temperature 225 - 175 in A, and a
# mixed row), joint F test and one t test per row
L <- matrix(0, 3, length(fixef(m_cake)), dimnames = list(NULL, names(fixef(m_cake))))
L[1, "recipeB"] <- 1
L[2, "temperature225"] <- 1
L[3, c("recipeB", "recipeC", "recipeB:temperature225")] <- c(1, -1, 0.5)
ct <- function(m, ddf) {
  j <- contest(m, L, joint = TRUE, ddf = ddf)
  r <- contest(m, L, joint = FALSE, ddf = ddf)
  list(joint = list(sum_sq = j[["Sum Sq"]], mean_sq = j[["Mean Sq"]], num_df = j[["NumDF"]],
                    den_df = j[["DenDF"]], F = j[["F value"]], p = j[["Pr(>F)"]]),
       rows = list(estimate = r[["Estimate"]], std_error = r[["Std. Error"]], df = r[["df"]],
                   t_value = r[["t value"]], p = r[["Pr(>|t|)"]]))
}
out$contest <- list(data = "cake", formula = deparse(formula(m_cake)), L = unname(L), columns = colnames(L),
                    satterthwaite = ct(m_cake, "Satterthwaite"), kenward_roger = ct(m_cake, "Kenward-Roger"))
# KR adjusted covariance itself (pbkrtest::vcovAdj)
out$vcov_adj <- list(sleepstudy = unname(as.matrix(vcovAdj(m_ss))), cake = unname(as.matrix(vcovAdj(m_cake))))

# confint: Wald and profile (lme4's defaults: level 0.95, oldNames = FALSE gives sd_/cor_ names)
ci_tab <- function(ci) list(parameter = rownames(ci), lower = unname(ci[, 1]), upper = unname(ci[, 2]))
ci_models <- list(sleepstudy = m_ss, penicillin = m_pen, sleepstudy_ml = m_ss_ml)
out$confint <- lapply(ci_models, function(m) list(
  formula = deparse(formula(m)), REML = isREML(m),
  wald = ci_tab(confint(m, method = "Wald", oldNames = TRUE)),
  profile = ci_tab(confint(m, method = "profile", oldNames = TRUE))))

# parametric bootstrap (percentile), the replicates kept so the tests can state the Monte
# Carlo SE of each quantile
nsim <- 500
bs <- bootMer(m_ss, function(x) {
  vc <- as.data.frame(VarCorr(x), order = "lower.tri")
  c(vc$sdcor, fixef(x))
}, nsim = nsim, seed = 20261203, use.u = FALSE, type = "parametric")
ci_boot <- confint(m_ss, method = "boot", nsim = nsim, seed = 20261203, oldNames = TRUE)
out$boot <- list(data = "sleepstudy", formula = deparse(formula(m_ss)), nsim = nsim, level = 0.95,
                 interval = ci_tab(ci_boot), replicates = unname(bs$t), t0 = unname(bs$t0),
                 sd = unname(apply(bs$t, 2, sd)))

# PBmodcomp: ML fits of (1 | Subject) vs (Days | Subject)
m_small <- lmer(Reaction ~ Days + (1 | Subject), ss, REML = FALSE, control = lctl)
set.seed(20261203)
pb <- PBmodcomp(m_ss_ml, m_small, nsim = 1000, seed = 20261203)
pbt <- pb$test
out$pbmodcomp <- list(small = deparse(formula(m_small)), large = deparse(formula(m_ss_ml)), nsim = 1000,
                      stat = pbt["LRT", "stat"], df = pbt["LRT", "df"], p_lrt = pbt["LRT", "p.value"],
                      p_pb = pbt["PBtest", "p.value"], ref = unname(as.numeric(pb$ref)))

# Nakagawa R2
r2ref <- function(m, data) { r <- r2_nakagawa(m)
  list(formula = deparse(formula(m)), data = data, REML = isREML(m),
       marginal = unname(r$R2_marginal), conditional = unname(r$R2_conditional)) }
m_ri <- lmer(Reaction ~ Days + (1 | Subject), ss, control = lctl)
m_ri_ml <- lmer(Reaction ~ Days + (1 | Subject), ss, REML = FALSE, control = lctl)
m_cbpp <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial)
gt <- rd("grouseticks.csv", c("INDEX", "BROOD", "YEAR", "LOCATION"))
m_gt <- glmer(TICKS ~ YEAR + (1 | LOCATION), gt, poisson)   # lognormal approximation (insight 0.19)
out$r2 <- list(random_intercept = r2ref(m_ri, "sleepstudy"), random_intercept_ml = r2ref(m_ri_ml, "sleepstudy"),
               random_slope = r2ref(m_ss, "sleepstudy"), cake = r2ref(m_cake, "cake"),
               binomial = r2ref(m_cbpp, "cbpp"), poisson = r2ref(m_gt, "grouseticks"))

# GLMM intervals (glmer's default fit, as ml.fit's default optimizer replays it)
out$confint$cbpp <- list(formula = deparse(formula(m_cbpp)), REML = FALSE, family = "binomial",
                         wald = ci_tab(confint(m_cbpp, method = "Wald", oldNames = TRUE)),
                         profile = ci_tab(confint(m_cbpp, method = "profile", oldNames = TRUE)))

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           "tests/reference/inference.json")
