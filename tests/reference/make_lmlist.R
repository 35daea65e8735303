# lme4's lmList(): one lm per group, the pooled residual SD and confint (pool = TRUE)
# (tests/test_lmlist.py). Run from the repository root (R 4.2.2, lme4 1.1-31):
#   Rscript tests/reference/make_lmlist.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
source("tests/reference/read_data.R")  # dir, fac(), rd()
ss <- rd("sleepstudy.csv", "Subject")
# ragged: subject 309 keeps 2 rows (an exact fit), 310 keeps 1 (no slope)
ragged <- ss[!(ss$Subject == "309" & ss$Days > 1) & !(ss$Subject == "310" & ss$Days > 0), ]
one <- function(d) {
  l <- lmList(Reaction ~ Days | Subject, d)
  co <- coef(l)
  ci <- confint(l)   # levels x (lower, upper) x coefficients
  list(levels = rownames(co), columns = colnames(co),
       coef = lapply(seq_len(ncol(co)), function(j) unname(co[[j]])),
       sigma = sigma(l), df = attr(lme4:::pooledSD(l), "df"),
       # lme4 1.1-31's pooledSD counts aliased (NA) coefficients as used df; with
       # df.residual() (n - rank) instead:
       df_residual = sum(sapply(l, df.residual)),
       sigma_df_residual = sqrt(sum(sapply(l, function(e) sum(resid(e)^2))) / sum(sapply(l, df.residual))),
       lower = lapply(dimnames(ci)[[3]], function(k) unname(ci[, 1, k])),
       upper = lapply(dimnames(ci)[[3]], function(k) unname(ci[, 2, k])))
}
out <- list(full = one(ss), ragged = one(ragged))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           "tests/reference/lmlist.json")
