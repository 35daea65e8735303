# emmeans' emtrends (trends of the linear predictor in a numeric predictor, with their
# df and contrasts) on lme4 fits and an lm, for ml.emtrends: tests/test_emtrends.py.
# Run from the repository root (no network; R 4.2.2, lme4 1.1-31, emmeans 1.8.4-1,
# pbkrtest 0.5.2, lmerTest 3.1-3):
#   Rscript tests/reference/make_emtrends.R
# LMMs are fitted by BOBYQA to rhoend 1e-9 and GLMMs with tolPwrss 1e-12, so the
# references are the optima. emmeans' trend is a difference quotient of the model matrix
# over delta.var (default 0.001 x the range of the variable): for terms not linear in the
# variable (poly, log) it is that quotient, not the derivative, and ml.emtrends takes the
# same step.
suppressPackageStartupMessages({library(lme4); library(emmeans); library(jsonlite)})
source("tests/reference/read_data.R")  # dir, fac(), rd()
ref <- "tests/reference/"
lctl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-9, maxfun = 1e5))
gctl <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(rhoend = 1e-9, maxfun = 1e5))
emm_options(msg.interaction = FALSE, msg.nesting = FALSE)

cake <- rd("cake.csv", c("replicate", "recipe", "temperature"))
ticks <- rd("grouseticks.csv", c("INDEX", "BROOD", "YEAR", "LOCATION"))
ss <- rd("sleepstudy.csv", "Subject")
mtcars_ <- rd("mtcars.csv")[, -1]   # the first column: the row names
sim <- rd("emmeans_suite_sim.csv", c("a", "b", "c", "g"), path = ref)
frames <- list(cake = cake, grouseticks = ticks, sleepstudy = ss, mtcars = mtcars_, sim = sim)

models <- list(
  sleep = list(formula = "Reaction ~ Days + (Days | Subject)", data = "sleepstudy"),
  cake_temp = list(formula = "angle ~ recipe * temp + (1 | recipe:replicate)", data = "cake"),
  cake_poly = list(formula = "angle ~ recipe * poly(temp, 2) + (1 | recipe:replicate)", data = "cake"),
  cake_log = list(formula = "angle ~ recipe + log(temp) + (1 | recipe:replicate)", data = "cake"),
  ticks = list(formula = "TICKS ~ YEAR * scale(HEIGHT) + (1 | LOCATION)", data = "grouseticks",
               family = "poisson"),
  simx = list(formula = "y ~ a * x + b + (1 | g)", data = "sim"),
  simx2 = list(formula = "y ~ a * x + I(x^2) + b + (1 | g)", data = "sim"),
  cars = list(formula = "mpg ~ wt * hp", data = "mtcars", lm = TRUE)
)
fits <- lapply(models, function(m) {
  d <- frames[[m$data]]
  if (isTRUE(m$lm)) lm(as.formula(m$formula), d)
  else if (is.null(m$family)) lmer(as.formula(m$formula), d, REML = TRUE, control = lctl)
  else glmer(as.formula(m$formula), d, family = m$family, control = gctl)
})
for (k in names(models)) models[[k]]$fixef <- unname(if (isTRUE(models[[k]]$lm)) coef(fits[[k]]) else fixef(fits[[k]]))

source("tests/reference/emmeans_table.R")  # tab(): a summary table as a list of columns
cases <- list()
# case(id, model, python call, emtrends object [, contrast object])
case <- function(id, model, call, tr, con = NULL) {
  x <- list(id = id, model = model, call = call, trends = tab(summary(tr, infer = TRUE)))
  if (!is.null(con)) {
    s <- summary(con, infer = TRUE)
    x$contrasts <- tab(s)
    x$adjust <- attr(s, "adjust")
  }
  cases[[id]] <<- x
}
KR <- "kenward-roger"; SW <- "satterthwaite"; AS <- "asymptotic"

m <- fits$sleep
case("sleep_overall_kr", "sleep", list(specs = "1", var = "Days"),
     emtrends(m, ~ 1, var = "Days", lmer.df = KR))
case("sleep_overall_sw", "sleep", list(specs = "1", var = "Days", ddf = SW),
     emtrends(m, ~ 1, var = "Days", lmer.df = SW))

