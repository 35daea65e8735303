# lme4's predict.merMod (and predict.lm) with missing values in new data, after lme4's own
# tests/test-predict.R: a missing predictor gives NA (na.pass, na.exclude), is left out
# (na.omit) or refused (na.fail); a missing grouping value is a new level, refused unless
# allow.new.levels = TRUE (tests/test_predict_na.py).
# Run from the repository root (R 4.2.2, lme4 1.1-31):
#   Rscript tests/reference/make_predict_na.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
cake <- rd("cake.csv", c("replicate", "recipe", "temperature"))
ss <- rd("sleepstudy.csv", "Subject")
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
m_cake <- lmer(angle ~ temp + (1 | recipe) + (1 | replicate), cake, control = tight)
cake2 <- cake; cake2$temp[1:5] <- NA
cake3 <- cake; cake3$replicate[c(1:5, 40)] <- NA
grouse <- rd("grouseticks.csv", c("BROOD", "YEAR", "LOCATION"))
m_glmm <- glmer(TICKS ~ YEAR + cHEIGHT + (1 | LOCATION), grouse, poisson,
                control = glmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12)))
# lme4 1.1-31 fails ("non-conformable arguments") on a missing factor predictor (YEAR) or a
# missing predictor and a missing group in the same new data: each case has its own data
grouse2 <- grouse[1:40, ]; grouse2$cHEIGHT[c(2, 7)] <- NA
grouse3 <- grouse[1:40, ]; grouse3$LOCATION[c(3, 11)] <- NA
m_ss <- lmer(Reaction ~ Days + (Days | Subject), ss, control = tight)
ss2 <- ss[c(1:12, 170:180), ]; ss2$Days[c(2, 15)] <- NA
ss3 <- ss[c(1:12, 170:180), ]; ss3$Subject[c(4, 20)] <- NA
m_lm <- lm(Reaction ~ Days, ss)
num <- function(x) unname(as.numeric(x))
out <- list(
  cake = list(
    pass_population = num(predict(m_cake, cake2, re.form = NA, na.action = na.pass)),
    pass_groups = num(predict(m_cake, cake2, re.form = NULL, na.action = na.pass)),
    omit_groups = num(predict(m_cake, cake2, re.form = NULL, na.action = na.omit)),
    new_level = num(predict(m_cake, cake3, allow.new.levels = TRUE)),
    new_level_recipe = num(predict(m_cake, cake3, re.form = ~ (1 | recipe), allow.new.levels = TRUE)),
    new_level_population = num(predict(m_cake, cake3, re.form = NA))),
  grouseticks = list(
    link = num(predict(m_glmm, grouse2)),
    response = num(predict(m_glmm, grouse2, type = "response")),
    response_omit = num(predict(m_glmm, grouse2, type = "response", na.action = na.omit)),
    new_level_response = num(predict(m_glmm, grouse3, type = "response", allow.new.levels = TRUE))),
  sleepstudy = list(
    rows = c(1:12, 170:180),
    groups = num(predict(m_ss, ss2)),
    population = num(predict(m_ss, ss2, re.form = NA)),
    new_level = num(predict(m_ss, ss3, allow.new.levels = TRUE))),
  lm = list(pass = num(predict(m_lm, ss2)), omit = num(predict(m_lm, ss2, na.action = na.omit)))
)
write(toJSON(out, digits = NA, na = "null", auto_unbox = TRUE, pretty = TRUE), "tests/reference/predict_na.json")
