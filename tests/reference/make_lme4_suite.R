# Cases ported from lme4's own test suite (tests/*.R, tests/testthat/test-*.R of the lme4
# repository), for the quantities multilevel's REML/ML engine reports:
# tests/test_lme4_suite.py. Each case names the lme4 test file it comes from.
# Run from the repository root (needs no network; R 4.2.2, lme4 1.1-31 from Debian):
#   Rscript tests/reference/make_lme4_suite.R
# LMMs are fitted with tight BOBYQA tolerances (rhoend 1e-9; lmer's default nloptwrap stops
# up to 5e-8 short of the optimum in logLik, which moves SEs by 4e-5 on Orthodont), so the
# references are the optima; GLMMs use glmer's defaults, which multilevel's default
# optimizer="glmer" replays step for step. deviance() of a REML fit is recorded as
# deviance(m, REML = FALSE) (lme4 deprecates the plain call there; ours is that one).
# Simulated data (seeds as in the lme4 tests) and lme4's own small data sets are written
# to tests/reference/lme4_suite_*.csv and read back before fitting, so R and Python fit
# the same numbers.
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
source("tests/reference/read_data.R")  # dir, fac(), rd()
source(system.file("testdata/lme-tst-funs.R", package = "lme4", mustWork = TRUE))  # gSim()
ref <- "tests/reference/"
put <- function(d, name, factors = character()) {
  file <- paste0("lme4_suite_", name, ".csv")
  write.csv(d, paste0(ref, file), row.names = FALSE)
  rd(file, factors, path = ref)
}
ss <- rd("sleepstudy.csv", "Subject")
cbpp <- rd("cbpp.csv", c("herd", "period"))
cake <- rd("cake.csv", c("replicate", "recipe", "temperature"))
pen <- rd("Penicillin.csv", c("plate", "sample"))

## ---- data -------------------------------------------------------------------------
# lmer-1.R: Dyestuff2 (lme4's data), a boundary fit
dye2 <- put(data.frame(Batch = as.character(Dyestuff2$Batch), Yield = Dyestuff2$Yield), "dyestuff2", "Batch")
# varcorr.R: nlme's Orthodont
data(Orthodont, package = "nlme")
orth <- put(data.frame(distance = Orthodont$distance, age = Orthodont$age,
                       Subject = as.character(Orthodont$Subject), Sex = as.character(Orthodont$Sex)),
            "orthodont", c("Subject", "Sex"))
# offset.R: a Gaussian and a Poisson response, 26 blocks x 100
set.seed(101)
d <- expand.grid(block = LETTERS[1:26], rep = 1:100)
d$x <- runif(nrow(d))
reff_f <- rnorm(length(levels(d$block)), sd = 1)
d$eta <- 4 + 3 * d$x + reff_f[d$block]
d$y <- rnorm(nrow(d), mean = d$eta, sd = 1)
d$yp <- rpois(nrow(d), exp(d$eta))
off <- put(data.frame(block = as.character(d$block), x = d$x, y = d$y, yp = d$yp), "offset", "block")
# priorWeights.R: heteroscedastic residuals, known inverse-variance weights
set.seed(1)
nGroups <- 100; nObs <- 1000
x <- rnorm(nObs); z <- rnorm(nObs)
g <- rep(1:nGroups, each = nObs / nGroups)
r0 <- rep(rnorm(nGroups), each = 10); r1 <- rep(rnorm(nGroups), each = 10); r2 <- rep(rnorm(nGroups), each = 10)
residSD <- rpois(nObs, 1) + 1
y <- r0 + (1 + r1) * x + (1 + r2) * z + rnorm(nObs, sd = residSD)
pw <- put(data.frame(y = y, x = x, z = z, g = sprintf("g%03d", g), w = 1 / residSD^2), "weights", "g")
# priorWeights.R: the small weighted example (set.seed(2), n = 40)
set.seed(2)
n <- 40; w <- runif(n); x <- runif(n); g <- factor(sample(1:10, n, replace = TRUE))
y <- as.vector(model.matrix(~ g - 1) %*% rnorm(10) + x + rnorm(n) / w^.5)
pw40 <- put(data.frame(y = y, x = x, g = as.character(g), w = w), "weights40", "g")
# priorWeights.R: sleepstudy with a constant weight 5
ss5 <- ss; ss5$w5 <- 5
# glmmWeights.R and glmmExt.R: gSim() Gamma (inverse and log link) and Bernoulli (cloglog)
# responses on one simulated design (glmmExt.R's gaussian(link = log) GLMM is left out:
# multilevel refuses a non-identity gaussian link for method="ml"), and a Poisson one
set.seed(101)
gam <- gSim()
dgl <- gSim(dInitial = gam, family = Gamma(link = log))
dBc <- gam; dBc$eta <- gam$eta - 5
dBc <- gSim(dInitial = dBc, nbinom = 1, family = binomial(link = "cloglog"))
gam <- put(data.frame(block = as.character(gam$block), x = gam$x, y = gam$y, ylog = dgl$y, yBc = dBc$y,
                      w = rep(c(1, 2, 0.5), length.out = nrow(gam))), "gamma", "block")
