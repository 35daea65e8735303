# Cases ported from R emmeans' own tests (tests/testthat/test-emmeans.R, test-contrast.R,
# test-emtrends.R, test-ref_grid.R, test-nested.R, test-transformations.R) and its vignette
# examples, for what ml.emmeans / ml.slopes / ml.comparisons give on REML/ML fits:
# tests/test_emmeans_suite.py. Each case names the emmeans test file (or vignette) it comes
# from; the models are lme4 fits of the shipped data (the emmeans tests use lm/glm fits of
# warpbreaks, pigs, ...: the same calls are made here on mixed models).
# Run from the repository root (no network; R 4.2.2, lme4 1.1-31, emmeans 1.8.4-1,
# pbkrtest 0.5.2, lmerTest 3.1-3):
#   Rscript tests/reference/make_emmeans_suite.R
# LMMs are fitted by BOBYQA to rhoend 1e-9 and GLMMs with tolPwrss 1e-12 so the references
# are the optima. Simulated data (a 2 x 3 x 2 unbalanced design with a covariate, and the
# same with the a2:b3 cell empty) are written next to this file as emmeans_suite_*.csv.
suppressPackageStartupMessages({library(lme4); library(emmeans); library(jsonlite)})
source("tests/reference/read_data.R")  # dir, fac(), rd()
ref <- "tests/reference/"
lctl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-9, maxfun = 1e5))
gctl <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(rhoend = 1e-9, maxfun = 1e5))
emm_options(msg.interaction = FALSE, msg.nesting = FALSE)

## ---- data -------------------------------------------------------------------------
cake <- rd("cake.csv", c("replicate", "recipe", "temperature"))
cbpp <- rd("cbpp.csv", c("herd", "period"))
pen <- rd("Penicillin.csv", c("plate", "sample"))
oats <- rd("oats.csv", c("Block", "Variety", "nitro"))
owls <- rd("Owls.csv", c("Nest", "FoodTreatment", "SexParent"))
ticks <- rd("grouseticks.csv", c("INDEX", "BROOD", "YEAR", "LOCATION"))
ss <- rd("sleepstudy.csv", "Subject")
ss$fDays <- fac(ss$Days)
set.seed(20261204)
n <- 240
sim <- data.frame(a = sample(c("a1", "a2"), n, TRUE, prob = c(0.35, 0.65)),
                  b = sample(c("b1", "b2", "b3"), n, TRUE, prob = c(0.5, 0.3, 0.2)),
                  c = sample(c("c1", "c2"), n, TRUE, prob = c(0.6, 0.4)),
                  g = sample(sprintf("g%02d", 1:12), n, TRUE), x = round(rnorm(n, 0.5, 1), 3))
u <- rnorm(12, sd = 1.5)
sim$y <- round(10 + (sim$a == "a2") * 1.2 + (sim$b == "b2") * 0.8 - (sim$b == "b3") * 1.1 +
  (sim$c == "c2") * 0.5 + 0.9 * sim$x + (sim$a == "a2") * sim$x * 0.6 +
  (sim$a == "a2" & sim$b == "b3") * 1.5 + u[as.integer(factor(sim$g))] + rnorm(n), 3)
write.csv(sim, paste0(ref, "emmeans_suite_sim.csv"), row.names = FALSE)
miss <- sim[!(sim$a == "a2" & sim$b == "b3"), ]
write.csv(miss, paste0(ref, "emmeans_suite_miss.csv"), row.names = FALSE)
sim <- rd("emmeans_suite_sim.csv", c("a", "b", "c", "g"), path = ref)
miss <- rd("emmeans_suite_miss.csv", c("a", "b", "c", "g"), path = ref)

