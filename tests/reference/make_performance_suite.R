# Cases ported from the R `performance` package's test suite (easystats/performance,
# tests/testthat/test-icc.R, test-r2_nakagawa.R, test-check_collinearity.R,
# test-check_singularity.R, test-check_convergence.R, test-r2.R), for what multilevel
# provides: ml.icc, ml.r2, ml.vif and the singularity and convergence checks:
# tests/test_performance_suite.py. Each case names the performance test file it comes
# from ("adversarial" for variants added here: singular fits, nested and crossed terms,
# uncorrelated and factor slopes, weights, offsets, other links).
# Run from the repository root (no network; R 4.2.2 with performance and insight from
# Debian; their versions are recorded in the JSON):
#   Rscript tests/reference/make_performance_suite.R
# Simulated data are written to tests/reference/performance_suite_*.csv and read back
# before fitting, so R and Python fit the same numbers.
suppressPackageStartupMessages({library(lme4); library(performance); library(jsonlite)})
source("tests/reference/read_data.R")  # dir, fac(), rd()
ref <- "tests/reference/"
put <- function(d, name, factors = character()) {
  file <- paste0("performance_suite_", name, ".csv")
  write.csv(d, paste0(ref, file), row.names = FALSE)
  rd(file, factors, path = ref)
}
ss <- rd("sleepstudy.csv", "Subject")
iris <- rd("iris.csv", "Species")
cbpp <- rd("cbpp.csv", c("herd", "period"))
cake <- rd("cake.csv", c("replicate", "recipe", "temperature"))
pen <- rd("Penicillin.csv", c("plate", "sample"))
pastes <- rd("Pastes.csv", c("batch", "cask", "sample"))
grouse <- rd("grouseticks.csv", c("BROOD", "YEAR", "LOCATION"))
sal <- rd("Salamanders.csv", c("site", "mined", "spp"))
dye2 <- rd("lme4_suite_dyestuff2.csv", "Batch", path = ref)   # lme4's Dyestuff2 (make_lme4_suite.R)
mtcars <- rd("mtcars.csv"); names(mtcars)[1] <- "car"  # the unnamed row-name column

## ---- data -------------------------------------------------------------------------
# test-icc.R: sleepstudy with a random 5-level grp (set.seed(12345)), for by_group ICCs
set.seed(12345)
grp <- sample.int(5, size = 180, replace = TRUE)
ss_grp <- put(data.frame(Reaction = ss$Reaction, Days = ss$Days, Subject = as.character(ss$Subject),
                         grp = paste0("g", grp)), "sleep_grp", c("Subject", "grp"))
# a factor in a random slope: the second half of the study as a two-level factor
ss_f <- put(data.frame(Reaction = ss$Reaction, Days = ss$Days, Subject = as.character(ss$Subject),
                       phase = ifelse(ss$Days >= 5, "late", "early")), "sleep_phase",
            c("Subject", "phase"))
# singular: no between-group variance at all (lme4's Dyestuff2-like), and a slope whose
# variance is 0 (every group has the same slope)
set.seed(7)
g <- rep(sprintf("g%02d", 1:12), each = 8); x <- rep(0:7, 12)
sing <- put(data.frame(g = g, x = x, y = 2 + 0.5 * x + rnorm(96),
                       ys = 2 + rep(rnorm(12, sd = 2), each = 8) + 0.5 * x + rnorm(96, sd = 0.5)),
            "singular", "g")
# bernoulli with a random slope
set.seed(3)
n <- 600; gb <- rep(sprintf("b%02d", 1:30), each = 20); xb <- rnorm(n)
u0 <- rep(rnorm(30, sd = 1), each = 20); u1 <- rep(rnorm(30, sd = 0.5), each = 20)
bern <- put(data.frame(g = gb, x = xb, y = rbinom(n, 1, plogis(-0.3 + 0.8 * xb + u0 + u1 * xb))),
            "bernoulli", "g")
# Poisson with an offset (log exposure) and a random slope
set.seed(11)
n <- 400; gp <- rep(sprintf("p%02d", 1:20), each = 20); xp <- runif(n); expo <- runif(n, 1, 5)
v0 <- rep(rnorm(20, sd = 0.4), each = 20); v1 <- rep(rnorm(20, sd = 0.3), each = 20)
pois <- put(data.frame(g = gp, x = xp, expo = expo,
                       y = rpois(n, expo * exp(1 + 0.7 * xp + v0 + v1 * xp))), "poisson", "g")