set.seed(102)
dP <- gSim(family = poisson())
dP <- put(data.frame(block = as.character(dP$block), x = dP$x, y = dP$y, w2 = 2), "poisson_w", "block")
# test-glmer.R (issue #47, Viechtbauer): paired binary events, 21-point AGQ
nn <- 100; ai <- rep(0:1, each = nn / 2); ci <- c(rep(0, 42), rep(1, 8), rep(0, 18), rep(1, 32))
ev <- put(data.frame(event = c(rbind(ai, ci)), group = rep(c(1, 0), times = nn),
                     id = sprintf("i%03d", rep(1:nn, each = 2))), "issue47", "id")
# boundary.R: a binomial proportion with weights 10 (boundary fit), and an LMM on the boundary
set.seed(1)
db <- data.frame(x = rnorm(60), f = factor(rep(1:6, each = 10)), w = rep(10, 60))
db$y <- simulate(~ x + (1 | f), family = binomial, weights = db$w, newdata = db,
                 newparams = list(theta = 0.01, beta = c(1, 1)))[[1]]
db <- put(transform(db, f = as.character(f)), "boundary_binomial", "f")
set.seed(5)
dl <- data.frame(x = rnorm(60), f = factor(rep(1:6, each = 10)))
dl$y <- simulate(~ x + (1 | f), family = gaussian, newdata = dl,
                 newparams = list(theta = 0.01, beta = c(1, 1), sigma = 5))[[1]]
dl <- put(transform(dl, f = as.character(f)), "boundary_lmm", "f")
# boundary.R: Stephane Laurent's Operator x Part data, and Manuel Koller's data set 13
op <- read.csv(system.file("testdata", "dat20101314.csv", package = "lme4"))
op <- put(data.frame(y = op$y, Operator = as.character(op$Operator), Part = as.character(op$Part)),
          "operator_part", c("Operator", "Part"))
source(system.file("testdata", "koller-data.R", package = "lme4"))
k13 <- getData(13)
k13 <- put(data.frame(y = k13$y, Var2 = as.character(k13$Var2)), "koller13", "Var2")
# test-nbinom.R / test-glmernb.R: negative binomial counts by f1 x f2, 9 groups
set.seed(101)
dd <- expand.grid(f1 = factor(1:3), f2 = LETTERS[1:2], g = 1:9, rep = 1:15, KEEP.OUT.ATTRS = FALSE)
mu <- 5 * (-4 + with(dd, as.integer(f1) + 4 * as.numeric(f2)))
dd$y <- rnbinom(nrow(dd), mu = mu, size = 0.5)
nb <- put(data.frame(f1 = as.character(dd$f1), f2 = as.character(dd$f2), g = sprintf("g%d", dd$g),
                     y = dd$y), "nbinom", c("f1", "f2", "g"))

# test-glmer.R: a proportion response with its trials as weights
cbpp$prop <- cbpp$incidence / cbpp$size
# lmer-1.R: lagoons and habitats (habitat nested in lagoon, coded 1..20)
set.seed(1)
lag <- within(data.frame(lagoon = factor(rep(1:4, each = 25)), habitat = factor(rep(1:20, each = 5))),
              y <- round(10 * rnorm(100, m = 10 * as.numeric(lagoon))))
lag <- put(transform(lag, lagoon = as.character(lagoon), habitat = as.character(habitat)), "lagoon",
           c("lagoon", "habitat"))