## ---- models -----------------------------------------------------------------------
models <- list(
  cake = list(formula = "angle ~ recipe * temperature + (1 | recipe:replicate)", data = "cake"),
  cake_temp = list(formula = "angle ~ recipe * temp + (1 | recipe:replicate)", data = "cake"),
  owls = list(formula = "NegPerChick ~ FoodTreatment * SexParent + ArrivalTime + (1 | Nest)", data = "Owls"),
  sleep_fdays = list(formula = "Reaction ~ fDays + (1 | Subject)", data = "sleepstudy_fdays"),
  penicillin = list(formula = "diameter ~ sample + (1 | plate)", data = "Penicillin"),
  oats = list(formula = "yield ~ Variety * nitro + (1 | Block)", data = "oats"),
  cbpp = list(formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)", data = "cbpp",
              family = "binomial"),
  ticks = list(formula = "TICKS ~ YEAR * cHEIGHT + (1 | LOCATION)", data = "grouseticks", family = "poisson"),
  sim3 = list(formula = "y ~ a * b * c + x + (1 | g)", data = "sim"),
  simx = list(formula = "y ~ a * x + b + (1 | g)", data = "sim"),
  miss = list(formula = "y ~ a * b + c + (1 | g)", data = "miss")
)
frames <- list(cake = cake, Owls = owls, sleepstudy_fdays = ss, Penicillin = pen, oats = oats,
               cbpp = cbpp, grouseticks = ticks, sim = sim, miss = miss)
fits <- lapply(models, function(m) {
  d <- frames[[m$data]]
  if (is.null(m$family)) lmer(as.formula(m$formula), d, REML = TRUE, control = lctl)
  else glmer(as.formula(m$formula), d, family = m$family, control = gctl)
})
for (k in names(models)) {
  models[[k]]$fixef <- unname(fixef(fits[[k]]))
  models[[k]]$dropped <- length(attr(getME(fits[[k]], "X"), "col.dropped"))
}

source("tests/reference/emmeans_table.R")  # tab(): a summary table as a list of columns
cases <- list()
# case(id, source, model, python call, emmeans object [, contrast object [, adjust]])
case <- function(id, source, model, call, emm, con = NULL, adjust = NULL) {
  x <- list(id = id, source = source, model = model, call = call, emmeans = tab(summary(emm, infer = TRUE)))
  if (!is.null(con)) {
    s <- if (is.null(adjust)) summary(con, infer = TRUE) else summary(con, infer = TRUE, adjust = adjust)
    x$contrasts <- tab(s)
    x$adjust <- attr(s, "adjust")
    if (is.null(x$adjust)) x$adjust <- adjust
  }
  cases[[id]] <<- x
}
trend <- function(id, source, model, call, tr) {
  cases[[id]] <<- list(id = id, source = source, model = model, call = call, kind = "slopes",
                       emmeans = tab(summary(tr, infer = TRUE)))
}
KR <- "kenward-roger"; SW <- "satterthwaite"; AS <- "asymptotic"

## ---- cake: recipe x temperature, replicates nested in recipe ------------------------
m <- fits$cake
e <- emmeans(m, ~ recipe * temperature, lmer.df = KR)
case("cake_cells_kr", "test-emmeans.R", "cake", list(specs = "~ recipe * temperature"), e)
e <- emmeans(m, "temperature", lmer.df = KR)
case("cake_temperature_poly_kr", "test-contrast.R", "cake",
     list(specs = "temperature", contrasts = "poly"), e, contrast(e, "poly"))
e <- emmeans(m, "temperature", lmer.df = SW)
case("cake_temperature_consec_none_sw", "test-contrast.R", "cake",
     list(specs = "temperature", contrasts = "consec", adjust = "none", ddf = SW), e,
     contrast(e, "consec"), "none")
e <- emmeans(m, "recipe", lmer.df = AS)
case("cake_recipe_revpairwise_sidak_asy", "test-contrast.R", "cake",
     list(specs = "recipe", contrasts = "revpairwise", adjust = "sidak", ddf = AS), e,
     contrast(e, "revpairwise"), "sidak")
e <- emmeans(m, ~ temperature | recipe, lmer.df = KR)
case("cake_temperature_by_recipe_trt_holm_kr", "test-emmeans.R", "cake",
     list(specs = "~ temperature | recipe", contrasts = "trt.vs.ctrl", adjust = "holm"), e,
     contrast(e, "trt.vs.ctrl"), "holm")
e <- emmeans(m, "recipe", lmer.df = KR)
e <- emmeans(m, "temperature", lmer.df = KR)
# tukey asked for comparisons with a control: emmeans changes it to sidak
case("cake_temperature_trt_tukey_is_sidak_kr", "test-cross-adjust.R", "cake",
     list(specs = "temperature", contrasts = "trt.vs.ctrl", adjust = "tukey"), e,
     contrast(e, "trt.vs.ctrl"), "tukey")