pois$w <- round(runif(nrow(pois), 0.5, 2), 3)   # prior weights for the weighted Poisson case
pois <- put(pois, "poisson", "g")
# grouseticks with cHEIGHT missing in 10 rows (the fit drops them; insight's null model,
# refitted by update() without cHEIGHT, does not)
grouse_na <- grouse; grouse_na$cHEIGHT[1:10] <- NA
grouse_na <- put(grouse_na, "grouse_na", c("BROOD", "YEAR", "LOCATION"))
# known inverse-variance weights (lme4's priorWeights.R design, small)
set.seed(2)
n <- 120; gw <- sample(sprintf("w%02d", 1:15), n, replace = TRUE); xw <- runif(n); w <- runif(n, 0.2, 1)
wts <- put(data.frame(g = gw, x = xw, w = w,
                      y = rnorm(15)[as.integer(factor(gw))] + xw + rnorm(n) / sqrt(w)), "weights", "g")
# datasets::npk (test-check_collinearity.R), factors N, P, K as 0/1 levels
npk_d <- put(data.frame(yield = npk$yield, N = as.character(npk$N), P = as.character(npk$P),
                        K = as.character(npk$K), block = as.character(npk$block)), "npk",
             c("N", "P", "K", "block"))

datas <- list(sleepstudy = ss, iris = iris, cbpp = cbpp, cake = cake, Penicillin = pen,
              Pastes = pastes, grouseticks = grouse, Salamanders = sal, mtcars = mtcars,
              sleep_grp = ss_grp, sleep_phase = ss_f, singular = sing, bernoulli = bern,
              poisson = pois, weights = wts, npk = npk_d, grouse_na = grouse_na, dyestuff2 = dye2)

