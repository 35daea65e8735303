# Reference values for penalized smooths s(x) fitted as mixed models (issue 21):
# mgcv::gamm's REML fits (the smooth's random part has covariance sigma_s^2 S^+, mgcv's
# smooth2random), written to tests/reference/smooths.json.
# Run from the repository root: Rscript tests/reference/make_smooths.R
suppressMessages({library(mgcv); library(jsonlite)})
source("tests/reference/read_data.R")
mcycle <- rd("mcycle.csv")
grouse <- rd("grouseticks.csv", factors = c("INDEX", "BROOD", "YEAR", "LOCATION"))

case <- function(formula, data, random = NULL, grid) {
  m <- if (is.null(random)) gamm(formula, data = data, method = "REML")
       else gamm(formula, data = data, random = random, method = "REML")
  out <- list(
    sigma = m$lme$sigma,
    # the variance of the smooth's random part (VarCorr prints it rounded; gam$sp = sigma^2 / it)
    smooth_variance = m$lme$sigma^2 / unname(m$gam$sp),
    sp = unname(m$gam$sp),
    reml_loglik = as.numeric(logLik(m$lme)),
    fitted = unname(as.numeric(fitted(m$gam))),
    grid = grid,
    predicted = unname(as.numeric(predict(m$gam, newdata = setNames(data.frame(grid), all.vars(formula)[2])))),
    edf = sum(m$gam$edf)
  )
  # the smooth's own (centred) contribution and its standard error on the grid (plot.gam's band)
  nd <- setNames(data.frame(grid), all.vars(formula)[2])
  terms <- predict(m$gam, newdata = nd, type = "terms", se.fit = TRUE)
  out$term_fit <- unname(as.numeric(terms$fit[, 1]))
  out$term_se <- unname(as.numeric(terms$se.fit[, 1]))
  if (!is.null(random)) {
    g <- names(random)[1]
    out$group_variance <- m$lme$sigma^2 * as.matrix(m$lme$modelStruct$reStruct[[g]])[1, 1]
  }
  out
}
grid_t <- seq(0, 60, by = 2.5)
ref <- list(
  `_about` = paste("mgcv", packageVersion("mgcv"), "gamm REML; R", getRversion(),
                   "; written by tests/reference/make_smooths.R"),
  mcycle_cr = case(accel ~ s(times, bs = "cr", k = 10), mcycle, grid = grid_t),
  mcycle_tp = case(accel ~ s(times, k = 10), mcycle, grid = grid_t),
  grouseticks_cr = case(log1p(TICKS) ~ s(HEIGHT, bs = "cr"), grouse, random = list(BROOD = ~1),
                        grid = seq(405, 530, by = 5))
)
writeLines(toJSON(ref, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/smooths.json")