# test-lmer.R (coef_lmer): a factor-by-slope interaction without an intercept
set.seed(101)
mx <- data.frame(resp = runif(100), var1 = factor(sample(1:5, size = 100, replace = TRUE)),
                 var2 = runif(100), var3 = factor(sample(1:5, size = 100, replace = TRUE)))
mx <- put(transform(mx, var1 = as.character(var1), var3 = as.character(var3)), "mix", c("var1", "var3"))
# test-lmer.R: a numeric covariate with a large scale in a binomial interaction
set.seed(14)
cbppv <- cbpp; cbppv$var <- rnorm(nrow(cbpp), 10, 10)
cbppv <- put(data.frame(herd = as.character(cbppv$herd), period = as.character(cbppv$period),
                        incidence = cbppv$incidence, size = cbppv$size, var = cbppv$var),
             "cbpp_var", c("herd", "period"))
# test-methods.R: nlme's Pixel (Side/Dog nested, random slopes on day), rank-deficient
# fixed effects (x1 = 1 duplicates the intercept), a character predictor, tiny data for
# anova(<glmer>, <glm>) and anova(<lmer>, <lm>) with a singular fit
data(Pixel, package = "nlme")
pix <- put(data.frame(pixel = Pixel$pixel, day = Pixel$day, Dog = as.character(Pixel$Dog),
                      Side = as.character(Pixel$Side)), "pixel", c("Dog", "Side"))
set.seed(7); n <- 100; y <- rnorm(n)
rk <- data.frame(id = factor(sample(10, n, replace = TRUE)), x1 = 1, y = y, x2 = rnorm(n, mean = sign(y)))
rk <- put(transform(rk, id = as.character(id)), "rankdef", "id")
set.seed(1)
ssn <- ss; ssn$noiseChar <- ifelse(runif(nrow(ss)) > 0.8, "Yes", "No")
ssn <- put(ssn[, c("Reaction", "Days", "Subject", "noiseChar")], "noise", "Subject")
tiny <- data.frame(y = 1:5, u = c(rep("A", 2), rep("B", 3)))
set.seed(101); tiny$yn <- rnorm(5)
tiny <- put(tiny, "tiny", "u")
orth$nsex <- as.numeric(orth$Sex == "Male")
# test-ranef.R: Bernoulli responses, crossed (1 | f) and (x | g) without a fixed slope
set.seed(101)
n <- 500
rf <- data.frame(x = rnorm(n), f = factor(sample(1:10, n, replace = TRUE), labels = LETTERS[1:10]),
                 g = factor(sample(1:25, n, replace = TRUE), labels = letters[1:25]))
rf$y <- suppressMessages(simulate(~ 1 + x + (1 | f) + (x | g), family = binomial, newdata = rf,
                                  newparams = list(beta = c(0, 1), theta = c(1, 1, 2, 1)))[[1]])
rf <- put(transform(rf, f = as.character(f), g = as.character(g)), "ranef", c("f", "g"))
cbpp$obs <- fac(seq_len(nrow(cbpp)))
# test-rank.R: x == y (an aliased column), and a 4 x 4 interaction with an empty cell
set.seed(101)
n <- 20; x <- y <- rnorm(n)
rk1 <- put(data.frame(x, y, z = rnorm(n), r = sample(1:5, size = n, replace = TRUE)), "rank_xy", "r")
d2 <- expand.grid(a = factor(1:4), b = factor(1:4), rep = 1:10)
d2 <- transform(d2, r = sample(1:5, size = nrow(d2), replace = TRUE), z = rnorm(nrow(d2)))
d2 <- subset(d2, !(a == "4" & b == "4"))
rk2 <- put(data.frame(a = as.character(d2$a), b = as.character(d2$b), r = d2$r, z = d2$z), "rank_cell",
           c("a", "b", "r"))
set.seed(111)
n <- 100; x <- y <- rnorm(n)
rk3 <- put(data.frame(x, y, z = rbinom(n, size = 1, prob = 0.5), r = sample(1:5, size = n, replace = TRUE)),
           "rank_glmer", "r")
# test-stepHalving.R: survival proportions with egg counts as weights, one level per row
load(system.file("testdata", "survdat_reduced.Rda", package = "lme4"))
surv <- put(data.frame(eggs = survdat_reduced$eggs, survprop = survdat_reduced$survprop,
                       nobs = as.character(survdat_reduced$nobs)), "stephalving", "nobs")
