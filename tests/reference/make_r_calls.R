# References for R's conversions and R's coefficient spelling in lme4 formulas
# (tests/test_r_calls.py): factor(), as.factor(), as.numeric(), poly()/bs() columns
# numbered from 1, and transformed predictors named as R deparses them.
# Run from the repository root (R 4.2.2, lme4 1.1-31, lmerTest 3.1-3 from Debian; no network):
#   Rscript tests/reference/make_r_calls.R
suppressPackageStartupMessages({library(lmerTest); library(jsonlite); library(splines); library(emmeans)})
source("tests/reference/read_data.R")  # dir, fac(), rd()
mt <- rd("mtcars.csv"); names(mt)[1] <- "model"   # the row names column
ss <- rd("sleepstudy.csv", "Subject")
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
newcars <- data.frame(cyl = c(4, 8, 6), gear = c(3, 5, 4), carb = c(1, 8, 2), am = c(0, 1, 1),
                      wt = c(2.5, 3.5, 3.0), hp = c(100, 250, 150), qsec = c(16.2, 18.5, 20.1))
cases <- list(
  list(key = "factor_main", data = "mtcars", formula = "mpg ~ factor(am) + wt + (1 | cyl)"),
  list(key = "factor_noint", data = "mtcars", formula = "mpg ~ 0 + factor(gear) + (1 | cyl)"),
  list(key = "factor_minus1", data = "mtcars", formula = "mpg ~ factor(gear) - 1 + wt + (1 | cyl)"),
  list(key = "factor_interaction", data = "mtcars", formula = "mpg ~ wt * factor(cyl) + (1 | gear)"),
  list(key = "as_conversions", data = "mtcars", formula = "mpg ~ as.numeric(gear) + as.factor(carb) + (1 | cyl)"),
  list(key = "poly_names", data = "mtcars", formula = "mpg ~ poly(wt, 2) + (1 | cyl)"),
  list(key = "poly_raw_names", data = "mtcars", formula = "mpg ~ poly(wt, 2, raw = TRUE) + (1 | cyl)"),
  list(key = "bs_names", data = "mtcars", formula = "mpg ~ bs(wt, df = 4) + (1 | cyl)"),
  list(key = "deparse_names", data = "mtcars", formula = "mpg ~ exp(wt/3) + I(0.50*hp) + I(hp^2/1e5) + (1 | cyl)"),
  list(key = "factor_multidigit", data = "sleepstudy", formula = "Reaction ~ factor(Days + 1) + (1 | Subject)"),
  list(key = "factor_levels", data = "mtcars", formula = "mpg ~ factor(cyl, levels = c(8, 6, 4)) + wt + (1 | gear)"),
  list(key = "relevel", data = "mtcars", formula = "mpg ~ relevel(factor(cyl), ref = '8') + wt + (1 | gear)"),
  list(key = "log_base_round", data = "mtcars", formula = "mpg ~ log(wt, base = 2) + log(hp, 10) + round(qsec) + (1 | cyl)"),
  list(key = "contr_sum", data = "mtcars", formula = "mpg ~ C(factor(cyl), contr.sum) + wt + (1 | gear)"),
  list(key = "contr_kinds", data = "mtcars", formula = "mpg ~ C(factor(carb), contr.helmert) + C(factor(gear), contr.poly) + wt + (1 | cyl)"),
  list(key = "contr_treatment_sas", data = "mtcars", formula = "mpg ~ C(factor(cyl), contr.treatment) + C(factor(gear), contr.SAS) + (1 | carb)"),
  list(key = "contr_interaction", data = "mtcars", formula = "mpg ~ wt:C(factor(cyl), contr.sum) + (1 | gear)"),
  list(key = "comparisons", data = "mtcars", formula = "mpg ~ I(wt > 3) + I(hp > 120):wt + (1 | cyl)"),
  list(key = "ns_names", data = "mtcars", formula = "mpg ~ ns(wt, df = 3) + hp + (1 | cyl)"),
  list(key = "ns_slope", data = "sleepstudy", formula = "Reaction ~ ns(Days, 3) + (1 | Subject)"),
  list(key = "maths", data = "mtcars", formula = "mpg ~ pmin(hp, 150) + ifelse(wt > 3, 1, 0) + floor(qsec) + sin(wt) + (1 | cyl)"),
  list(key = "emmeans_factor", data = "mtcars", formula = "mpg ~ factor(cyl) + wt + (1 | gear)"),
  list(key = "poly_slope", data = "sleepstudy", formula = "Reaction ~ poly(Days, 2) + (poly(Days, 2) | Subject)"),
  list(key = "in_operator", data = "mtcars", formula = "mpg ~ factor(cyl) + wt %in% factor(cyl) + (1 | gear)"),
  list(key = "in_nested", data = "sleepstudy", formula = "Reaction ~ Days %in% Subject + (1 | Subject)"),
  list(key = "modulo", data = "mtcars", formula = "mpg ~ I(hp %% 7) + I(-qsec %% 3) + (1 | cyl)")
)
out <- list()
for (cs in cases) {
  d <- if (cs$data == "mtcars") mt else ss
  m <- tryCatch(lmer(as.formula(cs$formula), d, control = tight), error = function(e) NULL)
  if (is.null(m)) next
  res <- list(data = cs$data, formula = cs$formula, fixef_names = names(fixef(m)),
              fixef = unname(fixef(m)), reml = unname(REMLcrit(m)),
              cnms = lapply(getME(m, "cnms"), unname))
  if (cs$data == "mtcars") {
    nd <- newcars
    res$predict_population <- unname(predict(m, newdata = nd, re.form = NA))
  }
  if (grepl("factor\\(cyl\\)", cs$formula) || cs$key == "comparisons") {
    a3 <- anova(m, type = 3); a2 <- anova(m, type = 2)
    res$anova3 <- list(terms = rownames(a3), F = a3[["F value"]], p = a3[["Pr(>F)"]])
    res$anova2 <- list(terms = rownames(a2), F = a2[["F value"]], p = a2[["Pr(>F)"]])
  }
  if (cs$key == "emmeans_factor") {   # Kenward-Roger df, emmeans's default for lmer
    em <- as.data.frame(emmeans(m, "cyl"))
    res$emmeans <- list(cyl = as.numeric(as.character(em$cyl)), emmean = em$emmean, SE = em$SE,
                        df = em$df)
  }
  out[[cs$key]] <- res
}
out$newdata <- as.list(newcars)
# the natural-spline basis itself, and its linear extrapolation (R's predict.ns)
x <- c(1.5, 2.2, 3.1, 3.3, 4.8, 5.0, 6.7, 7.2, 8.8, 9.9)
b3 <- ns(x, df = 3)
out$ns_basis <- list(x = x, df3 = unname(b3[, ]), new = c(0, 5, 12),
                     df3_new = unname(predict(b3, c(0, 5, 12))[, ]),
                     df4_intercept = unname(ns(x, df = 4, intercept = TRUE)[, ]),
                     knots_3_6 = unname(ns(x, knots = c(3, 6))[, ]))
out[["_about"]] <- paste("make_r_calls.R,", R.version.string, ", lme4", packageVersion("lme4"),
                         ", lmerTest", packageVersion("lmerTest"))
write(toJSON(out, digits = NA, auto_unbox = FALSE, pretty = TRUE), "tests/reference/r_calls.json")
