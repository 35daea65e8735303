# F tests and intervals of linear models (R's lm), as ml.anova / ml.drop1 / ml.confint
# give them for fits without group terms (tests/test_linear_inference.py).
# Run from the repository root: Rscript tests/reference/make_linear_inference.R
suppressMessages({library(car); library(jsonlite)})
source("tests/reference/read_data.R")
mtcars_d <- rd("mtcars.csv")[-1]   # its first column: the row names
cake <- rd("cake.csv", c("replicate", "recipe", "temperature"))
ss <- rd("sleepstudy.csv", "Subject")
# an unbalanced two-factor design with an empty-ish cell and a covariate
set.seed(24)
n <- 90
sim <- data.frame(a = sample(c("lo", "mid", "hi"), n, TRUE, prob = c(.5, .3, .2)),
                  b = sample(c("x", "y"), n, TRUE, prob = c(.7, .3)), z = rnorm(n))
sim$y <- 1 + (sim$a == "hi") * 0.8 + (sim$b == "y") * 0.5 + 0.3 * sim$z + rnorm(n)
sim$w <- runif(n, 0.5, 2)
write.csv(sim, "tests/reference/linear_inference_sim.csv", row.names = FALSE)
sim <- rd("linear_inference_sim.csv", c("a", "b"), path = "tests/reference/")

ftab <- function(tab, drop = character()) {
  tab <- tab[setdiff(rownames(tab), c("Residuals", "(Intercept)", "<none>", drop)), , drop = FALSE]
  f <- if ("F value" %in% names(tab)) tab[["F value"]] else tab[["F"]]
  list(rows = I(rownames(tab)), Df = I(tab[["Df"]]), F = I(f),
       p = I(tab[[grep("^Pr", names(tab), value = TRUE)]]))
}
cases <- list(
  list(key = "mtcars", data = "mtcars", formula = "mpg ~ wt * factor(cyl) + hp"),
  list(key = "cake", data = "cake", formula = "angle ~ recipe * temp"),
  list(key = "weighted", data = "sim", formula = "y ~ a * b + z", weights = "w"),
  list(key = "sim", data = "sim", formula = "y ~ a * b + z"),
  list(key = "poly", data = "sleepstudy", formula = "Reaction ~ poly(Days, 2)")
)
out <- list()
for (cs in cases) {
  d <- switch(cs$data, mtcars = mtcars_d, cake = cake, sim = sim, sleepstudy = ss)
  f <- as.formula(cs$formula)
  w <- if (is.null(cs$weights)) NULL else d[[cs$weights]]
  m <- if (is.null(w)) lm(f, d) else lm(f, d, weights = w)
  op <- options(contrasts = c("contr.sum", "contr.poly"))
  msum <- if (is.null(w)) lm(f, d) else lm(f, d, weights = w)
  options(op)
  ci95 <- confint(m)
  ci90 <- confint(m, level = 0.9)
  out[[cs$key]] <- list(
    data = cs$data, formula = cs$formula, weights = if (is.null(cs$weights)) NA else cs$weights,
    type1 = ftab(anova(m)), type2 = ftab(Anova(m, type = 2)), type3 = ftab(Anova(msum, type = 3)),
    drop1 = ftab(drop1(m, test = "F")),
    confint = list(rows = I(rownames(ci95)), lower95 = I(ci95[, 1]), upper95 = I(ci95[, 2]),
                   lower90 = I(ci90[, 1]), upper90 = I(ci90[, 2])))
}
# contest: a joint F test of two rows with a non-zero rhs, and the rows' t tests
m <- lm(mpg ~ wt * factor(cyl) + hp, mtcars_d)
L <- rbind(as.numeric(names(coef(m)) == "wt"), as.numeric(names(coef(m)) == "hp"))
rhs <- c(-3, 0)
h <- linearHypothesis(m, L, rhs)
est <- drop(L %*% coef(m)); se <- sqrt(diag(L %*% vcov(m) %*% t(L)))
tval <- (est - rhs) / se
out$contest <- list(columns = I(names(coef(m))), L = L, rhs = I(rhs), F = h$F[2], NumDF = h$Df[2],
                    DenDF = h$Res.Df[2], p = h[["Pr(>F)"]][2], estimate = I(est), std_error = I(se),
                    t = I(tval), p_t = I(2 * pt(abs(tval), df.residual(m), lower.tail = FALSE)))
write_json(out, "tests/reference/linear_inference.json", digits = NA, auto_unbox = TRUE,
           na = "null", pretty = FALSE)