# test-isSingular.R: two crossed random-slope blocks, Poisson and Gamma (log link) responses
# from a model whose first block is zero
set.seed(101)
n_groups <- 20; n_per_group <- 20; n <- n_groups * n_per_group
sg <- data.frame(group1 = rep(1:n_groups, each = n_per_group), group2 = rep(1:n_groups, each = n_per_group),
                 x1 = rnorm(n), x2 = rnorm(n))
form <- y ~ 1 + (1 + x1 | group1) + (1 + x2 | group2)
sg$y <- simulate(form[-2], newdata = sg, family = gaussian,
                 newparams = list(beta = c(-2), theta = c(2, 3, 4, 2, 3, 4), sigma = 2))[[1]]
sg$y2 <- simulate(form[-2], newdata = sg, family = gaussian,
                  newparams = list(beta = c(-2), theta = c(0, 0, 0, 2.5, 1.5, 0.8), sigma = 2))[[1]]
sg$yp <- simulate(form[-2], newdata = sg, family = poisson(link = "log"),
                  newparams = list(theta = c(0, 0, 0, 1.0, 0.5, 0.3), beta = 2))[[1]]
sg$yg <- simulate(form[-2], newdata = sg, family = Gamma(link = "log"),
                  newparams = list(theta = c(0, 0, 0, 1.0, 0.5, 0.3), beta = 2, sigma = 2))[[1]]
sg <- put(sg, "singular2", c("group1", "group2"))
# test-NAhandling.R: sleepstudy with Reaction missing in its first three rows (na.omit)
ssna <- ss; ssna$Reaction[1:3] <- NA
# test-predict.R: a second, coarser grouping of sleepstudy's rows (an integer column)
ss2 <- ss; ss2$Subject2 <- rep(1:5, each = 36)

## ---- quantities -------------------------------------------------------------------
fml <- function(m) paste(deparse(formula(m), width.cutoff = 500), collapse = "")
first <- function(x, k = 6) unname(as.numeric(x)[seq_len(min(k, length(x)))])
wald <- function(m) {
  ci <- confint(m, method = "Wald")
  ci <- ci[names(fixef(m)), , drop = FALSE]
  list(lower = unname(ci[, 1]), upper = unname(ci[, 2]))
}
summ <- function(m, case) {
  glmm <- !isLMM(m)
  types <- if (glmm) c("deviance", "pearson", "working", "response") else c("response", "pearson")
  res <- lapply(setNames(types, types), function(t) first(residuals(m, type = t)))
  out <- c(case, list(
    r_formula = fml(m), nobs = nobs(m), df = attr(logLik(m), "df"), df_residual = df.residual(m),
    logLik = as.numeric(logLik(m)), AIC = AIC(m), BIC = BIC(m), deviance = if (isLMM(m)) deviance(m, REML = FALSE) else deviance(m),
    fixef = as.list(fixef(m)), fixef_se = as.list(sqrt(diag(as.matrix(vcov(m))))),
    vcov = unname(as.matrix(vcov(m))), theta = as.list(getME(m, "theta")),
    singular = isSingular(m), varcorr = as.data.frame(VarCorr(m)), ranef = re_tables(m),
    fitted = first(fitted(m)), residuals = res,
    pred = first(predict(m)), pred_marg = first(predict(m, re.form = NA)), wald = wald(m)))
  if (isLMM(m)) {
    out$sigma <- sigma(m)
    if (isREML(m)) out$REMLcrit <- REMLcrit(m)
  } else {
    out$pred_response <- first(predict(m, type = "response"))
    if (family(m)$family %in% c("Gamma", "inverse.gaussian")) out$sigma <- sigma(m)
  }
  out
}
tight <- list(rhoend = 1e-9, maxfun = 1e5)
lctl <- lmerControl(optimizer = "bobyqa", optCtrl = tight)
lmm <- function(case, d, control = lctl) {
  f <- as.formula(case$formula)
  # lmer/glmer evaluate `weights` in the data first: a local name no data set has as a column
  case_wts <- if (is.null(case$weights)) NULL else d[[case$weights]]
  m <- lmer(f, d, REML = case$method == "reml", weights = case_wts, control = control)
  list(model = m, ref = summ(m, case))
}
glmm <- function(case, d, family, ...) {
  f <- as.formula(case$formula)
  case_wts <- if (is.null(case$weights)) NULL else d[[case$weights]]
  m <- glmer(f, d, family = family, weights = case_wts, nAGQ = if (is.null(case$nAGQ)) 1 else case$nAGQ, ...)
  list(model = m, ref = summ(m, case))
}
C <- function(file, data, formula, method = "ml", family = "gaussian", ...)
  list(source = file, data = data, formula = formula, method = method, family = family, ...)

