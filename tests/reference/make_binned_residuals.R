# performance::binned_residuals of glm and glmer fits of 0/1 responses, for
# ml.binned_residuals: tests/test_binned_residuals.py. Run from the repository root (no
# network; R 4.2.2, lme4 1.1-31, performance 0.10.2):
#   Rscript tests/reference/make_binned_residuals.R
# GLMMs with tolPwrss 1e-12 and BOBYQA to rhoend 1e-9 (the optimum, as ours).
suppressPackageStartupMessages({library(lme4); library(performance); library(jsonlite)})
source("tests/reference/read_data.R")  # dir, fac(), rd()
gctl <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(rhoend = 1e-9, maxfun = 1e5))
cars <- rd("mtcars.csv")[, -1]   # the first column: the row names
va <- rd("VerbAgg.csv.gz", c("id", "item", "resp", "btype", "situ", "mode", "Gender"))
va$y <- as.integer(va$r2 == "Y")
# a simulated Bernoulli GLMM with a continuous predictor: its fitted probabilities are
# distinct (VerbAgg's are not: rows of respondents with the same answers and covariates
# tie, and a tie at a bin's break that the two optimizers order differently in the 7th
# decimal moves a row between bins, so VerbAgg is binned by its predictor only)
set.seed(20261204)
sim <- data.frame(x = round(rnorm(900, 50, 15), 2), g = sprintf("g%02d", sample(1:40, 900, TRUE)))
u <- rnorm(40, sd = 0.8)
sim$y <- rbinom(900, 1, plogis(-0.5 + 0.04 * (sim$x - 50) + u[as.integer(factor(sim$g))]))
write.csv(sim, "tests/reference/binned_residuals_sim.csv", row.names = FALSE)
sim <- rd("binned_residuals_sim.csv", "g", path = "tests/reference/")
fits <- list(
  cars = glm(am ~ wt, cars, family = binomial),
  cars2 = glm(vs ~ hp + wt, cars, family = binomial),
  verbagg = glmer(y ~ Anger + Gender + btype + situ + (1 | id) + (1 | item), va, family = binomial,
                  control = gctl),
  sim = glmer(y ~ x + (1 | g), sim, family = binomial, control = gctl)
)
models <- list(
  cars = list(formula = "am ~ wt", data = "mtcars"),
  cars2 = list(formula = "vs ~ hp + wt", data = "mtcars"),
  verbagg = list(formula = "y ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)", data = "VerbAgg"),
  sim = list(formula = "y ~ x + (1 | g)", data = "binned_residuals_sim.csv")
)
cases <- list(
  list(id = "cars", model = "cars", args = list()),
  list(id = "cars_term", model = "cars", args = list(term = "wt")),
  list(id = "cars2_bins", model = "cars2", args = list(n_bins = 4)),
  list(id = "verbagg_term", model = "verbagg", args = list(term = "Anger")),
  list(id = "sim", model = "sim", args = list()),
  list(id = "sim_bins", model = "sim", args = list(n_bins = 12)),
  list(id = "sim_term", model = "sim", args = list(term = "x", n_bins = 20))
)
for (i in seq_along(cases)) {
  a <- cases[[i]]$args
  b <- binned_residuals(fits[[cases[[i]]$model]], term = a$term, n_bins = a$n_bins)
  cases[[i]]$table <- list(xbar = b$xbar, ybar = b$ybar, n = b$n, x_lo = b$x.lo, x_hi = b$x.hi,
                           se = b$se, ci_low = b$CI_low, ci_high = b$CI_high, inside = b$group == "yes")
  cases[[i]]$share_inside <- attr(b, "resid_ok")
}
out <- list(versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                            performance = as.character(packageVersion("performance"))),
            models = models, cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/binned_residuals.json")
