# lmerTest 3.1-3's step(): backward elimination of random, then fixed terms
# (tests/test_step.py). Run from the repository root: Rscript tests/reference/make_step.R
suppressMessages({library(lmerTest); library(jsonlite)})
source("tests/reference/read_data.R")
# optimized to convergence (step's update() refits keep the control): lme4's default
# tolerance leaves Sum Sq ~2e-5 off the optimum in a weighted case
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
ham <- rd("lmertest_suite_ham.csv", c("Consumer", "Product", "Information", "Gender"),
          path = "tests/reference/")
ss <- rd("sleepstudy.csv", "Subject")
cake <- rd("cake.csv", c("replicate", "recipe", "temperature"))
# sleepstudy with a missing response, a non-syntactic covariate, an offset and prior weights
set.seed(7)
sim <- ss
sim[["my noise"]] <- rnorm(nrow(sim))
sim$t <- runif(nrow(sim), 1, 2)
sim$w <- runif(nrow(sim), 0.5, 2)
sim$Reaction[4] <- NA
write.csv(sim, "tests/reference/step_sim.csv", row.names = FALSE)
sim <- rd("step_sim.csv", "Subject", path = "tests/reference/")
sim_formula <- log(Reaction) ~ Days * `my noise` + offset(log(t)) + (1 | Subject) + (0 + Days | Subject)

table_of <- function(tab) {
  out <- lapply(unclass(tab), function(v) unname(ifelse(is.na(v), NA, v)))
  c(list(rows = I(rownames(tab))), lapply(out, I))
}
case <- function(m, ...) {
  s <- step(m, ...)
  final <- get_model(s)
  list(random = table_of(s$random), fixed = table_of(s$fixed),
       final = list(formula = paste(deparse(formula(final), width.cutoff = 500L), collapse = " "),
                    coef = as.list(if (inherits(final, "lm")) coef(final) else fixef(final)),
                    logLik = as.numeric(logLik(final, REML = inherits(final, "lmerMod") && isREML(final) ||
                                                   inherits(final, "lm"))),
                    lm = inherits(final, "lm")))
}
ham_formula <- Informed.liking ~ Product * Information + (1 | Consumer) + (1 | Product:Consumer) +
  (1 | Information:Consumer)
ham3 <- Informed.liking ~ Product * Information * Gender + (1 | Consumer) + (1 | Product:Consumer) +
  (1 | Information:Consumer)
ss2 <- Reaction ~ Days + (1 | Subject) + (Days | Subject)
cases <- list(
  ham = list(formula = deparse(ham_formula, width.cutoff = 500L), data = "ham",
             reml = TRUE, args = list(), out = case(lmer(ham_formula, ham, control = tight))),
  ham_kr = list(formula = deparse(ham_formula, width.cutoff = 500L), data = "ham", reml = TRUE,
                args = list(ddf = "kenward-roger"),
                out = case(lmer(ham_formula, ham, control = tight), ddf = "Kenward-Roger")),
  ham_gender = list(formula = deparse(ham3, width.cutoff = 500L), data = "ham", reml = TRUE,
                    args = list(), out = case(lmer(ham3, ham, control = tight))),
  ham_keep = list(formula = deparse(ham3, width.cutoff = 500L), data = "ham", reml = TRUE,
                  args = list(keep = list("Product:Information:Gender")),
                  out = case(lmer(ham3, ham, control = tight), keep = "Product:Information:Gender")),
  ham_ml_norandom = list(formula = deparse(ham_formula, width.cutoff = 500L), data = "ham",
                         reml = FALSE, args = list(reduce_random = FALSE, alpha_fixed = 0.5),
                         out = case(lmer(ham_formula, ham, REML = FALSE, control = tight), reduce.random = FALSE,
                                    alpha.fixed = 0.5)),
  sleepstudy_merge = list(formula = deparse(ss2), data = "sleepstudy", reml = TRUE, args = list(),
                          out = case(lmer(ss2, ss, control = tight))),
  sleepstudy_keep = list(formula = deparse(ss2), data = "sleepstudy", reml = TRUE,
                         args = list(alpha_random = 1e-20, alpha_fixed = 0.01, keep = list("Days")),
                         out = case(lmer(ss2, ss, control = tight), alpha.random = 1e-20, alpha.fixed = 0.01,
                                    keep = "Days")),
  weighted_offset = list(formula = deparse(sim_formula, width.cutoff = 500L), data = "step_sim",
                         reml = TRUE, weights = "w", args = list(),
                         out = case(lmer(sim_formula, sim, weights = w, control = tight))),
  cake_to_lm = list(formula = "angle ~ recipe + temp + (1 | recipe)", data = "cake", reml = TRUE,
                    args = list(), out = case(lmer(angle ~ recipe + temp + (1 | recipe), cake, control = tight)))
)
write_json(cases, "tests/reference/step.json", digits = NA, auto_unbox = TRUE, null = "null",
           na = "null", pretty = FALSE)