fits <- list(
  sep_terms_reml = lmm(C("lmer-1.R", "sleepstudy", "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)",
                         "reml"), ss),
  sep_terms_ml = lmm(C("lmer-1.R", "sleepstudy", "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)"), ss),
  log_transformed_ml = lmm(C("lmer-1.R", "sleepstudy",
                             "log(Reaction) ~ log(Days + 1) + (log(Days + 1) | Subject)"), ss),
  dyestuff2_boundary = lmm(C("lmer-1.R", "dyestuff2", "Yield ~ 1 + (1 | Batch)", "reml"), dye2),
  orthodont_slopes = lmm(C("varcorr.R", "orthodont", "distance ~ age + (age | Subject)", "reml"), orth),
  offset_lmm = lmm(C("offset.R", "offset", "y ~ x + (1 | block) + offset(3 * x)", "reml"), off),
  offset_lmm_none = lmm(C("offset.R", "offset", "y ~ x + (1 | block)", "reml"), off),
  weights_reml1 = lmm(C("priorWeights.R", "weights", "y ~ x + (1 | g)", "reml", weights = "w"), pw),
  weights_ml2 = lmm(C("priorWeights.R", "weights", "y ~ x + (x | g)", weights = "w"), pw),
  weights_reml3 = lmm(C("priorWeights.R", "weights", "y ~ x + z + (x + z | g)", "reml", weights = "w"), pw),
  weights_small_reml = lmm(C("priorWeights.R", "weights40", "y ~ x + (1 | g)", "reml", weights = "w"), pw40),
  weights_constant_ml = lmm(C("priorWeights.R", "sleepstudy_w5", "Reaction ~ Days + (Days | Subject)",
                              weights = "w5"), ss5),
  cake_recipe_temp = lmm(C("test-predict.R", "cake", "angle ~ temp + recipe + (1 | replicate)", "reml"), cake),
  operator_part = lmm(C("boundary.R", "operator_part", "y ~ (1 | Operator) + (1 | Part) + (1 | Part:Operator)",
                        "reml"), op, control = lmerControl(optimizer = "bobyqa", restart_edge = FALSE, optCtrl = tight)),
  koller13 = lmm(C("boundary.R", "koller13", "y ~ (1 | Var2)", "reml"), k13),
  boundary_lmm = lmm(C("boundary.R", "boundary_lmm", "y ~ x + (1 | f)", "reml"), dl),
  lagoon_nested = lmm(C("lmer-1.R", "lagoon", "y ~ 0 + lagoon + (1 | habitat:lagoon)", "reml"), lag),
  lagoon_habitat = lmm(C("lmer-1.R", "lagoon", "y ~ 0 + lagoon + (1 | habitat)", "reml"), lag),
  days_as_group = lmm(C("test-lmer.R", "sleepstudy", "Reaction ~ 1 + (1 | Days)", "reml"), ss),
  factor_by_slope = lmm(C("test-lmer.R", "mix", "resp ~ 0 + var1 + var1:var2 + (1 | var3)", "reml"), mx),
  two_groupings = lmm(C("test-predict.R", "sleepstudy_s2", "Reaction ~ Days + (1 + Days | Subject) + (1 | Subject2)",
                        "reml"), ss2),
  pixel_nested = lmm(C("test-methods.R", "pixel", "pixel ~ day + I(day^2) + (day | Dog) + (1 | Side/Dog)",
                       "reml"), pix),
  orthodont_two_terms = lmm(C("test-methods.R", "orthodont_nsex",
                              "distance ~ age + (age | Subject) + (0 + nsex | Subject)", "reml"), orth),
  rank_deficient = lmm(C("test-methods.R", "rankdef", "y ~ x1 + x2 + (1 | id)", "reml"), rk),
  character_predictor = lmm(C("test-methods.R", "noise", "Reaction ~ Days + noiseChar + (Days | Subject)",
                              "reml"), ssn),
  poisson_days = glmm(C("test-methods.R", "sleepstudy", "round(Reaction) ~ Days + (1 | Subject)",
                        family = "poisson"), ss, poisson),
  cbpp_herd_obs = glmm(C("test-methods.R", "cbpp_prop_obs", "prop ~ herd + (1 | period) + (1 | obs)",
                         family = "binomial", weights = "size"), cbpp, binomial),
  # the response is a factor: its first level (Female, in read_data.R's order) is failure
  factor_response = glmm(C("test-methods.R", "orthodont", "Sex ~ distance + (1 | Subject)",
                           family = "bernoulli"), orth, binomial),
  ranef_crossed_slopes = glmm(C("test-ranef.R", "ranef", "y ~ (1 | f) + (x | g)", family = "bernoulli"),
                              rf, binomial),
  rank_aliased = lmm(C("test-rank.R", "rank_xy", "z ~ x + y + (1 | r)", "reml"), rk1),
  rank_empty_cell = lmm(C("test-rank.R", "rank_cell", "z ~ a * b + (1 | r)", "reml"), rk2),
  rank_glmer = glmm(C("test-rank.R", "rank_glmer", "z ~ x + y + (1 | r)", family = "bernoulli"), rk3, binomial),
  step_halving = glmm(C("test-stepHalving.R", "stephalving", "survprop ~ (1 | nobs)", family = "binomial",
                        weights = "eggs"), surv, binomial),
  two_slope_blocks = lmm(C("test-isSingular.R", "singular2", "y ~ 1 + (1 + x1 | group1) + (1 + x2 | group2)",
                           "reml"), sg),
  two_slope_blocks_singular = lmm(C("test-isSingular.R", "singular2",
                                    "y2 ~ 1 + (1 + x1 | group1) + (1 + x2 | group2)", "reml"), sg),
  two_slope_blocks_poisson = glmm(C("test-isSingular.R", "singular2",
                                    "yp ~ 1 + (1 + x1 | group1) + (1 + x2 | group2)", family = "poisson"),
                                  sg, poisson),
  two_slope_blocks_gamma = glmm(C("test-isSingular.R", "singular2",
                                  "yg ~ 1 + (1 + x1 | group1) + (1 + x2 | group2)", family = "gamma",
                                  link = "log"), sg, Gamma(link = "log")),
  missing_response = lmm(C("test-NAhandling.R", "sleepstudy_na", "Reaction ~ Days + (Days | Subject)", "reml"),
                         ssna),
  poisson_round = glmm(C("test-lmer.R", "sleepstudy", "round(Reaction) ~ 1 + (1 | Subject)",
                         family = "poisson"), ss, poisson),
  poisson_round_slopes = glmm(C("test-predict.R", "sleepstudy", "round(Reaction) ~ Days + (1 + Days | Subject)",
                                family = "poisson"), ss, poisson),
  cbpp_period_var = glmm(C("test-lmer.R", "cbpp_var", "cbind(incidence, size - incidence) ~ period * var + (1 | herd)",
                           family = "binomial"), cbppv, binomial),
  offset_poisson = glmm(C("offset.R", "offset", "yp ~ x + (1 | block) + offset(3 * x)", family = "poisson"),
                        off, poisson),
  gamma_inverse = glmm(C("glmmWeights.R", "gamma", "y ~ x + (1 | block)", family = "gamma",
                         link = "inverse"), gam, Gamma),
  gamma_inverse_agq0 = glmm(C("glmmExt.R", "gamma", "y ~ x + (1 | block)", family = "gamma",
                              link = "inverse", nAGQ = 0), gam, Gamma),
  # glmmWeights.R's Gamma models with prior weights added (its tests weight only Poisson)
  gamma_inverse_weights = glmm(C("glmmWeights.R", "gamma", "y ~ x + (1 | block)", family = "gamma",
                                 link = "inverse", weights = "w"), gam, Gamma),
  gamma_log_weights = glmm(C("glmmWeights.R", "gamma", "ylog ~ x + (1 | block)", family = "gamma",
                             link = "log", weights = "w"), gam, Gamma(link = "log")),
  gamma_log = glmm(C("glmmExt.R", "gamma", "ylog ~ x + (1 | block)", family = "gamma", link = "log"),
                   gam, Gamma(link = "log")),
  cloglog_bernoulli = glmm(C("glmmExt.R", "gamma", "yBc ~ x + (1 | block)", family = "bernoulli",
                             link = "cloglog"), gam, binomial(link = "cloglog")),
  cloglog_null = glmm(C("glmmExt.R", "gamma", "yBc ~ 1 + (1 | block)", family = "bernoulli",
                        link = "cloglog"), gam, binomial(link = "cloglog")),
  cbpp_agq0 = glmm(C("test-methods.R", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                     family = "binomial", nAGQ = 0), cbpp, binomial),
  poisson_weights2 = glmm(C("glmmWeights.R", "poisson_w", "y ~ x + (1 | block)", family = "poisson",
                            weights = "w2"), dP, poisson),
  poisson_unweighted = glmm(C("glmmWeights.R", "poisson_w", "y ~ x + (1 | block)", family = "poisson"),
                            dP, poisson),
  issue47_agq21 = glmm(C("test-glmer.R", "issue47", "event ~ group + (1 | id)", family = "bernoulli",
                         nAGQ = 21), ev, binomial),
  cbpp_prop_weights = glmm(C("test-glmer.R", "cbpp_prop", "prop ~ period + (1 | herd)", family = "binomial",
                             weights = "size"), cbpp, binomial),
  boundary_binomial = glmm(C("boundary.R", "boundary_binomial", "y ~ x + (1 | f)", family = "binomial",
                             weights = "w"), db, binomial)
)
out <- lapply(fits, `[[`, "ref")