# emmeans' other contrast families, each with its default adjustment (eff, del.eff: fdr;
# trt.vs.ctrlk, dunnett: dunnettx; identity: none)
for (meth in c("eff", "del.eff", "trt.vs.ctrlk", "dunnett", "identity"))
  case(paste0("cake_temperature_", gsub(".", "_", meth, fixed = TRUE), "_kr"), "test-contrast.R", "cake",
       list(specs = "temperature", contrasts = meth), e, contrast(e, meth))
e <- emmeans(m, ~ temperature | recipe, lmer.df = SW)
case("cake_temperature_by_recipe_eff_bh_sw", "test-contrast.R", "cake",
     list(specs = "~ temperature | recipe", contrasts = "eff", adjust = "BH", ddf = SW), e,
     contrast(e, "eff"), "BH")
e <- emmeans(m, "recipe", lmer.df = KR)
case("cake_recipe_custom_bonferroni_kr", "test-contrast.R", "cake",
     list(specs = "recipe", contrasts = list(AvsBC = c(1, -0.5, -0.5), BvsC = c(0, 1, -1)),
          adjust = "bonferroni"), e,
     contrast(e, list(AvsBC = c(1, -0.5, -0.5), BvsC = c(0, 1, -1))), "bonferroni")
e <- emmeans(m, ~ recipe | temperature, lmer.df = SW)
case("cake_recipe_by_temperature_pairwise_tukey_sw", "test-emmeans.R", "cake",
     list(specs = "recipe", by = "temperature", contrasts = "pairwise", ddf = SW), e, pairs(e))

e <- emmeans(m, "recipe", at = list(temperature = c("175", "185")), lmer.df = KR)
case("cake_recipe_at_two_temperatures_kr", "test-ref_grid.R", "cake",
     list(specs = "recipe", at = list(temperature = c("175", "185")), contrasts = "pairwise",
          adjust = "holm"), e, pairs(e), "holm")

## ---- cake with temperature as a covariate ------------------------------------------
m <- fits$cake_temp
e <- emmeans(m, "recipe", lmer.df = KR)
case("cake_temp_recipe_pairwise_kr", "test-ref_grid.R", "cake_temp",
     list(specs = "recipe", contrasts = "pairwise"), e, pairs(e))
e <- emmeans(m, ~ recipe | temp, at = list(temp = c(180, 220)), lmer.df = KR)
case("cake_temp_recipe_by_temp_at_kr", "test-ref_grid.R", "cake_temp",
     list(specs = "~ recipe | temp", at = list(temp = c(180, 220)), contrasts = "pairwise",
          adjust = "none"), e, pairs(e), "none")
trend("cake_temp_emtrends_asy", "test-emtrends.R", "cake_temp", list(variables = "temp", by = "recipe"),
      emtrends(m, "recipe", var = "temp", lmer.df = AS))
e <- emmeans(m, "recipe", lmer.df = AS)
cases$cake_temp_comparisons_asy <- list(
  id = "cake_temp_comparisons_asy", source = "test-contrast.R", model = "cake_temp", kind = "comparisons",
  call = list(variables = list(recipe = "pairwise")),
  emmeans = tab(summary(contrast(e, "revpairwise", adjust = "none"), infer = TRUE)))

## ---- Owls: unbalanced 2 x 2 with a covariate ----------------------------------------
m <- fits$owls
for (w in c("equal", "proportional", "outer", "cells", "flat")) {
  case(paste0("owls_food_weights_", w, "_kr"), "test-emmeans.R", "owls",
       list(specs = "FoodTreatment", weights = w), emmeans(m, "FoodTreatment", weights = w, lmer.df = KR))
}
case("owls_sex_weights_proportional_asy", "test-emmeans.R", "owls",
     list(specs = "SexParent", weights = "proportional", ddf = AS),
     emmeans(m, "SexParent", weights = "proportional", lmer.df = AS))
