# Standard errors of predictions (tests/test_predict_se.py): the fixed effects' sqrt(x V x')
# with lme4's vcov (what glmmTMB's and lme4 1.1-35's predict(se.fit = TRUE, re.form = NA)
# give), R's predict.lm/predict.glm(se.fit = TRUE), and the SE of an LMM's prediction with
# its group effects conditional on theta, sigma * sqrt(a' M^-1 a), from lme4's own L, RZX and
# RX (the pieces of its hatvalues()).
# Run from the repository root (R 4.2.2, lme4 1.1-31):  Rscript tests/reference/make_predict_se.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite); library(Matrix) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
ss <- rd("sleepstudy.csv", "Subject")
cbpp <- rd("cbpp.csv", c("herd", "period"))
ig <- read.csv("tests/reference/inverse_gaussian.csv")
ig$subject <- fac(ig$subject); ig$item <- fac(ig$item)
num <- function(x) unname(as.numeric(x))
population_se <- function(m, nd) {
  X <- model.matrix(delete.response(terms(m, fixed.only = TRUE)), nd)
  num(sqrt(rowSums((X %*% as.matrix(vcov(m))) * X)))
}
conditional_se <- function(m, nd) {   # new rows' a = (Lambda' z', x); factors with all fitted levels
  X <- model.matrix(delete.response(terms(m, fixed.only = TRUE)), nd)
  re <- mkReTrms(findbars(formula(m)), nd, drop.unused.levels = FALSE)
  L <- getME(m, "L"); RX <- getME(m, "RX"); RZX <- getME(m, "RZX")
  CL <- solve(L, solve(L, getME(m, "Lambdat") %*% re$Zt, system = "P"), system = "L")
  CR <- solve(t(RX), t(X) - crossprod(RZX, CL))
  num(sigma(m) * sqrt(colSums(as.matrix(CL)^2) + colSums(as.matrix(CR)^2)))
}
m_ss <- lmer(Reaction ~ Days + (Days | Subject), ss, control = tight)
nd_ss <- data.frame(Days = c(0, 4.5, 9, 2), Subject = factor(c("308", "335", "372", "308"), levels = levels(ss$Subject)))
m_ig <- lmer(rt ~ cond + x + (1 | subject) + (1 | item), ig, weights = w, control = tight)
nd_ig <- ig[c(1, 50, 200, 384), ]; nd_ig$subject <- factor(nd_ig$subject, levels = levels(ig$subject))
nd_ig$item <- factor(nd_ig$item, levels = levels(ig$item))
m_cbpp <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial,
                control = glmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12)))
nd_cbpp <- data.frame(period = factor(c("1", "2", "3", "4"), levels = levels(cbpp$period)), herd = cbpp$herd[1:4])
m_lm <- lm(Reaction ~ Days, ss); nd_lm <- data.frame(Days = c(0, 3.5, 9))
m_glm <- glm(cbind(incidence, size - incidence) ~ period, cbpp, family = binomial)
out <- list(
  sleepstudy = list(data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)", family = "gaussian",
                    rows = list(Days = nd_ss$Days, Subject = as.character(nd_ss$Subject)),
                    population = population_se(m_ss, nd_ss), conditional = conditional_se(m_ss, nd_ss),
                    conditional_fitted_head = conditional_se(m_ss, ss[1:6, ])),
  weighted_crossed = list(data = "inverse_gaussian", formula = "rt ~ cond + x + (1 | subject) + (1 | item)",
                          family = "gaussian", weights = "w", rows = c(1, 50, 200, 384),
                          population = population_se(m_ig, nd_ig), conditional = conditional_se(m_ig, nd_ig)),
  cbpp = list(data = "cbpp", formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
              family = "binomial", rows = list(period = as.character(nd_cbpp$period), herd = as.character(nd_cbpp$herd)),
              population = population_se(m_cbpp, nd_cbpp),
              response = num(population_se(m_cbpp, nd_cbpp) * binomial()$mu.eta(predict(m_cbpp, nd_cbpp, re.form = NA)))),
  lm = list(data = "sleepstudy", formula = "Reaction ~ Days", family = "gaussian", rows = list(Days = nd_lm$Days),
            population = num(predict(m_lm, nd_lm, se.fit = TRUE)$se.fit)),
  glm = list(data = "cbpp", formula = "cbind(incidence, size - incidence) ~ period", family = "binomial",
             rows = list(period = as.character(nd_cbpp$period)),
             population = num(predict(m_glm, nd_cbpp, se.fit = TRUE)$se.fit),
             response = num(predict(m_glm, nd_cbpp, se.fit = TRUE, type = "response")$se.fit))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/predict_se.json")