# test-nbinom.R: glmer.nb, theta estimated
nbfit <- function(case, d) {
  m <- glmer.nb(as.formula(case$formula), data = d)
  c(summ(m, case), list(nb_theta = getME(m, "glmer.nb.theta")))
}
# (test-nbinom.R's y ~ f1 + (1 | g) on the first 200 rows, and test-glmernb.R's sleepstudy
# and Arabidopsis models, add no new path and take 5-14 s each to fit here: left out for
# the test-time budget)
out$nbinom_f1f2 <- nbfit(C("test-glmernb.R", "nbinom", "y ~ f1 * f2 + (1 | g)", family = "negativebinomial"), nb)


out$factor_response$pred_new <- list(distance = c(20, 25), response = unname(predict(
  fits$factor_response$model, data.frame(distance = c(20, 25)), re.form = NA, type = "response")))

# test-predict.R: predictions for new data, with re.form and allow.new.levels
m <- fits$cake_recipe_temp$model
nd <- cake[c(1, 20, 40, 200), c("replicate", "recipe", "temperature", "temp")]
nd$replicate <- as.character(nd$replicate); nd$replicate[4] <- "99"
out$cake_recipe_temp$newdata <- list(rows = c(1, 20, 40, 200), new_level = "99")
out$cake_recipe_temp$pred_newdata <- unname(predict(m, nd, allow.new.levels = TRUE))
out$cake_recipe_temp$pred_newdata_marg <- unname(predict(m, nd, re.form = NA))
m <- lmer(diameter ~ (1 | plate) + (1 | sample), pen, control = lctl)
nd <- expand.grid(plate = c("a", "b", "zz"), sample = c("A", "F"), stringsAsFactors = FALSE)
out$penicillin_reform <- list(
  source = "test-predict.R", data = "Penicillin", formula = "diameter ~ (1 | plate) + (1 | sample)",
  method = "reml", family = "gaussian", plate = nd$plate, sample = nd$sample,
  pred_plate = unname(predict(m, nd, re.form = ~ (1 | plate), allow.new.levels = TRUE)),
  pred_sample = unname(predict(m, nd, re.form = ~ (1 | sample), allow.new.levels = TRUE)),
  pred_all = unname(predict(m, nd, allow.new.levels = TRUE)),
  pred_marg = unname(predict(m, nd, re.form = NA)),
  fitted = first(predict(m)))