## ---- mixed models ---------------------------------------------------------------------
num <- function(x) if (is.null(x) || length(x) == 0) NA else unname(as.numeric(x))
quiet <- function(expr) {
  msgs <- character()
  val <- withCallingHandlers(tryCatch(expr, error = function(e) {msgs <<- c(msgs, conditionMessage(e)); NULL}),
                             warning = function(w) {msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning")},
                             message = function(m) {msgs <<- c(msgs, conditionMessage(m)); invokeRestart("muffleMessage")})
  list(value = val, messages = msgs)
}
C <- function(source, data, formula, method = "reml", family = "gaussian", link = NULL,
              weights = NULL, vif = FALSE)
  list(source = source, data = data, formula = formula, method = method, family = family,
       link = link, weights = weights, vif = vif)
cases <- list(
  iris_ri = C("test-icc.R, test-r2_nakagawa.R", "iris", "Sepal.Length ~ Petal.Length + (1 | Species)"),
  iris_ri_ml = C("test-r2_nakagawa.R", "iris", "Sepal.Length ~ Petal.Length + (1 | Species)", "ml"),
  iris_two = C("test-check_collinearity.R", "iris",
               "Sepal.Length ~ Petal.Length + Petal.Width + Sepal.Width + (1 | Species)", vif = TRUE),
  sleep_null = C("test-icc.R", "sleepstudy", "Reaction ~ 1 + (1 | Subject)"),
  sleep_ri = C("test-r2.R", "sleepstudy", "Reaction ~ Days + (1 | Subject)"),
  sleep_slope = C("test-icc.R", "sleepstudy", "Reaction ~ Days + (1 + Days | Subject)"),
  sleep_slope_ml = C("test-icc.R", "sleepstudy", "Reaction ~ Days + (1 + Days | Subject)", "ml"),
  sleep_offset = C("adversarial", "sleepstudy", "Reaction ~ Days + offset(2 * Days) + (1 + Days | Subject)"),
  sleep_uncorr = C("adversarial", "sleepstudy", "Reaction ~ Days + (Days || Subject)"),
  sleep_two_terms = C("adversarial", "sleepstudy", "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)"),
  sleep_grp = C("test-icc.R", "sleep_grp", "Reaction ~ Days + (1 | grp) + (1 | Subject)"),
  sleep_phase = C("adversarial", "sleep_phase", "Reaction ~ Days + (1 + phase | Subject)"),
  sleep_phase_fixed = C("adversarial", "sleep_phase", "Reaction ~ phase + (1 + phase | Subject)"),
  sleep_phase_nocor = C("adversarial", "sleep_phase", "Reaction ~ phase + (1 | Subject) + (0 + phase | Subject)"),
  penicillin = C("adversarial", "Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
  pastes = C("adversarial", "Pastes", "strength ~ 1 + (1 | batch/cask)"),
  cake = C("adversarial", "cake", "angle ~ recipe * temperature + (1 | recipe:replicate)"),
  cake_add = C("test-check_collinearity.R", "cake", "angle ~ recipe + temperature + (1 | recipe:replicate)",
               vif = TRUE),
  small_ri = C("test-check_singularity.R", "singular", "y ~ x + (1 | g)"),
  singular_ri = C("test-check_singularity.R", "dyestuff2", "Yield ~ 1 + (1 | Batch)"),
  singular_slope = C("test-check_singularity.R", "singular", "ys ~ x + (1 + x | g)"),
  weights = C("adversarial", "weights", "y ~ x + (1 | g)", weights = "w"),
  weights_ml = C("adversarial", "weights", "y ~ x + (1 | g)", "ml", weights = "w"),
  cbpp_logit = C("test-r2_nakagawa.R", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                 "ml", "binomial"),
  cbpp_probit = C("adversarial", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                  "ml", "binomial", "probit"),
  cbpp_cloglog = C("adversarial", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                   "ml", "binomial", "cloglog"),
  bernoulli_slope = C("adversarial", "bernoulli", "y ~ x + (1 + x | g)", "ml", "binomial"),
  bernoulli_ri = C("test-r2_nakagawa.R", "bernoulli", "y ~ x + (1 | g)", "ml", "binomial"),
  grouse = C("test-r2_nakagawa.R", "grouseticks", "TICKS ~ YEAR + cHEIGHT + (1 | BROOD)", "ml", "poisson",
             vif = TRUE),
  grouse_nested = C("adversarial", "grouseticks", "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION/BROOD)", "ml",
                    "poisson"),
  salamanders = C("test-check_collinearity.R", "Salamanders", "count ~ spp + mined + cover + (1 | site)",
                  "ml", "poisson", vif = TRUE),
  poisson_offset = C("adversarial", "poisson", "y ~ x + offset(log(expo)) + (1 | g)", "ml", "poisson"),
  poisson_weights = C("adversarial", "poisson", "y ~ x + offset(log(expo)) + (1 | g)", "ml", "poisson",
                      weights = "w"),
  grouse_missing = C("adversarial", "grouse_na", "TICKS ~ YEAR + cHEIGHT + (1 | BROOD)", "ml", "poisson"),
  poisson_slope = C("adversarial", "poisson", "y ~ x + offset(log(expo)) + (1 + x | g)", "ml", "poisson"),
  poisson_nooffset = C("adversarial", "poisson", "y ~ x + (1 | g) + (0 + x | g)", "ml", "poisson")
)

fit_case <- function(r) {
  # the call names a global data frame and a literal formula, so that insight's null_model
  # (stats::update, evaluated away from here) finds both
  dname <- paste0("D_", r$data)
  assign(dname, datas[[r$data]], envir = globalenv())
  w <- if (is.null(r$weights)) "" else paste0(", weights = ", r$weights)
  call <- if (r$family == "gaussian") {
    sprintf("lmer(%s, data = %s, REML = %s%s)", r$formula, dname, r$method == "reml", w)
  } else {
    fam <- if (is.null(r$link)) sprintf("%s()", r$family) else sprintf('%s(link = "%s")', r$family, r$link)
    sprintf("glmer(%s, data = %s, family = %s%s)", r$formula, dname, fam, w)
  }
  eval(parse(text = call), envir = globalenv())
}
mixed <- lapply(cases, function(r) {
  message("case: ", r$formula)
  m <- fit_case(r)
  ic <- quiet(icc(m))
  icg <- quiet(icc(m, by_group = TRUE))
  r2n <- quiet(r2_nakagawa(m))
  gv <- quiet(insight::get_variance(m))
  conv <- quiet(check_convergence(m))
  out <- r[c("source", "data", "formula", "method", "family")]
  if (!is.null(r$link)) out$link <- r$link
  if (!is.null(r$weights)) out$weights <- r$weights
  out$fixef <- unname(fixef(m))
  out$m2loglik <- -2 * as.numeric(logLik(m))   # REML criterion for REML fits
  icv <- if (is.list(ic$value)) ic$value else list()   # NA when the random variance is 0
  out$icc_adjusted <- num(icv$ICC_adjusted)
  out$icc_conditional <- num(icv$ICC_conditional)
  out$icc_messages <- ic$messages
  if (!is.null(icg$value) && is.data.frame(icg$value)) {
    out$icc_by_group <- list(group = as.character(icg$value$Group), icc = num(icg$value$ICC))
  }
  r2v <- if (is.list(r2n$value)) r2n$value else list()
  out$r2_marginal <- num(r2v$R2_marginal)
  out$r2_conditional <- num(r2v$R2_conditional)
  out$r2_messages <- r2n$messages
  v <- gv$value
  out$var_fixed <- num(v$var.fixed); out$var_random <- num(v$var.random)
  out$var_residual <- num(v$var.residual); out$var_distribution <- num(v$var.distribution)
  out$singular <- isTRUE(check_singularity(m))
  out$converged <- isTRUE(conv$value)
  out$gradient <- num(attr(conv$value, "gradient"))
  if (isTRUE(r$vif)) {
    cc <- quiet(check_collinearity(m))$value
    out$vif <- list(term = as.character(cc$Term), VIF = cc$VIF)
  }
  out
})

## ---- check_collinearity on lm (test-check_collinearity.R) ----------------------------
car_vif <- function(m) {
  # car::vif's generalized VIF from the coefficients' correlation (car is not installed;
  # performance's VIF column is this GVIF)
  v <- as.matrix(vcov(m)); assign_ <- attr(model.matrix(m), "assign")
  if (names(fixef_or_coef(m))[1] == "(Intercept)") {v <- v[-1, -1]; assign_ <- assign_[-1]}
  R <- cov2cor(v); d <- det(R)
  terms <- labels(terms(m))
  g <- sapply(seq_along(terms), function(j) {
    i <- which(assign_ == j)
    det(R[i, i, drop = FALSE]) * det(R[-i, -i, drop = FALSE]) / d
  })
  df <- sapply(seq_along(terms), function(j) sum(assign_ == j))
  list(term = terms, GVIF = g, Df = df, adj = g^(1 / (2 * df)))
}
fixef_or_coef <- function(m) if (isS4(m)) fixef(m) else coef(m)
for (k in names(mixed)) if (isTRUE(cases[[k]]$vif)) {
  message("vif: ", k)
  m <- fit_case(cases[[k]]); mixed[[k]]$gvif <- car_vif(m)
}
L <- function(source, data, formula, prep = identity)
  list(source = source, data = data, formula = formula, prep = prep)
mt_gear <- function(d) {d$gear <- factor(d$gear); d}
lms <- list(
  vif_order = L("test-check_collinearity.R", "mtcars", "mpg ~ wt + cyl + gear + disp"),
  vif_interaction = L("test-check_collinearity.R", "mtcars", "mpg ~ wt * cyl"),
  vif_car = L("test-check_collinearity.R", "mtcars", "mpg ~ cyl + hp + am"),
  vif_factor = L("test-check_collinearity.R", "mtcars", "mpg ~ factor(cyl) + hp + gear"),
  vif_two_factors = L("test-check_collinearity.R", "mtcars", "mpg ~ factor(cyl) + hp + factor(gear)"),
  vif_npk = L("test-check_collinearity.R", "npk", "yield ~ N + P + K"),
  vif_npk_block = L("adversarial", "npk", "yield ~ block + N * P"),
  vif_readme = L("adversarial", "mtcars", "mpg ~ disp + hp + wt + drat"),
  vif_factor_interaction = L("adversarial", "mtcars", "mpg ~ factor(am) * wt + hp")
)
vifs <- lapply(lms, function(r) {
  message("lm: ", r$formula)
  m <- lm(as.formula(r$formula), data = datas[[r$data]])
  cc <- quiet(check_collinearity(m))
  list(source = r$source, data = r$data, formula = r$formula,
       vif = list(term = as.character(cc$value$Term), VIF = cc$value$VIF),
       messages = cc$messages, gvif = car_vif(m))
})

out <- list(versions = list(R = paste(R.version$major, R.version$minor, sep = "."),
                            performance = as.character(packageVersion("performance")),
                            insight = as.character(packageVersion("insight")),
                            lme4 = as.character(packageVersion("lme4"))),
            mixed = mixed, vif = vifs)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           paste0(ref, "performance_suite.json"))
