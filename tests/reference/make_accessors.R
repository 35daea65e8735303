# lme4's fitted(), residuals(type =, scaled =) and coef() (tests/test_accessors.py).
# Run from the repository root (R 4.2.2, lme4 1.1-31):  Rscript tests/reference/make_accessors.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
ss <- rd("sleepstudy.csv", "Subject")
ss$w <- rep(c(1, 2, 0.5), length.out = nrow(ss))
pastes <- rd("Pastes.csv", c("batch", "cask"))
cbpp <- rd("cbpp.csv", c("herd", "period"))
grouse <- rd("grouseticks.csv", c("BROOD", "LOCATION", "YEAR"))
models <- list(
  slopes = list(data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)"),
  uncorrelated = list(data = "sleepstudy", formula = "Reaction ~ Days + (Days || Subject)"),
  slope_not_fixed = list(data = "sleepstudy", formula = "Reaction ~ 1 + (Days | Subject)"),
  weighted = list(data = "sleepstudy", formula = "Reaction ~ Days + (1 | Subject)", weights = "w"),
  nested = list(data = "Pastes", formula = "strength ~ 1 + (1 | batch/cask)"),
  binomial = list(data = "cbpp", formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                  family = "binomial"),
  poisson = list(data = "grouseticks", formula = "TICKS ~ YEAR + (1 | BROOD) + (1 | LOCATION)",
                 family = "poisson"),
  lm = list(data = "sleepstudy", formula = "Reaction ~ Days", plain = TRUE),
  glm = list(data = "cbpp", formula = "cbind(incidence, size - incidence) ~ period", family = "binomial",
             plain = TRUE)
)
out <- list()
for (key in names(models)) {
  cs <- models[[key]]
  d <- switch(cs$data, sleepstudy = ss, Pastes = pastes, cbpp = cbpp, grouseticks = grouse)
  m <- if (isTRUE(cs$plain)) {
    if (is.null(cs$family)) lm(as.formula(cs$formula), d) else glm(as.formula(cs$formula), binomial, d)
  } else if (is.null(cs$family)) {
    if (is.null(cs$weights)) lmer(as.formula(cs$formula), d, control = tight) else
      lmer(as.formula(cs$formula), d, weights = d[[cs$weights]], control = tight)
  } else glmer(as.formula(cs$formula), d, family = cs$family, control = glmerControl(optimizer = "bobyqa"))
  types <- if (is.null(cs$family)) c("response", "pearson", "working", "deviance") else
    c("deviance", "pearson", "working", "response")
  res <- list(data = cs$data, formula = cs$formula, family = if (is.null(cs$family)) "gaussian" else cs$family,
              weights = if (is.null(cs$weights)) NULL else cs$weights,
              fitted = unname(fitted(m)), residuals = list())
  if (!isTRUE(cs$plain)) res$scaled <- unname(residuals(m, scaled = TRUE))
  for (ty in types) res$residuals[[ty]] <- unname(residuals(m, type = ty))
  co <- coef(m)
  res$coef <- if (isTRUE(cs$plain)) list(names = names(co), values = unname(co)) else
    lapply(co, function(x) list(levels = rownames(x), columns = colnames(x),
                                values = lapply(seq_len(ncol(x)), function(j) unname(x[[j]]))))
  out[[key]] <- res
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", pretty = TRUE),
           "tests/reference/accessors.json")