m <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial)
nd <- rbind(expand.grid(period = as.character(1:4), herd = c("1", "7"), stringsAsFactors = FALSE),
            data.frame(period = as.character(1:4), herd = "new"))
out$cbpp_newdata <- list(
  source = "test-predict.R", data = "cbpp", formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
  method = "ml", family = "binomial", period = nd$period, herd = nd$herd,
  pred_link = unname(predict(m, nd, allow.new.levels = TRUE)),
  pred_response = unname(predict(m, nd, allow.new.levels = TRUE, type = "response")),
  pred_marg = unname(predict(m, nd, re.form = NA)))

# lmer-1.R: anova(fm1ML, fm2ML) on sleepstudy; test-lmer.R: (Days || Subject) vs (1 | Subject)
lrt <- function(m_small, m_big, source, data, formulas, methods, family = "gaussian") {
  a <- suppressMessages(anova(m_big, m_small))   # a merMod first; rows sorted by npar
  list(source = source, data = data, formulas = formulas, methods = methods, family = family,
       npar = a$npar, AIC = a$AIC, BIC = a$BIC, logLik = a$logLik, deviance = a$deviance,
       Chisq = a$Chisq[2], Df = a$Df[2], p = a[["Pr(>Chisq)"]][2])
}
f1 <- "Reaction ~ Days + (Days | Subject)"; f2 <- "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)"
out$lrt_sep_vs_corr <- lrt(lmer(as.formula(f2), ss, control = lctl), lmer(as.formula(f1), ss, control = lctl), "lmer-1.R", "sleepstudy",
                           c(f2, f1), c("reml", "reml"))
