# lme4's anova(m0, m1, m2) of three or more nested fits: consecutive likelihood-ratio
# tests after ordering by parameter count (tests/test_lrt_many.py).
# Run from the repository root (R 4.2.2, lme4 1.1-31):  Rscript tests/reference/make_lrt_many.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
ss <- rd("sleepstudy.csv", "Subject")
m0 <- lmer(Reaction ~ 1 + (1 | Subject), ss, control = tight)
m1 <- lmer(Reaction ~ Days + (1 | Subject), ss, control = tight)
m2 <- lmer(Reaction ~ Days + (Days | Subject), ss, control = tight)
a <- anova(m2, m0, m1)   # given out of order: lme4 orders them by parameter count
out <- list(formulas = c(m0 = "Reaction ~ 1 + (1 | Subject)", m1 = "Reaction ~ Days + (1 | Subject)",
                         m2 = "Reaction ~ Days + (Days | Subject)"),
            rows = rownames(a), npar = a$npar, AIC = a$AIC, BIC = a$BIC, logLik = a$logLik,
            deviance = a$deviance, Chisq = a$Chisq, Df = a$Df, p = a[["Pr(>Chisq)"]])
# two fits with the same number of parameters (not nested): lme4 prints Chisq with Df 0 and no
# p-value, and keeps the given order of the tie
slope <- lmer(Reaction ~ Days + (0 + Days | Subject), ss, control = tight)
b <- anova(m1, slope, m2)
out$equal_npar <- list(formula = "Reaction ~ Days + (0 + Days | Subject)", rows = rownames(b),
                       npar = b$npar, AIC = b$AIC, logLik = b$logLik, Chisq = b$Chisq, Df = b$Df,
                       p = b[["Pr(>Chisq)"]])
r <- anova(slope, m1)
out$equal_npar_reversed <- list(rows = rownames(r), Chisq = r$Chisq, Df = r$Df, p = r[["Pr(>Chisq)"]])
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           "tests/reference/lrt_many.json")
