# R's fixed-effect design (model.matrix column names and order) and lme4's fits for
# formulas with logical predictors, interactions written out of order and factor-by-factor
# terms (tests/test_r_model_matrix.py). The data are simulated here with a fixed seed and
# written beside the JSON (model_matrix.csv); the fits read that CSV back, so the rows,
# levels and logicals are the ones pandas reads.
# Run from the repository root: Rscript tests/reference/make_model_matrix.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })

set.seed(20261203)
n <- 120
d <- data.frame(
  s = rep(sprintf("s%02d", 1:12), each = 10),
  f = sample(c("a", "b", "c"), n, replace = TRUE),
  g = sample(c("x", "y", "z"), n, replace = TRUE),
  x = round(rnorm(n), 3),
  flag = sample(c(TRUE, FALSE), n, replace = TRUE)
)
u <- rnorm(12, sd = 0.7)
eff_f <- c(a = 0, b = 0.5, c = -0.4); eff_g <- c(x = 0, y = 0.3, z = -0.6)
d$y <- round(1 + 0.8 * d$x + 0.6 * d$flag - 0.5 * d$x * d$flag + eff_f[d$f] + eff_g[d$g] +
               0.4 * d$x * (d$f == "b") + u[as.integer(factor(d$s))] + rnorm(n, sd = 0.8), 4)
write.csv(d, "tests/reference/model_matrix.csv", row.names = FALSE)

d <- read.csv("tests/reference/model_matrix.csv", stringsAsFactors = TRUE)
stopifnot(is.logical(d$flag))
formulas <- c(
  "y ~ flag + (1 | s)",
  "y ~ 0 + flag + (1 | s)",
  "y ~ x:flag + (1 | s)",
  "y ~ flag + x:flag + (1 | s)",
  "y ~ x + x:flag + (1 | s)",
  "y ~ flag * x + (1 | s)",
  "y ~ x * flag + (1 | s)",
  "y ~ flag * f + (1 | s)",
  "y ~ f + flag:f + (1 | s)",
  "y ~ flag + (flag | s)",
  "y ~ x + (0 + flag | s)",
  "y ~ x + (x + f:x | s)",
  "y ~ flag + (x * flag | s)",
  "y ~ x + f:x + (1 | s)",
  "y ~ x:f + (1 | s)",
  "y ~ f + x:f + (1 | s)",
  "y ~ f * x + (1 | s)",
  "y ~ f * g + (1 | s)",
  "y ~ x * f * g + (1 | s)",
  "y ~ flag * x + f * g + (1 | s)",
  "y ~ f:g + (1 | s)"
)
fits <- lapply(formulas, function(text) {
  fo <- as.formula(text)
  m <- lmer(fo, data = d, REML = TRUE,
            control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 2e-4, rhoend = 1e-10)))
  mm <- model.matrix(lme4::nobars(fo), d)
  list(formula = unbox(text),
       model_matrix = colnames(mm),
       fixef_names = names(fixef(m)),
       fixef = unname(fixef(m)),
       se = unname(sqrt(diag(as.matrix(vcov(m))))),
       reml = unbox(as.numeric(REMLcrit(m))),
       random_columns = unname(getME(m, "cnms")))
})
out <- list(
  `_about` = paste("R", getRversion(), "lme4", as.character(packageVersion("lme4")),
                   "lmer(REML) on tests/reference/model_matrix.csv (simulated in the script, seed",
                   "20261203; flag logical, f and g factors, x numeric, s groups): colnames of",
                   "model.matrix(nobars(formula)), names(fixef), fixef, SEs, REML criterion, cnms.",
                   "Script: tests/reference/make_model_matrix.R"),
  fits = fits
)
write_json(out, "tests/reference/model_matrix.json", auto_unbox = FALSE, digits = NA, pretty = TRUE)