m <- fits$cake_temp
tr <- emtrends(m, "recipe", var = "temp", lmer.df = KR)
case("cake_temp_pairs_kr", "cake_temp", list(specs = "recipe", var = "temp", contrasts = "pairwise"),
     tr, pairs(tr))
tr <- emtrends(m, "recipe", var = "temp", lmer.df = SW)
case("cake_temp_trt_sw", "cake_temp",
     list(specs = "recipe", var = "temp", contrasts = "trt.vs.ctrl", adjust = "holm", ddf = SW),
     tr, contrast(tr, "trt.vs.ctrl", adjust = "holm"))
case("cake_temp_overall_kr", "cake_temp", list(specs = "1", var = "temp"),
     emtrends(m, ~ 1, var = "temp", lmer.df = KR))

m <- fits$cake_poly
tr <- emtrends(m, ~ recipe | temp, var = "temp", at = list(temp = c(180, 200)), lmer.df = KR)
case("cake_poly_at_kr", "cake_poly",
     list(specs = "~ recipe | temp", var = "temp", at = list(temp = c(180, 200)), contrasts = "pairwise"),
     tr, pairs(tr))
case("cake_poly_mean_kr", "cake_poly", list(specs = "recipe", var = "temp"),
     emtrends(m, "recipe", var = "temp", lmer.df = KR))
case("cake_poly_delta_asy", "cake_poly", list(specs = "recipe", var = "temp", delta_var = 2, ddf = AS),
     emtrends(m, "recipe", var = "temp", delta.var = 2, lmer.df = AS))

m <- fits$cake_log
case("cake_log_kr", "cake_log", list(specs = "recipe", var = "temp"),
     emtrends(m, "recipe", var = "temp", lmer.df = KR))

m <- fits$ticks
tr <- emtrends(m, "YEAR", var = "HEIGHT")
case("ticks_pairs", "ticks", list(specs = "YEAR", var = "HEIGHT", contrasts = "pairwise"), tr, pairs(tr))
tr <- emtrends(m, "YEAR", var = "HEIGHT", at = list(HEIGHT = 500))
case("ticks_at", "ticks", list(specs = "YEAR", var = "HEIGHT", at = list(HEIGHT = 500),
                               contrasts = "consec", adjust = "bonferroni"),
     tr, contrast(tr, "consec", adjust = "bonferroni"))

m <- fits$simx
tr <- emtrends(m, ~ a | b, var = "x", lmer.df = KR)
case("simx_by_kr", "simx", list(specs = "a", by = "b", var = "x", contrasts = "revpairwise"),
     tr, contrast(tr, "revpairwise"))
case("simx_prop_kr", "simx", list(specs = "a", var = "x", weights = "proportional"),
     emtrends(m, "a", var = "x", weights = "proportional", lmer.df = KR))
m <- fits$simx2
case("simx2_at_kr", "simx2", list(specs = "a", var = "x", at = list(x = c(-1, 0, 2))),
     emtrends(m, ~ a, var = "x", at = list(x = c(-1, 0, 2)), lmer.df = KR))
case("simx2_by_x_kr", "simx2", list(specs = "a", by = "x", var = "x", at = list(x = c(-1, 2)),
                                    contrasts = "pairwise"),
     emtrends(m, ~ a | x, var = "x", at = list(x = c(-1, 2)), lmer.df = KR),
     pairs(emtrends(m, ~ a | x, var = "x", at = list(x = c(-1, 2)), lmer.df = KR)))

m <- fits$cars
tr <- emtrends(m, ~ hp, var = "wt", at = list(hp = c(100, 150, 200)))
case("cars_by_hp", "cars", list(specs = "hp", var = "wt", at = list(hp = c(100, 150, 200)),
                                contrasts = "consec", adjust = "none"),
     tr, contrast(tr, "consec", adjust = "none"))
case("cars_overall", "cars", list(specs = "1", var = "hp"), emtrends(m, ~ 1, var = "hp"))

out <- list(versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                            emmeans = as.character(packageVersion("emmeans")),
                            pbkrtest = as.character(packageVersion("pbkrtest"))),
            models = models, cases = unname(cases))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), paste0(ref, "emtrends.json"))
