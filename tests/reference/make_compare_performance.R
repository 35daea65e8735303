# performance::compare_performance of lme4 and lm fits, for ml.compare_performance:
# tests/test_compare_performance.py. Run from the repository root (no network; R 4.2.2,
# lme4 1.1-31, performance 0.10.2):
#   Rscript tests/reference/make_compare_performance.R
# The fits use lme4's default settings (its REML optimum agrees with ours to ~1e-7 in
# the criteria compared here; the tolerances are set for that).
suppressPackageStartupMessages({library(lme4); library(performance); library(jsonlite)})
source("tests/reference/read_data.R")  # dir, fac(), rd()
ss <- rd("sleepstudy.csv", "Subject")
cbpp <- rd("cbpp.csv", c("herd", "period"))
lctl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-9, maxfun = 1e5))
gctl <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(rhoend = 1e-9, maxfun = 1e5))
fits <- list(
  m1 = lmer(Reaction ~ Days + (1 | Subject), ss, control = lctl),
  m2 = lmer(Reaction ~ Days + (Days | Subject), ss, control = lctl),
  m3 = lm(Reaction ~ Days, ss),
  m4 = lmer(Reaction ~ Days + (Days | Subject), ss, REML = FALSE, control = lctl),
  g1 = glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial, control = gctl),
  g0 = glmer(cbind(incidence, size - incidence) ~ 1 + (1 | herd), cbpp, family = binomial, control = gctl)
)
models <- list(
  m1 = list(formula = "Reaction ~ Days + (1 | Subject)", data = "sleepstudy", method = "reml"),
  m2 = list(formula = "Reaction ~ Days + (Days | Subject)", data = "sleepstudy", method = "reml"),
  m3 = list(formula = "Reaction ~ Days", data = "sleepstudy", method = "reml"),
  m4 = list(formula = "Reaction ~ Days + (Days | Subject)", data = "sleepstudy", method = "ml"),
  g1 = list(formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)", data = "cbpp",
            method = "ml", family = "binomial"),
  g0 = list(formula = "cbind(incidence, size - incidence) ~ 1 + (1 | herd)", data = "cbpp",
            method = "ml", family = "binomial")
)
# name the models as the Python call does (do.call drops the argument names)
cp <- function(names, ...) {
  env <- list2env(fits[names])
  call <- as.call(c(list(quote(compare_performance)), lapply(names, as.name), list(...)))
  as.data.frame(suppressWarnings(eval(call, env)))
}
cases <- list(
  list(id = "lmer_lm", fits = c("m1", "m2", "m3"), args = list()),
  list(id = "lmer_lm_rank", fits = c("m1", "m2", "m3"), args = list(rank = TRUE)),
  list(id = "lm_first", fits = c("m3", "m1"), args = list()),
  list(id = "lmer_reml", fits = c("m1", "m2"), args = list(estimator = "REML")),
  list(id = "lmer_rank", fits = c("m1", "m2", "m4"), args = list(rank = TRUE)),
  list(id = "glmer", fits = c("g1", "g0"), args = list()),
  list(id = "glmer_rank", fits = c("g0", "g1"), args = list(rank = TRUE))
)
for (i in seq_along(cases)) {
  tab <- do.call(cp, c(list(cases[[i]]$fits), cases[[i]]$args))
  tab$Log_loss <- NULL   # NA for binomial counts in performance 0.10.2: not a column of ours
  cases[[i]]$table <- as.list(tab)
  cases[[i]]$columns <- names(tab)
}
out <- list(versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                            performance = as.character(packageVersion("performance"))),
            models = models, cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           "tests/reference/compare_performance.json")
