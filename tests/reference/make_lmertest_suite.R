# Cases ported from lmerTest's own test suite (tests/test_*.R of runehaubo/lmerTestR,
# lmerTest 3.1-3), for the quantities multilevel's inference verbs report:
# tests/test_lmertest_suite.py. Each model names the lmerTest test file it comes from.
# Recorded per model (where the upstream test asks for it): summary()'s coefficient table
# (Satterthwaite, Kenward-Roger), anova() of type 1, 2, 3 with ddf = Satterthwaite,
# Kenward-Roger and "lme4", contest() (1-D and multi-df), drop1(), ranova() (terms
# reduced and whole) and ls_means().
# Run from the repository root (R 4.2.2, lme4 1.1-31, lmerTest 3.1-3, pbkrtest 0.5.2):
#   Rscript tests/reference/make_lmertest_suite.R
# Models are fitted with tight BOBYQA tolerances, so that the references are the optima
# (lmer's default nloptwrap stops short, which moves Satterthwaite's df in the 4th digit).
# lmerTest's data (ham, carrots, TVbo, potdata) and the subsets the tests build are
# written to tests/reference/lmertest_suite_*.csv and read back (read_data.R's fac()) so
# that R and Python fit the same numbers. Contrast codings the tests pass by lmer's
# contrasts= argument are written as C(f, contr.x) in the formula (the same model).
suppressPackageStartupMessages({ library(lmerTest); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
ref <- "tests/reference/"
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
# lmer's default optimizer, tightened: for the ranova of the paper's carrots model, whose
# refit without (1 | Product) minqa's bobyqa leaves at a local optimum (logLik -1878.686)
# below the one lmer's default nloptwrap finds (-1877.885); the full model's optimum is
# minqa's (nloptwrap stops 2e-5 short there)
tight_nlopt <- lmerControl(optimizer = "nloptwrap", optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14,
                                                                   maxeval = 1e5))
put <- function(d, name, factors = character()) {
  file <- paste0("lmertest_suite_", name, ".csv")
  write.csv(d, paste0(ref, file), row.names = FALSE)
  rd(file, factors, path = ref)
}
chr <- function(d) { for (v in names(d)) if (is.factor(d[[v]])) d[[v]] <- as.character(d[[v]]); d }

## ---- data -------------------------------------------------------------------------
ss <- rd("sleepstudy.csv", "Subject")
cake <- rd("cake.csv", c("recipe", "replicate", "temperature"))
ham <- put(chr(ham), "ham", c("Consumer", "Product", "Information", "Gender"))
carrots <- put(chr(carrots), "carrots", c("Consumer", "Frequency", "Gender", "Age", "Homesize", "Work",
                                         "Income", "Product"))
tvbo <- put(chr(TVbo[, c("Assessor", "TVset", "Repeat", "Picture", "Coloursaturation",
                         "Sharpnessofmovement")]), "tvbo", c("Assessor", "TVset", "Repeat", "Picture"))
# zlmerTest_zeroDenom.R: lmerTest's potdata (a between-chamber factor: DenDF 2)
load(system.file("testdata", "potdata.RData", package = "lmerTest"))
pot <- put(chr(potdata), "pot", c("CO2", "chamber", "nutrients"))
# test_zerovar.R: a grouping factor whose variance is estimated as 0
ssg <- put(data.frame(Reaction = ss$Reaction, Days = ss$Days, Subject = as.character(ss$Subject),
                      g = rep(c("1", "2"), c(nrow(ss) - 10, 10))), "ssg", c("Subject", "g"))
# test_anova.R / test_ls_means.R: cake, three temperatures, with missing recipe-temperature cells
cake3 <- droplevels(subset(cake, temperature %in% levels(cake$temperature)[1:3]))
cake4 <- droplevels(subset(cake3, !((recipe == "A" & temperature == "175") |
                                    (recipe == "B" & temperature == "185") |
                                    (recipe == "C" & temperature == "195"))))
cake3 <- droplevels(subset(cake3, !(recipe == "C" & temperature == "195")))
keep <- c("replicate", "recipe", "temperature", "angle", "temp")
cake3 <- put(chr(cake3[, keep]), "cake3", c("replicate", "recipe", "temperature"))
cake4 <- put(chr(cake4[, keep]), "cake4", c("replicate", "recipe", "temperature"))
# test_compare_sas.R: a 10-row two-factor design
dd <- put(data.frame(a = c(1, 1, 1, 2, 2, 2, 2, 2, 1, 2), b = c(1, 1, 2, 1, 2, 2, 2, 2, 2, 1),
                     f = c(1, 2, 1, 2, 1, 2, 1, 2, 1, 2), y = c(12, 14, 11, 20, 17, 23, 35, 46, 15, 16)),
          "dd", c("a", "b", "f"))
# test_ranova_step.R (last case): set.seed(101) simulated design
set.seed(101)
tst <- data.frame(TM = rep(rep(c("org", "min"), each = 3), 3), dep = runif(18, 0, 20),
                  ind = runif(18, 0, 7), dorp = rep(1:3, each = 6))
tst <- put(tst, "seed101", c("TM", "dorp"))
carrots_cc <- carrots[complete.cases(carrots), ]
datasets <- list(sleepstudy = ss, cake = cake, ham = ham, carrots = carrots, tvbo = tvbo, pot = pot,
                 ssg = ssg, cake3 = cake3, cake4 = cake4, dd = dd, seed101 = tst,
                 carrots_cc = carrots_cc)

## ---- models and what each records ------------------------------------------------
# checks: coef, coef_kr, anova<type>[_kr|_lme4], drop1[_kr], ranova, ranova_whole,
# lsmeans:<factor>, pairwise:<factor>; contests: list(name, L (rows), joint, ddf, rhs (default 0))
I3 <- diag(3)
models <- list(
  # test_summary.R
  list(key = "split_slopes", source = "test_summary.R", data = "sleepstudy",
       formula = "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)",
       checks = c("coef", "coef_kr", "anova3", "anova3_kr", "ranova", "ranova_whole")),
  list(key = "no_fixef", source = "test_summary.R", data = "sleepstudy",
       formula = "Reaction ~ -1 + (Days | Subject)", checks = c("coef", "anova1", "anova3", "drop1")),
  list(key = "intercept_only", source = "test_summary.R", data = "sleepstudy",
       formula = "Reaction ~ (Days | Subject)", checks = c("coef", "coef_kr", "anova3", "anova2")),
  list(key = "quad_no_intercept", source = "test_summary.R", data = "sleepstudy",
       formula = "Reaction ~ Days - 1 + I(Days^2) + (Days | Subject)",
       checks = c("coef", "coef_kr", "anova1", "anova3", "anova3_kr", "anova1_lme4")),
  # test_anova.R
  list(key = "slopes", source = "test_anova.R", data = "sleepstudy",
       formula = "Reaction ~ Days + (Days | Subject)",
       checks = c("coef", "coef_kr", "anova1", "anova2", "anova3", "anova3_kr", "anova1_lme4", "drop1",
                  "ranova", "ranova_whole"),
       contests = list(list(name = "days_1d", L = rbind(c(0, 1)), joint = FALSE, ddf = "Satterthwaite"),
                       list(name = "days_1d_kr", L = rbind(c(0, 1)), joint = FALSE, ddf = "Kenward-Roger"),
                       list(name = "days_md", L = rbind(c(0, 1)), joint = TRUE, ddf = "Satterthwaite"),
                       list(name = "days_1d_rhs", L = rbind(c(0, 1)), joint = FALSE, ddf = "Satterthwaite", rhs = 10),
                       list(name = "days_1d_rhs_kr", L = rbind(c(0, 1)), joint = FALSE, ddf = "Kenward-Roger",
                            rhs = 10),
                       list(name = "days_md_rhs", L = rbind(c(0, 1)), joint = TRUE, ddf = "Satterthwaite", rhs = 10),
                       list(name = "days_md_rhs_kr", L = rbind(c(0, 1)), joint = TRUE, ddf = "Kenward-Roger",
                            rhs = 10))),
  list(key = "cake_temp", source = "test_anova.R", data = "cake",
       formula = "angle ~ recipe * temp + (1 | recipe:replicate)",
       checks = c("coef", "anova1", "anova2", "anova3", "anova3_kr", "anova1_lme4", "lsmeans:recipe",
                  "pairwise:recipe"),
       contests = list(list(name = "recipe_md", L = diag(6)[2:3, ], joint = TRUE, ddf = "Satterthwaite"),
                       list(name = "recipe_md_kr", L = diag(6)[2:3, ], joint = TRUE, ddf = "Kenward-Roger"),
                       list(name = "recipe_md_rhs", L = diag(6)[2:3, ], joint = TRUE, ddf = "Satterthwaite",
                            rhs = c(2, 2)),
                       list(name = "recipe_md_rhs_kr", L = diag(6)[2:3, ], joint = TRUE, ddf = "Kenward-Roger",
                            rhs = c(2, 2)),
                       list(name = "recipe_1d_rhs", L = diag(6)[2:3, ], joint = FALSE, ddf = "Satterthwaite",
                            rhs = c(2, -1)))),
  list(key = "cake_temperature", source = "test_anova.R", data = "cake",
       formula = "angle ~ recipe * temperature + (1 | recipe:replicate)",
       checks = c("anova1", "anova2", "anova3", "anova1_kr", "anova1_lme4", "drop1", "drop1_kr",
                  "lsmeans:recipe", "ranova")),
  list(key = "cake_no_intercept", source = "test_anova.R", data = "cake",
       formula = "angle ~ 0 + recipe * temp + (1 | recipe:replicate)",
       checks = c("coef", "anova1", "anova2", "anova3", "anova3_kr", "anova1_lme4")),
  list(key = "cake_ml", source = "test_anova.R", data = "cake", reml = FALSE,
       formula = "angle ~ recipe * temp + (1 | recipe:replicate)",
       checks = c("coef", "anova1", "anova3", "anova1_lme4", "ranova")),
  list(key = "cake_sum", source = "test_anova.R", data = "cake",
       formula = "angle ~ C(recipe, contr.sum) * temp + (1 | recipe:replicate)",
       checks = c("coef", "anova1", "anova2", "anova3", "anova1_kr")),
  list(key = "days_no_intercept", source = "test_anova.R", data = "sleepstudy",
       formula = "Reaction ~ Days - 1 + (Days | Subject)",
       checks = c("coef", "anova1", "anova2", "anova3", "anova3_kr", "anova1_lme4")),
  list(key = "quad", source = "test_anova.R", data = "sleepstudy",
       formula = "Reaction ~ Days + I(Days^2) + (Days | Subject)",
       checks = c("anova1", "anova2", "anova3", "anova3_kr", "anova1_lme4", "drop1")),
  list(key = "cake4_missing_cells", source = "test_anova.R", data = "cake4",
       formula = "angle ~ recipe * temperature + (1 | recipe:replicate)",
       checks = c("coef", "anova1", "anova2", "anova3", "anova3_kr", "drop1", "lsmeans:recipe")),
  list(key = "cake4_sum_sas", source = "test_anova.R", data = "cake4",
       formula = "angle ~ C(recipe, contr.sum) * C(temperature, contr.SAS) + (1 | recipe:replicate)",
       checks = c("anova3")),
  list(key = "cake4_helmert_poly", source = "test_anova.R", data = "cake4",
       formula = "angle ~ C(recipe, contr.helmert) * C(temperature, contr.poly) + (1 | recipe:replicate)",
       checks = c("anova3")),
  # test_contest1D.R, test_contestMD.R
  list(key = "quad_split", source = "test_contest1D.R", data = "sleepstudy",
       formula = "Reaction ~ Days + I(Days^2) + (1 | Subject) + (0 + Days | Subject)",
       checks = c("coef", "coef_kr"),
       contests = list(list(name = "days_1d", L = rbind(c(0, 1, 0)), joint = FALSE, ddf = "Satterthwaite"),
                       list(name = "days_1d_kr", L = rbind(c(0, 1, 0)), joint = FALSE, ddf = "Kenward-Roger"),
                       list(name = "all_1d", L = I3, joint = FALSE, ddf = "Satterthwaite"),
                       list(name = "all_md", L = I3, joint = TRUE, ddf = "Satterthwaite"),
                       list(name = "all_md_kr", L = I3, joint = TRUE, ddf = "Kenward-Roger"),
                       list(name = "slopes_md", L = I3[2:3, ], joint = TRUE, ddf = "Satterthwaite"),
                       list(name = "slopes_md_kr", L = I3[2:3, ], joint = TRUE, ddf = "Kenward-Roger"),
                       list(name = "last_md", L = I3[3, , drop = FALSE], joint = TRUE, ddf = "Satterthwaite"),
                       list(name = "rank2_md", L = rbind(c(1, 0, 1), c(0, 1, 0), c(1, -1, 1)), joint = TRUE,
                            ddf = "Satterthwaite"),
                       list(name = "rank2_md_kr", L = rbind(c(1, 0, 1), c(0, 1, 0), c(1, -1, 1)), joint = TRUE,
                            ddf = "Kenward-Roger"))),
  # test_drop1.R
  list(key = "cake_additive", source = "test_drop1.R", data = "cake",
       formula = "angle ~ recipe + temperature + (1 | recipe:replicate)",
       checks = c("drop1", "drop1_kr", "anova3")),
  list(key = "poly_days", source = "test_drop1.R", data = "sleepstudy",
       formula = "Reaction ~ poly(Days, 2) + (Days | Subject)", checks = c("drop1", "anova3", "coef")),
  list(key = "aliased_temp", source = "test_drop1.R", data = "cake",
       formula = "angle ~ recipe + temp + temperature + (1 | recipe:replicate)", checks = c("drop1")),
  list(key = "aliased_temp_removed", source = "test_drop1.R", data = "cake",
       formula = "angle ~ recipe + temp + (1 | recipe:replicate)", checks = c("drop1", "drop1_kr")),
  # test_ranova_step.R
  list(key = "intercept_ml", source = "test_ranova_step.R", data = "sleepstudy", reml = FALSE,
       formula = "Reaction ~ Days + (1 | Subject)", checks = c("ranova", "coef", "anova3")),
  list(key = "only_group_intercept", source = "test_ranova_step.R", data = "sleepstudy",
       formula = "Reaction ~ -1 + (1 | Subject)", checks = c("ranova")),
  list(key = "slope_only", source = "test_ranova_step.R", data = "sleepstudy",
       formula = "Reaction ~ Days + (0 + Days | Subject)", checks = c("ranova", "ranova_whole", "coef")),
  list(key = "slope_minus1", source = "test_ranova_step.R", data = "sleepstudy",
       formula = "Reaction ~ Days + (-1 + Days | Subject)", checks = c("ranova")),
  list(key = "poly_no_intercept_re", source = "test_ranova_step.R", data = "sleepstudy",
       formula = "Reaction ~ poly(Days, 2) + (0 + poly(Days, 2) | Subject)",
       checks = c("ranova", "ranova_whole")),
  list(key = "poly_re", source = "test_ranova_step.R", data = "sleepstudy",
       formula = "Reaction ~ poly(Days, 2) + (1 + poly(Days, 2) | Subject)",
       checks = c("ranova", "ranova_whole", "anova3")),
  list(key = "uncorrelated", source = "test_ranova_step.R", data = "sleepstudy",
       formula = "Reaction ~ Days + (Days || Subject)", checks = c("ranova", "coef")),
  list(key = "tvbo_crossed", source = "test_ranova_step.R", data = "tvbo",
       formula = "Coloursaturation ~ TVset * Picture + (1 | Assessor:TVset) + (1 | Assessor)",
       checks = c("ranova", "anova3", "anova3_kr", "drop1")),
  list(key = "tvbo_nested", source = "test_ranova_step.R", data = "tvbo",
       formula = "Coloursaturation ~ TVset * Picture + (1 | Assessor/TVset)", checks = c("ranova", "anova2")),
  list(key = "ham_three_terms", source = "test_ranova_step.R", data = "ham",
       formula = "Informed.liking ~ Product + Information + (1 | Consumer) + (1 | Product:Consumer) + (1 | Information:Consumer)",
       checks = c("ranova", "drop1", "anova3", "anova1_kr", "coef")),
  list(key = "carrots_two_slopes", source = "test_ranova_step.R", data = "carrots",
       formula = "Preference ~ sens2 + Homesize + (sens1 + sens2 | Consumer)",
       checks = c("ranova", "ranova_whole", "anova3", "coef")),
  list(key = "carrots_factor_slope", source = "test_ranova_step.R", data = "carrots",
       formula = "Preference ~ sens2 + Homesize + Gender + (0 + Gender | Consumer)",
       checks = c("ranova", "ranova_whole", "anova3")),
  list(key = "carrots_poly_re", source = "test_ranova_step.R", data = "carrots",
       formula = "Preference ~ sens2 + Gender + (poly(sens2, 2) | Consumer)", checks = c("ranova")),
  list(key = "carrots_quad_re", source = "test_ranova_step.R", data = "carrots",
       formula = "Preference ~ sens2 + Gender + (sens2 + I(sens2^2) | Consumer)", checks = c("ranova")),
  list(key = "carrots_log_re", source = "test_ranova_step.R", data = "carrots",
       formula = "Preference ~ sens2 + Gender + (log(10 + sens2) | Consumer)", checks = c("ranova")),
  list(key = "carrots_cc_interaction_group", source = "test_ranova_step.R", data = "carrots_cc",
       formula = "Preference ~ sens2 + Homesize + (1 | Consumer:Income)", checks = c("ranova", "anova3")),
  list(key = "carrots_income", source = "test_ranova_step.R", data = "carrots",
       formula = "Preference ~ sens2 + Homesize + Income + (1 | Consumer:Income)",
       checks = c("ranova", "drop1")),
  list(key = "seed101", source = "test_ranova_step.R", data = "seed101",
       formula = "dep ~ TM + ind + (1 | dorp)", checks = c("coef", "drop1", "ranova", "anova3_kr")),
  # test_zerovar.R
  list(key = "zero_variance", source = "test_zerovar.R", data = "ssg",
       formula = "Reaction ~ Days + (Days | Subject) + (1 | g)", checks = c("coef", "anova3", "anova1_lme4")),
  # test_compare_sas.R
  list(key = "carrots_sas", source = "test_compare_sas.R", data = "carrots",
       formula = "Preference ~ sens2 * C(Frequency, contr.SAS) * C(Income, contr.SAS) + (1 + sens2 | Consumer)",
       checks = c("coef", "anova3")),
  list(key = "ham_three_way", source = "test_compare_sas.R", data = "ham",
       formula = "Informed.liking ~ Product * Information * Gender + (1 | Product:Consumer) + (1 | Consumer)",
       checks = c("lsmeans:Product", "pairwise:Product", "anova3")),
  list(key = "carrots_no_intercept", source = "test_compare_sas.R", data = "carrots",
       formula = "Preference ~ 0 + sens2 + Homesize + (1 + sens2 | Consumer)",
       checks = c("anova1", "anova3", "anova1_lme4", "coef")),
  list(key = "dd_ab", source = "test_compare_sas.R", data = "dd", formula = "y ~ a * b + (1 | f)",
       checks = c("anova2")),
  list(key = "dd_ba", source = "test_compare_sas.R", data = "dd", formula = "y ~ b * a + (1 | f)",
       checks = c("anova2")),
  list(key = "carrots_sens2_homesize", source = "test_compare_sas.R", data = "carrots",
       formula = "Preference ~ sens2 * Homesize + (1 + sens2 | Consumer)", checks = c("anova2", "anova3")),
  list(key = "ham_age", source = "test_compare_sas.R", data = "ham",
       formula = "Informed.liking ~ Product * Age + (1 | Consumer)", checks = c("anova2", "anova3")),
  list(key = "carrots_three_numeric", source = "test_compare_sas.R", data = "carrots",
       formula = "Preference ~ sens2 * Homesize * sens1 + (1 | Product)", checks = c("anova2", "anova3")),
  # test_ls_means.R
  list(key = "cake3_missing_cell", source = "test_ls_means.R", data = "cake3",
       formula = "angle ~ recipe * temperature + (1 | recipe:replicate)",
       checks = c("anova3", "lsmeans:temperature")),
  # test_lmerTest_paper.R
  list(key = "tvbo_paper", source = "test_lmerTest_paper.R", data = "tvbo",
       formula = "Sharpnessofmovement ~ TVset * Picture + (1 | Assessor) + (1 | Assessor:TVset) + (1 | Assessor:Picture)",
       checks = c("anova3", "anova2_kr", "ranova")),
  list(key = "carrots_paper", source = "test_lmerTest_paper.R", data = "carrots",
       formula = "Preference ~ sens1 + sens2 + (1 + sens1 + sens2 | Consumer) + (1 | Product)",
       checks = c("coef", "ranova"), ranova_control = "nlopt"),
  list(key = "tvbo_paper_full", source = "test_lmerTest_paper.R", data = "tvbo",
       formula = "Sharpnessofmovement ~ TVset * Picture + (1 | Assessor:TVset) + (1 | Assessor:Picture) + (1 | Assessor:Picture:TVset) + (1 | Repeat) + (1 | Repeat:Picture) + (1 | Repeat:TVset) + (1 | Repeat:TVset:Picture) + (1 | Assessor)",
       checks = c("anova3"),
       contests = list(list(name = "interaction_md", L = cbind(array(0, dim = c(6, 6)), diag(6)), joint = TRUE,
                            ddf = "Satterthwaite"),
                       list(name = "interaction_1d", L = cbind(array(0, dim = c(6, 6)), diag(6)), joint = FALSE,
                            ddf = "Satterthwaite"))),
  # zlmerTest_zeroDenom.R
  list(key = "pot_zero_denominator", source = "zlmerTest_zeroDenom.R", data = "pot",
       formula = "biomass ~ CO2 * nutrients + (1 | chamber)", checks = c("coef", "anova3", "anova3_kr"))
)

## ---- record ---------------------------------------------------------------------------
cols <- function(tab, map) {
  out <- list(rows = I(rownames(tab)))   # I(): arrays even of length 1
  for (k in names(map)) out[[k]] <- I(if (nrow(tab)) unname(as.numeric(tab[[map[[k]]]])) else numeric(0))
  out
}
F_MAP <- list(`Sum Sq` = "Sum Sq", `Mean Sq` = "Mean Sq", NumDF = "NumDF", DenDF = "DenDF", F = "F value",
              p = "Pr(>F)")
T_MAP <- list(estimate = "Estimate", std_error = "Std. Error", df = "df", t_value = "t value", p = "Pr(>|t|)")
ddf_of <- function(check) if (grepl("_kr$", check)) "Kenward-Roger" else "Satterthwaite"
record <- function(m, check) {
  if (check %in% c("coef", "coef_kr")) {
    tab <- as.data.frame(coef(summary(m, ddf = ddf_of(check))))
    return(cols(tab, T_MAP))
  }
  if (grepl("^anova", check)) {
    type <- as.integer(substr(check, 6, 6))
    if (grepl("_lme4$", check)) {
      tab <- anova(m, ddf = "lme4")
      return(cols(tab, list(`Sum Sq` = "Sum Sq", `Mean Sq` = "Mean Sq", NumDF = "npar", F = "F value")))
    }
    return(cols(anova(m, type = type, ddf = ddf_of(check)), F_MAP))
  }
  if (grepl("^drop1", check)) return(cols(drop1(m, ddf = ddf_of(check)), F_MAP))
  if (grepl("^ranova", check)) {
    tab <- ranova(m, reduce.terms = check == "ranova")
    return(cols(tab, list(npar = "npar", logLik = "logLik", AIC = "AIC", LRT = "LRT", Df = "Df",
                          p = "Pr(>Chisq)")))
  }
  if (grepl("^(lsmeans|pairwise):", check)) {
    tab <- ls_means(m, which = sub("^.*:", "", check), pairwise = grepl("^pairwise", check))
    return(cols(tab, list(estimate = "Estimate", std_error = "Std. Error", df = "df", t_value = "t value",
                          lower = "lower", upper = "upper", p = "Pr(>|t|)")))
  }
  stop("unknown check ", check)
}
out <- list(`_about` = paste(
  "lmerTest", packageVersion("lmerTest"), "lme4", packageVersion("lme4"), "pbkrtest",
  packageVersion("pbkrtest"), R.version.string, "- made by tests/reference/make_lmertest_suite.R"))
for (cs in models) {
  reml <- if (is.null(cs$reml)) TRUE else cs$reml
  m <- suppressMessages(lmer(as.formula(cs$formula), datasets[[cs$data]], REML = reml, control = tight))
  res <- list(source = cs$source, data = cs$data, formula = cs$formula, reml = reml,
              fixef = as.list(fixef(m)), logLik = as.numeric(logLik(m)), theta = I(unname(getME(m, "theta"))))
  for (check in cs$checks) res$checks[[check]] <- record(
    if (grepl("^ranova", check) && identical(cs$ranova_control, "nlopt")) update(m, control = tight_nlopt) else m,
    check)
  for (ct in cs$contests) {
    rhs <- if (is.null(ct$rhs)) rep(0, nrow(ct$L)) else rep_len(ct$rhs, nrow(ct$L))
    tab <- if (ct$joint) contestMD(m, ct$L, ddf = ct$ddf, rhs = rhs) else
      do.call(rbind, lapply(seq_len(nrow(ct$L)), function(i) contest1D(m, ct$L[i, ], ddf = ct$ddf, rhs = rhs[i])))
    res$contests[[ct$name]] <- c(list(L = ct$L, joint = ct$joint, ddf = ct$ddf, rhs = I(rhs)),
                                 cols(as.data.frame(tab), if (ct$joint) F_MAP else T_MAP))
  }
  out[[cs$key]] <- res
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           paste0(ref, "lmertest_suite.json"))
