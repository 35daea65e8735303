# Extra diagnostics references beyond ../shared/reference/diagnostics.json: generalized
# VIF with factors (car), ICC of more models (performance), the panel F test (plm).
# Run from the repository root:
#   Rscript tests/reference/make_diagnostics_extra.R
# (R 4.2.2 with Debian's r-cran-lme4 1.1-31, r-cran-car, r-cran-performance 0.10.2,
#  r-cran-plm; needs no network.)
suppressPackageStartupMessages({
  library(lme4); library(car); library(performance); library(plm); library(jsonlite)
})
data <- "src/multilevel/datasets/data/"
rd <- function(f) read.csv(paste0(data, f), stringsAsFactors = TRUE)
mtcars <- rd("mtcars.csv"); ss <- rd("sleepstudy.csv"); cake <- rd("cake.csv")
pen <- rd("Penicillin.csv"); cbpp <- rd("cbpp.csv")
ss$Subject <- factor(ss$Subject); cbpp$herd <- factor(cbpp$herd); cbpp$period <- factor(cbpp$period)
cake$recipe <- factor(cake$recipe); cake$replicate <- factor(cake$replicate)
ctl <- lmerControl(optimizer = "bobyqa")
gvif <- function(m) {
  v <- car::vif(m)
  list(terms = rownames(v), GVIF = unname(v[, 1]), Df = unname(v[, 2]), GVIF_adj = unname(v[, 3]))
}
icc1 <- function(m) {
  i <- performance::icc(m)
  list(formula = paste(deparse(formula(m), width.cutoff = 500), collapse = ""),
       adjusted = i$ICC_adjusted, conditional = i$ICC_conditional)
}
pf <- function(d) {
  d$t <- d$Days
  p <- pdata.frame(d, index = c("Subject", "t"))
  test <- pFtest(plm(Reaction ~ Days, p, model = "within"), plm(Reaction ~ Days, p, model = "pooling"))
  list(nobs = nrow(d), F = unname(test$statistic), df1 = unname(test$parameter[1]),
       df2 = unname(test$parameter[2]), p = test$p.value)
}
derivs <- function(m) list(
  formula = paste(deparse(formula(m), width.cutoff = 500), collapse = ""), REML = isREML(m),
  theta = unname(getME(m, "theta")), gradient = m@optinfo$derivs$gradient,
  Hessian = m@optinfo$derivs$Hessian)
unbalanced <- ss[(seq_len(nrow(ss)) %% 7) != 3, ]   # rows 3, 10, 17, ... (1-based) removed
out <- list(
  gvif_mtcars_cyl = c(list(formula = "mpg ~ disp + factor(cyl) + wt + drat"),
                      gvif(lm(mpg ~ disp + factor(cyl) + wt + drat, mtcars))),
  gvif_cake_lmer = c(list(formula = "angle ~ recipe + temp + (1 | recipe:replicate)"),
                     gvif(lmer(angle ~ recipe + temp + (1 | recipe:replicate), cake, control = ctl))),
  icc = list(
    ss_null = icc1(lmer(Reaction ~ 1 + (1 | Subject), ss, control = ctl)),
    ss_ri = icc1(lmer(Reaction ~ Days + (1 | Subject), ss, control = ctl)),
    ss_rs = icc1(lmer(Reaction ~ Days + (Days | Subject), ss, control = ctl)),
    # insight 0.19 leaves the slope variance of a || term (Subject.1) out of var.random;
    # kept to document that difference (the tests check what it is, not equality).
    ss_uncorr = icc1(lmer(Reaction ~ Days + (Days || Subject), ss, control = ctl)),
    penicillin = icc1(lmer(diameter ~ 1 + (1 | plate) + (1 | sample), pen, control = ctl)),
    cbpp = icc1(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial))
  ),
  # lme4's finite-difference derivatives of the deviance at the optimum (checkConv's input)
  derivs_ss_rs = derivs(lmer(Reaction ~ Days + (Days | Subject), ss, control = ctl)),
  derivs_ss_rs_ml = derivs(lmer(Reaction ~ Days + (Days | Subject), ss, REML = FALSE, control = ctl)),
  pftest_ss = pf(ss),
  pftest_ss_unbalanced = pf(unbalanced),
  `_about` = paste("car::vif (generalized VIF), performance::icc (0.10.2, Nakagawa adjusted and",
                   "conditional) on lme4 fits, plm::pFtest (within vs pooling, individual effects);",
                   "made by tests/reference/make_diagnostics_extra.R")
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/diagnostics_extra.json")