f1 <- "Reaction ~ Days + (1 | Subject)"; f2 <- "Reaction ~ Days + (Days || Subject)"
out$lrt_uncorr_vs_ri <- lrt(lmer(as.formula(f1), ss, REML = FALSE, control = lctl),
                            lmer(as.formula(f2), ss, REML = FALSE, control = lctl),
                            "test-lmer.R", "sleepstudy", c(f1, f2), c("ml", "ml"))
f1 <- "yp ~ x + (1 | block) + offset(3 * x)"; f2 <- "yp ~ 1 + (1 | block) + offset(3 * x)"
out$lrt_offset_poisson <- lrt(glmer(as.formula(f2), off, poisson), glmer(as.formula(f1), off, poisson), "offset.R",
                              "offset", c(f2, f1), c("ml", "ml"), "poisson")

# test-methods.R: anova(<glmer>, <glm>) and anova(<lmer>, <lm>) on five rows (singular: Chisq 0)
out$lrt_glmer_vs_glm_tiny <- lrt(glm(y ~ 1, poisson, tiny[1:4, ]), glmer(y ~ (1 | u), tiny[1:4, ], poisson),
                                 "test-methods.R", "tiny4", c("y ~ 1", "y ~ (1 | u)"), c("ml", "ml"), "poisson")
out$lrt_lmer_vs_lm_tiny <- lrt(lm(yn ~ 1, tiny), lmer(yn ~ (1 | u), tiny, REML = FALSE, control = lctl),
                               "test-methods.R", "tiny", c("yn ~ 1", "yn ~ (1 | u)"), c("ml", "ml"))
# drop.R: drop1(test = "Chisq") of an LMM (REML: compared through ML refits) and of a
# 25-point AGQ GLMM; test-lmer.R's period * var GLMM (only the interaction is droppable)
drop_ref <- function(m, source, data, formula, method, family, nAGQ = 1) {
  a <- drop1(m, test = "Chisq")
  list(source = source, data = data, formula = formula, method = method, family = family, nAGQ = nAGQ,
       terms = rownames(a), npar = a$npar, AIC = a$AIC, LRT = a$LRT, p = a[["Pr(Chi)"]])
}
out$drop1_lmm <- drop_ref(lmer(Reaction ~ Days + (Days | Subject), ss, control = lctl), "drop.R", "sleepstudy",
                          "Reaction ~ Days + (Days | Subject)", "reml", "gaussian")
out$drop1_agq25 <- drop_ref(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial, nAGQ = 25),
                            "drop.R", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "ml",
                            "binomial", 25)
out$drop1_interaction <- drop_ref(fits$cbpp_period_var$model, "test-lmer.R", "cbpp_var",
                                  "cbind(incidence, size - incidence) ~ period * var + (1 | herd)", "ml", "binomial")
out$`_about` <- paste("lme4", as.character(packageVersion("lme4")), "on", R.version.string,
                      "by tests/reference/make_lme4_suite.R: cases from lme4's own tests (field 'source').")
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           paste0(ref, "lme4_suite.json"))
