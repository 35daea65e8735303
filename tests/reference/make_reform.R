# lme4's predict(..., re.form = <formula>): predictions conditioned on some of the model's
# random effects (tests/test_reform.py). Run from the repository root (R 4.2.2, lme4 1.1-31):
#   Rscript tests/reference/make_reform.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
ss <- rd("sleepstudy.csv", "Subject")
pen <- rd("Penicillin.csv", c("plate", "sample"))
pastes <- rd("Pastes.csv", c("batch", "cask"))
cbpp <- rd("cbpp.csv", c("herd", "period")); cbpp$obs <- fac(seq_len(nrow(cbpp)))
cases <- list(
  list(key = "slope_intercept_only", data = "sleepstudy", fit = "Reaction ~ Days + (Days | Subject)",
       re_form = "~ (1 | Subject)",
       newdata = data.frame(Days = c(0, 4, 9, 2), Subject = c("308", "335", "372", "999"))),
  list(key = "slope_only", data = "sleepstudy", fit = "Reaction ~ Days + (Days | Subject)",
       re_form = "~ (0 + Days | Subject)",
       newdata = data.frame(Days = c(0, 4, 9), Subject = c("308", "335", "372"))),
  list(key = "uncorrelated", data = "sleepstudy", fit = "Reaction ~ Days + (Days || Subject)",
       re_form = "~ (1 | Subject)",
       newdata = data.frame(Days = c(1, 7), Subject = c("309", "350"))),
  list(key = "crossed_one", data = "Penicillin", fit = "diameter ~ 1 + (1 | plate) + (1 | sample)",
       re_form = "~ (1 | plate)",
       newdata = data.frame(plate = c("a", "m", "x"))),
  list(key = "nested_outer", data = "Pastes", fit = "strength ~ 1 + (1 | batch/cask)",
       re_form = "~ (1 | batch)",
       newdata = data.frame(batch = c("A", "J", "B"))),
  list(key = "glmm_obs_level", data = "cbpp",
       fit = "cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)",
       re_form = "~ (1 | herd)",
       newdata = data.frame(period = c("1", "4", "2"), herd = c("1", "15", "7")))
)
out <- list()
for (cs in cases) {
  d <- switch(cs$data, sleepstudy = ss, Penicillin = pen, Pastes = pastes, cbpp = cbpp)
  glmm <- cs$data == "cbpp"
  m <- if (glmm) glmer(as.formula(cs$fit), d, family = binomial,
                       control = glmerControl(optimizer = "bobyqa")) else
    lmer(as.formula(cs$fit), d, control = tight)
  rf <- as.formula(cs$re_form)
  nd <- cs$newdata
  if (glmm) nd$period <- factor(nd$period, levels = levels(d$period))
  res <- list(data = cs$data, fit = cs$fit, re_form = cs$re_form,
              fitted_link = unname(predict(m, re.form = rf)),
              newdata = cs$newdata,
              new_link = unname(predict(m, newdata = nd, re.form = rf, allow.new.levels = TRUE)))
  if (glmm) res$new_response <- unname(predict(m, newdata = nd, re.form = rf, type = "response",
                                               allow.new.levels = TRUE))
  out[[cs$key]] <- res
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/reform.json")