e <- emmeans(m, ~ FoodTreatment * SexParent, lmer.df = SW)
case("owls_cells_pairwise_tukey_sw", "test-contrast.R", "owls",
     list(specs = "~ FoodTreatment * SexParent", contrasts = "pairwise", ddf = SW), e, pairs(e))
e <- emmeans(m, ~ SexParent | FoodTreatment, at = list(ArrivalTime = 24), lmer.df = AS)
case("owls_sex_by_food_at_none_asy", "test-ref_grid.R", "owls",
     list(specs = "~ SexParent | FoodTreatment", at = list(ArrivalTime = 24), contrasts = "pairwise",
          adjust = "none", ddf = AS), e, pairs(e), "none")

## ---- sleepstudy, Days as a factor (10 means) ----------------------------------------
m <- fits$sleep_fdays
e <- emmeans(m, "fDays", lmer.df = KR)
case("sleep_fdays_trt_dunnettx_kr", "test-contrast.R", "sleep_fdays",
     list(specs = "fDays", contrasts = "trt.vs.ctrl"), e, contrast(e, "trt.vs.ctrl"))
case("sleep_fdays_poly_kr", "test-contrast.R", "sleep_fdays",
     list(specs = "fDays", contrasts = "poly"), e, contrast(e, "poly"))
case("sleep_fdays_pairwise_tukey_kr", "test-contrast.R", "sleep_fdays",
     list(specs = "fDays", contrasts = "pairwise"), e, pairs(e))
e <- emmeans(m, "fDays", lmer.df = SW)
case("sleep_fdays_consec_holm_sw", "test-contrast.R", "sleep_fdays",
     list(specs = "fDays", contrasts = "consec", adjust = "holm", ddf = SW), e,
     contrast(e, "consec"), "holm")

## ---- Penicillin: sample fixed, plate random ----------------------------------------
m <- fits$penicillin
e <- emmeans(m, "sample", lmer.df = KR)
case("penicillin_pairwise_tukey_kr", "test-emmeans.R", "penicillin",
     list(specs = "sample", contrasts = "pairwise"), e, pairs(e))
e <- emmeans(m, "sample", lmer.df = SW)
case("penicillin_pairwise_bonferroni_sw", "test-emmeans.R", "penicillin",
     list(specs = "sample", contrasts = "pairwise", adjust = "bonferroni", ddf = SW), e, pairs(e), "bonferroni")
e <- emmeans(m, "sample", lmer.df = AS)
case("penicillin_trt_sidak_asy", "test-emmeans.R", "penicillin",
     list(specs = "sample", contrasts = "trt.vs.ctrl", adjust = "sidak", ddf = AS), e,
     contrast(e, "trt.vs.ctrl"), "sidak")

## ---- oats: split plot, nitrogen levels as a factor ---------------------------------
m <- fits$oats
e <- emmeans(m, "nitro", lmer.df = KR)
case("oats_nitro_poly_kr", "vignette comparisons.Rmd", "oats",
     list(specs = "nitro", contrasts = "poly"), e, contrast(e, "poly"))
e <- emmeans(m, ~ nitro | Variety, lmer.df = KR)
case("oats_nitro_by_variety_poly_kr", "vignette comparisons.Rmd", "oats",
     list(specs = "~ nitro | Variety", contrasts = "poly"), e, contrast(e, "poly"))
e <- emmeans(m, "Variety", lmer.df = KR)
case("oats_variety_pairwise_tukey_kr", "vignette comparisons.Rmd", "oats",
     list(specs = "Variety", contrasts = "pairwise"), e, pairs(e))

## ---- cbpp: binomial GLMM, link and response scales ---------------------------------
m <- fits$cbpp
e <- emmeans(m, "period", type = "response")
case("cbpp_period_response_tukey", "test-transformations.R", "cbpp",
     list(specs = "period", contrasts = "pairwise", type = "response"), e, pairs(e))
e <- emmeans(m, "period")
case("cbpp_period_revpairwise_holm_link", "test-transformations.R", "cbpp",
     list(specs = "period", contrasts = "revpairwise", adjust = "holm"), e, contrast(e, "revpairwise"), "holm")
