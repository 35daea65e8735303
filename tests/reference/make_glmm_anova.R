# car 3.1's Anova() of glmer fits (Wald chi-square tests, types 2 and 3; type 3 with
# sum-to-zero contrasts) for ml.anova of GLMMs (tests/test_glmm_anova.py).
# From the repository root: Rscript tests/reference/make_glmm_anova.R
suppressMessages({library(lme4); library(car); library(jsonlite)})
source("tests/reference/read_data.R")
cbpp <- rd("cbpp.csv", c("herd", "period"))
grouse <- rd("grouseticks.csv", c("BROOD", "LOCATION", "YEAR"))
set.seed(11)
n <- 300
sim <- data.frame(a = sample(c("a1", "a2", "a3"), n, TRUE), b = sample(c("b1", "b2"), n, TRUE),
                  g = sample(sprintf("g%02d", 1:20), n, TRUE), x = rnorm(n))
eta <- -0.3 + 0.6 * (sim$a == "a2") - 0.4 * (sim$b == "b2") + 0.8 * (sim$a == "a3") * (sim$b == "b2") +
  0.5 * sim$x + rnorm(20, sd = 0.7)[as.integer(factor(sim$g))]
sim$y <- rbinom(n, 1, plogis(eta))
write.csv(sim, "tests/reference/glmm_anova_sim.csv", row.names = FALSE)
sim <- rd("glmm_anova_sim.csv", c("a", "b", "g"), path = "tests/reference/")
wald <- function(tab) {
  tab <- tab[rownames(tab) != "(Intercept)", , drop = FALSE]
  list(rows = I(rownames(tab)), Chisq = I(tab$Chisq), Df = I(tab$Df), p = I(tab[["Pr(>Chisq)"]]))
}
cases <- list(
  list(key = "cbpp", data = "cbpp", family = "binomial",
       formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"),
  list(key = "poisson", data = "grouseticks", family = "poisson", formula = "TICKS ~ YEAR + cHEIGHT + (1 | BROOD)"),
  list(key = "interaction", data = "sim", family = "bernoulli", formula = "y ~ a * b + x + (1 | g)")
)
out <- list()
for (cs in cases) {
  d <- switch(cs$data, cbpp = cbpp, grouseticks = grouse, sim = sim)
  fam <- if (cs$family == "poisson") poisson else binomial
  m <- glmer(as.formula(cs$formula), d, family = fam)
  op <- options(contrasts = c("contr.sum", "contr.poly"))
  msum <- glmer(as.formula(cs$formula), d, family = fam)
  options(op)
  out[[cs$key]] <- c(cs[c("data", "family", "formula")],
                     list(type2 = wald(Anova(m, type = 2)), type3 = wald(Anova(msum, type = 3))))
}
write_json(out, "tests/reference/glmm_anova.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
