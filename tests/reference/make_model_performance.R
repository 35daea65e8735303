# performance 0.10.2's model_performance() of lme4 fits and linear models, for
# ml.model_performance (tests/test_model_performance.py). From the repository root:
#   Rscript tests/reference/make_model_performance.R
suppressMessages({library(lme4); library(performance); library(jsonlite)})
source("tests/reference/read_data.R")
ss <- rd("sleepstudy.csv", "Subject")
cbpp <- rd("cbpp.csv", c("herd", "period"))
grouse <- rd("grouseticks.csv", c("BROOD", "LOCATION", "YEAR"))
mt <- rd("mtcars.csv")[-1]
cbpp_any <- within(cbpp, any <- as.integer(incidence > 0))   # a 0/1 response per herd-period
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
# glmer keeps its default control: bobyqa at rhoend 1e-12 in both stages stops 0.07
# log-likelihood units short of the optimum on the Poisson model here
cases <- list(
  list(key = "slopes_reml", data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)",
       method = "reml", family = "gaussian"),
  list(key = "slopes_reml_ml_estimator", data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)",
       method = "reml", family = "gaussian", estimator = "ML"),
  list(key = "intercept_ml", data = "sleepstudy", formula = "Reaction ~ Days + (1 | Subject)",
       method = "ml", family = "gaussian"),
  list(key = "cbpp", data = "cbpp", formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       method = "ml", family = "binomial"),
  list(key = "bernoulli", data = "cbpp_any", formula = "any ~ period + (1 | herd)", method = "ml",
       family = "bernoulli"),
  list(key = "poisson", data = "grouseticks", formula = "TICKS ~ YEAR + cHEIGHT + (1 | BROOD)",
       method = "ml", family = "poisson"),
  # glmer.nb: R² and ICC from log(1 + 1/lambda + 1/theta), the null model keeping theta
  list(key = "negbin", data = "grouseticks", formula = "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)",
       method = "ml", family = "negativebinomial"),
  list(key = "lm", data = "mtcars", formula = "mpg ~ wt + factor(cyl)", method = "ml",
       family = "gaussian"),
  list(key = "lm_reml", data = "mtcars", formula = "mpg ~ wt * hp", method = "reml",
       family = "gaussian")
)
out <- list()
for (cs in cases) {
  d <- switch(cs$data, sleepstudy = ss, cbpp = cbpp, cbpp_any = cbpp_any, grouseticks = grouse,
              mtcars = mt)
  f <- as.formula(cs$formula)
  m <- if (!grepl("|", cs$formula, fixed = TRUE)) lm(f, d) else if (cs$family == "gaussian")
    lmer(f, d, REML = cs$method == "reml", control = tight) else if (cs$family == "negativebinomial")
    glmer.nb(f, d) else glmer(f, d, family = if (cs$family == "poisson") poisson else binomial)
  estimator <- if (is.null(cs$estimator)) "REML" else cs$estimator
  p <- suppressMessages(as.list(as.data.frame(model_performance(m, estimator = estimator))))
  out[[cs$key]] <- c(cs[c("data", "formula", "method", "family")], list(estimator = estimator, values = p))
}
write_json(out, "tests/reference/model_performance.json", digits = NA, auto_unbox = TRUE,
           na = "null", pretty = TRUE)