e <- emmeans(m, "period", type = "response")
case("cbpp_period_trt_response_bonferroni", "test-transformations.R", "cbpp",
     list(specs = "period", contrasts = "trt.vs.ctrl", adjust = "bonferroni", type = "response"), e,
     contrast(e, "trt.vs.ctrl"), "bonferroni")

e <- emmeans(m, "period", type = "response")
case("cbpp_period_custom_response", "test-contrast.R", "cbpp",
     list(specs = "period", contrasts = list(first_vs_rest = c(1, -1/3, -1/3, -1/3), late = c(0, 0, 1, -1)),
          type = "response"), e,
     contrast(e, list(first_vs_rest = c(1, -1/3, -1/3, -1/3), late = c(0, 0, 1, -1))), "none")
# weights that do not sum to zero: emmeans leaves them on the link scale (no odds ratio)
case("cbpp_period_custom_not_contrast_response", "test-contrast.R", "cbpp",
     list(specs = "period", contrasts = list(p1 = c(1, 0, 0, 0), early = c(0.5, 0.5, 0, 0)),
          type = "response"), e,
     contrast(e, list(p1 = c(1, 0, 0, 0), early = c(0.5, 0.5, 0, 0))), "none")
case("cbpp_period_poly_response", "test-contrast.R", "cbpp",
     list(specs = "period", contrasts = "poly", type = "response"), e, contrast(e, "poly"))

# regrid(): the probabilities become the estimates; contrasts are risk differences
e <- regrid(emmeans(m, "period"))
case("cbpp_period_regrid_pairwise_tukey", "test-transformations.R", "cbpp",
     list(specs = "period", type = "response", regrid = TRUE, contrasts = "pairwise"), e, pairs(e))
case("cbpp_period_regrid_trt_holm", "test-transformations.R", "cbpp",
     list(specs = "period", type = "response", regrid = TRUE, contrasts = "trt.vs.ctrl", adjust = "holm"), e,
     contrast(e, "trt.vs.ctrl"), "holm")

## ---- grouse ticks: Poisson GLMM with a factor x covariate interaction -------------
m <- fits$ticks
e <- emmeans(m, "YEAR", type = "response")
case("ticks_year_response_tukey", "test-transformations.R", "ticks",
     list(specs = "YEAR", contrasts = "pairwise", type = "response"), e, pairs(e))
e <- emmeans(m, "YEAR", at = list(cHEIGHT = 1))
case("ticks_year_at_link_sidak", "test-ref_grid.R", "ticks",
     list(specs = "YEAR", at = list(cHEIGHT = 1), contrasts = "pairwise", adjust = "sidak"), e,
     pairs(e), "sidak")
e <- emmeans(m, "YEAR", type = "response")
case("ticks_year_consec_response_tukey_is_sidak", "test-transformations.R", "ticks",
     list(specs = "YEAR", contrasts = "consec", adjust = "tukey", type = "response"), e,
     contrast(e, "consec"), "tukey")
e <- regrid(emmeans(m, ~ YEAR, at = list(cHEIGHT = 0.5)))
case("ticks_year_regrid_revpairwise_none", "test-transformations.R", "ticks",
     list(specs = "YEAR", at = list(cHEIGHT = 0.5), type = "response", regrid = TRUE,
          contrasts = "revpairwise", adjust = "none"), e, contrast(e, "revpairwise"), "none")
trend("ticks_emtrends_link", "test-emtrends.R", "ticks", list(variables = "cHEIGHT", by = "YEAR"),
      emtrends(m, "YEAR", var = "cHEIGHT"))

## ---- simulated 2 x 3 x 2, unbalanced, with a covariate ------------------------------
m <- fits$sim3
case("sim3_cells_kr", "test-emmeans.R", "sim3", list(specs = "~ a * b * c"),
     emmeans(m, ~ a * b * c, lmer.df = KR))
e <- emmeans(m, ~ b | a, lmer.df = KR)
case("sim3_b_by_a_pairwise_tukey_kr", "test-emmeans.R", "sim3",
     list(specs = "~ b | a", contrasts = "pairwise"), e, pairs(e))
case("sim3_c_weights_proportional_kr", "test-emmeans.R", "sim3",
     list(specs = "c", weights = "proportional"), emmeans(m, "c", weights = "proportional", lmer.df = KR))
