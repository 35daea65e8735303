# lmerTest's type I/II/III anova for formulas whose terms lack some of their margins
# (x:f without x, flag + x:f, f:g without f and g, ...), where R codes a variable by
# indicators for every level (2 in terms()'s "factors") and lmerTest's containment of
# terms follows (tests/test_anova_margins.py). Data: model_matrix.csv (written by
# make_model_matrix.R, a fixed seed).
# Run from the repository root: Rscript tests/reference/make_anova_margins.R
suppressPackageStartupMessages({ library(lmerTest); library(jsonlite) })
d <- read.csv("tests/reference/model_matrix.csv", stringsAsFactors = TRUE)
stopifnot(is.logical(d$flag))
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
formulas <- c(
  "y ~ flag + x:flag + (1 | s)",
  "y ~ x + x:flag + (1 | s)",
  "y ~ f + x:f + (1 | s)",
  "y ~ x:f + (1 | s)",
  "y ~ flag + x:f + (1 | s)",
  "y ~ f + g + f:g:x + (1 | s)",
  "y ~ 0 + f + x:f + (1 | s)",
  "y ~ f * x + g + (1 | s)",
  "y ~ f:g + (1 | s)",
  "y ~ x + I(x^2) + x:f + (1 | s)",
  "y ~ poly(x, 2) * f + (1 | s)",
  "y ~ g + poly(x, 2):f + (1 | s)",
  "y ~ flag * f + x:g + (1 | s)"
)
out <- list()
for (text in formulas) {
  m <- lmer(as.formula(text), d, control = tight)
  res <- list(formula = text, fixef_names = names(fixef(m)))
  for (ty in 1:3) {
    a <- anova(m, type = ty)
    res[[paste0("type", ty)]] <- list(terms = rownames(a), NumDF = a[["NumDF"]], F = a[["F value"]],
                                      DenDF = a[["DenDF"]])
  }
  out[[length(out) + 1]] <- res
}
writeLines(toJSON(out, auto_unbox = FALSE, digits = NA, pretty = TRUE),
           "tests/reference/anova_margins.json")
