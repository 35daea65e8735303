# car 3.1's deltaMethod() for ml.hypothesis of REML/ML fits (tests/test_wald_hypothesis.py).
# From the repository root: Rscript tests/reference/make_wald_hypothesis.R
suppressMessages({library(lme4); library(car); library(jsonlite)})
source("tests/reference/read_data.R")
ss <- rd("sleepstudy.csv", "Subject")
cbpp <- rd("cbpp.csv", c("herd", "period"))
mt <- rd("mtcars.csv")[-1]
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
# each hypothesis: ours (lme4 names, Intercept) and car's (b0, b1, ... for the coefficients)
cases <- list(
  list(key = "lmm", data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)", method = "reml",
       family = "gaussian", ours = c("exp(Days / 10) - 1 = 0", "Intercept / Days = 20", "Days = 10"),
       car = c("exp(b1 / 10) - 1", "b0 / b1 - 20", "b1 - 10")),
  list(key = "glmm", data = "cbpp", formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       method = "ml", family = "binomial", ours = c("period2 - period3 = 0", "exp(period4) = 0.5"),
       car = c("b1 - b2", "exp(b3) - 0.5")),
  list(key = "lm", data = "mtcars", formula = "mpg ~ wt * hp", method = "ml", family = "gaussian",
       ours = c("wt + 50 * `wt:hp` = 0", "sqrt(hp^2) = 0"), car = c("b1 + 50 * b3", "sqrt(b2^2)"))
)
out <- list()
for (cs in cases) {
  d <- switch(cs$data, sleepstudy = ss, cbpp = cbpp, mtcars = mt)
  f <- as.formula(cs$formula)
  m <- if (cs$key == "lm") lm(f, d) else if (cs$family == "gaussian")
    lmer(f, d, REML = cs$method == "reml", control = tight) else glmer(f, d, family = binomial)
  k <- length(if (cs$key == "lm") coef(m) else fixef(m))
  res <- lapply(cs$car, function(g) deltaMethod(m, g, parameterNames = paste0("b", 0:(k - 1))))
  out[[cs$key]] <- c(cs[c("data", "formula", "method", "family")], list(
    hypotheses = I(cs$ours), estimate = sapply(res, `[[`, "Estimate"), se = sapply(res, `[[`, "SE"),
    lower = sapply(res, `[[`, "2.5 %"), upper = sapply(res, `[[`, "97.5 %")))
}
write_json(out, "tests/reference/wald_hypothesis.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