case("sim3_b_weights_cells_sw", "test-emmeans.R", "sim3",
     list(specs = "b", weights = "cells", ddf = SW), emmeans(m, "b", weights = "cells", lmer.df = SW))
case("sim3_b_weights_outer_asy", "test-emmeans.R", "sim3",
     list(specs = "b", weights = "outer", ddf = AS), emmeans(m, "b", weights = "outer", lmer.df = AS))
e <- emmeans(m, ~ a | c, at = list(x = 1), lmer.df = SW)
case("sim3_a_by_c_at_x_sw", "test-ref_grid.R", "sim3",
     list(specs = "~ a | c", at = list(x = 1), contrasts = "pairwise", ddf = SW), e, pairs(e))
e <- emmeans(m, ~ b | c, weights = "cells", lmer.df = KR)
case("sim3_b_by_c_cells_holm_kr", "test-emmeans.R", "sim3",
     list(specs = "~ b | c", weights = "cells", contrasts = "pairwise", adjust = "holm"), e,
     pairs(e), "holm")
e <- emmeans(m, ~ a * b, lmer.df = KR)
case("sim3_ab_consec_bonferroni_kr", "test-cross-adjust.R", "sim3",
     list(specs = "~ a * b", contrasts = "consec", adjust = "bonferroni"), e, contrast(e, "consec"), "bonferroni")

m <- fits$simx
trend("simx_emtrends_asy", "test-emtrends.R", "simx", list(variables = "x", by = "a"),
      emtrends(m, "a", var = "x", lmer.df = AS))
e <- emmeans(m, ~ a | x, at = list(x = c(-1, 2)), lmer.df = KR)
case("simx_a_by_x_at_kr", "test-ref_grid.R", "simx",
     list(specs = "~ a | x", at = list(x = c(-1, 2)), contrasts = "revpairwise"), e, contrast(e, "revpairwise"))

## ---- missing cell: a2:b3 empty, its column aliased; emmeans' nonEst -> NA ----------
m <- fits$miss
e <- emmeans(m, ~ a * b, lmer.df = KR)
case("miss_cells_pairwise_none_kr", "test-nested.R", "miss",
     list(specs = "~ a * b", contrasts = "pairwise", adjust = "none"), e, pairs(e, adjust = "none"), "none")
case("miss_b_averaged_kr", "test-nested.R", "miss", list(specs = "b"), emmeans(m, "b", lmer.df = KR))
e <- emmeans(m, ~ b | a, lmer.df = AS)
case("miss_b_by_a_trt_none_asy", "test-nested.R", "miss",
     list(specs = "~ b | a", contrasts = "trt.vs.ctrl", adjust = "none", ddf = AS), e,
     contrast(e, "trt.vs.ctrl"), "none")

## ---- adjust = "mvt" (emmeans' default for consec) and "scheffe" ----------------------
# emmeans computes "mvt" with mvtnorm's defaults (abseps 1e-3, randomized): its p-values and
# limits are recorded as emmeans gives them (seeded), and the p-values again from the same
# correlation matrix, t ratios and whole df (emmeans' .fix.df) with mvtnorm at abseps 1e-5
# ("precise"; a precise qmvt for the limits would take minutes per family: its root search
# evaluates a randomized integral).
fixdf <- function(d) { d <- ifelse(d > 0, pmax(1, d), d); d[is.infinite(d) | d > 9999] <- 0; floor(d + 0.25) }
precise_mvt <- function(con, by = NULL) {
  s <- as.data.frame(summary(con, adjust = "none"))
  st <- intersect(c("t.ratio", "z.ratio"), names(s))
  V <- vcov(con)
  fam <- if (is.null(by)) rep(1, nrow(s)) else as.integer(factor(interaction(s[by], drop = TRUE)))
  df <- if (is.null(s$df)) rep(Inf, nrow(s)) else s$df
  alg <- GenzBretz(maxpts = 1e6, abseps = 1e-5, releps = 0)
  p <- numeric(nrow(s))
  for (f in unique(fam)) {
    i <- which(fam == f)
    R <- cov2cor(V[i, i, drop = FALSE])
    for (j in i) {
      set.seed(1)
      d <- fixdf(df[j]); x <- abs(s[[st]][j])
      p[j] <- 1 - mvtnorm::pmvt(rep(-x, length(i)), rep(x, length(i)), df = as.integer(d), corr = R, algorithm = alg)
    }
  }
  list(p_value = p)
}
mvt_case <- function(id, source, model, call, emm, con, by = NULL) {
  set.seed(20261204)
  case(id, source, model, call, emm, con)
  cases[[id]]$mvt_precise <<- precise_mvt(con, by)
}
suppressPackageStartupMessages(library(mvtnorm))
m <- fits$cake
e <- emmeans(m, "temperature", lmer.df = KR)
mvt_case("cake_temperature_consec_mvt_kr", "test-contrast.R", "cake",
         list(specs = "temperature", contrasts = "consec"), e, contrast(e, "consec"))
