# lmerTest's drop1(): F tests of deleting each marginal fixed-effect term (R's drop.scope),
# Satterthwaite and Kenward-Roger (tests/test_drop1.py). Data: cake, sleepstudy and
# model_matrix.csv (make_model_matrix.R). Run from the repository root (R 4.2.2, lme4
# 1.1-31, lmerTest 3.1-3, pbkrtest 0.5.1):  Rscript tests/reference/make_drop1.R
suppressPackageStartupMessages({ library(lmerTest); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
cake <- rd("cake.csv", c("recipe", "replicate"))
cake$temperature <- factor(cake$temperature, levels = sort(unique(cake$temperature)))
ss <- rd("sleepstudy.csv", "Subject")
mm <- read.csv("tests/reference/model_matrix.csv", stringsAsFactors = TRUE)
cases <- list(
  list(data = "cake", formula = "angle ~ recipe * temperature + (1 | recipe:replicate)"),
  list(data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)"),
  list(data = "model_matrix", formula = "y ~ x + f + g + (1 | s)"),
  list(data = "model_matrix", formula = "y ~ x * f + g + (1 | s)"),
  list(data = "model_matrix", formula = "y ~ x + I(2 * x) + f + (1 | s)")
)
out <- list()
for (cs in cases) {
  d <- switch(cs$data, cake = cake, sleepstudy = ss, model_matrix = mm)
  m <- lmer(as.formula(cs$formula), d, control = tight)
  res <- list(data = cs$data, formula = cs$formula)
  for (ddf in c("Satterthwaite", "Kenward-Roger")) {
    a <- drop1(m, ddf = ddf)
    res[[ddf]] <- list(terms = rownames(a), NumDF = a$NumDF, DenDF = a$DenDF, F = a[["F value"]],
                       p = a[["Pr(>F)"]])
  }
  out[[length(out) + 1]] <- res
}
writeLines(toJSON(out, auto_unbox = FALSE, digits = NA, pretty = TRUE), "tests/reference/drop1.json")
