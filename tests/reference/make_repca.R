# lme4's rePCA(): principal components of each grouping factor's random effects
# (tests/test_repca.py). Run from the repository root (R 4.2.2, lme4 1.1-31):
#   Rscript tests/reference/make_repca.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
ss <- rd("sleepstudy.csv", "Subject")
pen <- rd("Penicillin.csv", c("plate", "sample"))
cbpp <- rd("cbpp.csv", c("herd", "period"))
one <- function(m, data, formula, family = "gaussian") {
  r <- rePCA(m)
  list(data = data, formula = formula, family = family,
       groups = lapply(r, function(p) list(sdev = p$sdev, rotation = unname(as.matrix(p$rotation)))))
}
f <- list(slopes = "Reaction ~ Days + (Days | Subject)", split = "Reaction ~ Days + (Days || Subject)",
          crossed = "diameter ~ 1 + (1 | plate) + (1 | sample)",
          glmm_slopes = "cbind(incidence, size - incidence) ~ period + (1 + size | herd)")
out <- list(
  slopes = one(lmer(as.formula(f$slopes), ss, control = tight), "sleepstudy", f$slopes),
  split = one(lmer(as.formula(f$split), ss, control = tight), "sleepstudy", f$split),
  crossed = one(lmer(as.formula(f$crossed), pen, control = tight), "Penicillin", f$crossed),
  glmm_slopes = one(glmer(as.formula(f$glmm_slopes), cbpp, binomial), "cbpp",   # glmer's defaults, which ours replays
                    f$glmm_slopes, "binomial")
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/repca.json")