e <- emmeans(m, "recipe", lmer.df = SW)
mvt_case("cake_recipe_pairwise_mvt_sw", "test-cross-adjust.R", "cake",
         list(specs = "recipe", contrasts = "pairwise", adjust = "mvt", ddf = SW), e,
         pairs(e, adjust = "mvt"))
e <- emmeans(m, ~ temperature | recipe, lmer.df = KR)
mvt_case("cake_temperature_by_recipe_consec_mvt_kr", "test-contrast.R", "cake",
         list(specs = "~ temperature | recipe", contrasts = "consec"), e, contrast(e, "consec"), by = "recipe")
e <- emmeans(m, "recipe", lmer.df = KR)
case("cake_recipe_pairwise_scheffe_kr", "test-cross-adjust.R", "cake",
     list(specs = "recipe", contrasts = "pairwise", adjust = "scheffe"), e, pairs(e, adjust = "scheffe"))
e <- emmeans(m, ~ temperature | recipe, lmer.df = SW)
case("cake_temperature_by_recipe_poly_scheffe_sw", "test-cross-adjust.R", "cake",
     list(specs = "~ temperature | recipe", contrasts = "poly", adjust = "scheffe", ddf = SW), e,
     contrast(e, "poly", adjust = "scheffe"))
m <- fits$sleep_fdays
e <- emmeans(m, "fDays", lmer.df = KR)
mvt_case("sleep_fdays_trt_mvt_kr", "test-contrast.R", "sleep_fdays",
         list(specs = "fDays", contrasts = "trt.vs.ctrl", adjust = "mvt"), e,
         contrast(e, "trt.vs.ctrl", adjust = "mvt"))
m <- fits$cbpp
e <- emmeans(m, "period")
mvt_case("cbpp_period_pairwise_mvt_link", "test-cross-adjust.R", "cbpp",
         list(specs = "period", contrasts = "pairwise", adjust = "mvt"), e, pairs(e, adjust = "mvt"))
e <- regrid(emmeans(m, "period"))
case("cbpp_period_regrid_trt_scheffe", "test-transformations.R", "cbpp",
     list(specs = "period", type = "response", regrid = TRUE, contrasts = "trt.vs.ctrl", adjust = "scheffe"), e,
     contrast(e, "trt.vs.ctrl", adjust = "scheffe"))
m <- fits$ticks
e <- emmeans(m, "YEAR", type = "response")
mvt_case("ticks_year_consec_mvt_response", "test-transformations.R", "ticks",
         list(specs = "YEAR", contrasts = "consec", type = "response"), e, contrast(e, "consec"))
m <- fits$miss
e <- emmeans(m, ~ b | a, lmer.df = KR)
case("miss_b_by_a_pairwise_scheffe_kr", "test-nested.R", "miss",
     list(specs = "~ b | a", contrasts = "pairwise", adjust = "scheffe"), e, pairs(e, adjust = "scheffe"))

out <- list(versions = list(R = paste(R.version$major, R.version$minor, sep = "."),
                            lme4 = as.character(packageVersion("lme4")),
                            emmeans = as.character(packageVersion("emmeans")),
                            pbkrtest = as.character(packageVersion("pbkrtest")),
                            lmerTest = as.character(packageVersion("lmerTest"))),
            models = models, cases = unname(cases))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "string", pretty = TRUE),
           paste0(ref, "emmeans_suite.json"))
cat(length(cases), "cases\n")
