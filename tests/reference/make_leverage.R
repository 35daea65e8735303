# lme4's hatvalues() and cooks.distance() of linear mixed models, R's of lm (weighted,
# crossed, nested, a random slope; tests/test_leverage.py).
# Run from the repository root (R 4.2.2, lme4 1.1-31):  Rscript tests/reference/make_leverage.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
ss <- rd("sleepstudy.csv", "Subject")
pen <- rd("Penicillin.csv", c("plate", "sample"))
pastes <- rd("Pastes.csv", c("batch", "cask"))
ig <- read.csv("tests/reference/inverse_gaussian.csv")
ig$subject <- fac(ig$subject); ig$item <- fac(ig$item)
num <- function(x) unname(as.numeric(x))
one <- function(m) list(hat = num(hatvalues(m)), cooks = num(cooks.distance(m)))
out <- list(
  slopes = c(list(data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)", reml = TRUE),
             one(lmer(Reaction ~ Days + (Days | Subject), ss, control = tight))),
  slopes_ml = c(list(data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)", reml = FALSE),
                one(lmer(Reaction ~ Days + (Days | Subject), ss, REML = FALSE, control = tight))),
  crossed = c(list(data = "Penicillin", formula = "diameter ~ 1 + (1 | plate) + (1 | sample)", reml = TRUE),
              one(lmer(diameter ~ 1 + (1 | plate) + (1 | sample), pen, control = tight))),
  nested = c(list(data = "Pastes", formula = "strength ~ 1 + (1 | batch/cask)", reml = TRUE),
             one(lmer(strength ~ 1 + (1 | batch/cask), pastes, control = tight))),
  weighted = c(list(data = "inverse_gaussian", formula = "rt ~ cond + x + (1 | subject) + (1 | item)",
                    reml = TRUE, weights = "w"),
               one(lmer(rt ~ cond + x + (1 | subject) + (1 | item), ig, weights = w, control = tight))),
  lm = c(list(data = "inverse_gaussian", formula = "rt ~ cond * x", reml = TRUE, weights = "w"),
         one(lm(rt ~ cond * x, ig, weights = w)))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/leverage.json")
