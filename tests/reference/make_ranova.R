# lmerTest's ranova(): likelihood-ratio tests of the random-effect terms, each reduced
# (a slope left out of its term) or removed in turn (tests/test_ranova.py).
# Run from the repository root (R 4.2.2, lme4 1.1-31, lmerTest 3.1-3):
#   Rscript tests/reference/make_ranova.R
suppressPackageStartupMessages({ library(lmerTest); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
ss <- rd("sleepstudy.csv", "Subject")
pen <- rd("Penicillin.csv", c("plate", "sample"))
pastes <- rd("Pastes.csv", c("batch", "cask"))
mm <- read.csv("tests/reference/model_matrix.csv", stringsAsFactors = TRUE)
cases <- list(
  list(key = "slopes", data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)", reml = TRUE),
  list(key = "slopes_whole", data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)", reml = TRUE,
       reduce = FALSE),
  list(key = "uncorrelated", data = "sleepstudy", formula = "Reaction ~ Days + (Days || Subject)", reml = TRUE),
  list(key = "intercept_ml", data = "sleepstudy", formula = "Reaction ~ Days + (1 | Subject)", reml = FALSE),
  list(key = "intercept_reml", data = "sleepstudy", formula = "Reaction ~ Days + (1 | Subject)", reml = TRUE),
  list(key = "nested", data = "Pastes", formula = "strength ~ 1 + (1 | batch/cask)", reml = TRUE),
  list(key = "crossed", data = "Penicillin", formula = "diameter ~ 1 + (1 | plate) + (1 | sample)", reml = TRUE),
  list(key = "quadratic", data = "sleepstudy", formula = "Reaction ~ Days + (1 + Days + I(Days^2) | Subject)",
       reml = TRUE),
  list(key = "factor_slope", data = "model_matrix", formula = "y ~ x + (1 + flag | s) + (0 + x | s)", reml = TRUE),
  # Days in (Days | Subject) leaves (1 | Subject) twice: R's formula keeps one (npar 4, Df 3)
  list(key = "merged_intercepts", data = "sleepstudy",
       formula = "Reaction ~ Days + (1 | Subject) + (Days | Subject)", reml = TRUE)
)
out <- list()
for (cs in cases) {
  d <- switch(cs$data, sleepstudy = ss, Penicillin = pen, Pastes = pastes, model_matrix = mm)
  m <- lmer(as.formula(cs$formula), d, REML = cs$reml, control = tight)
  reduce <- if (is.null(cs$reduce)) TRUE else cs$reduce
  r <- ranova(m, reduce.terms = reduce)
  out[[cs$key]] <- list(data = cs$data, formula = cs$formula, reml = cs$reml, reduce_terms = reduce,
                        rows = rownames(r), npar = r$npar, logLik = r$logLik, AIC = r$AIC,
                        LRT = r$LRT, Df = r$Df, p = r[["Pr(>Chisq)"]])
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           "tests/reference/ranova.json")
