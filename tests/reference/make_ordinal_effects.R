# emmeans of an ordinal::clmm fit on the shipped wine data (tests/test_effects_ordinal.py):
# per-category probabilities (mode = "prob") and the expected class (mode = "mean.class"),
# each at the population level (the judge effect at 0) and averaged with equal weights
# over the other factor, as emmeans' reference grid does.
# Run from the repository root: Rscript tests/reference/make_ordinal_effects.R
suppressPackageStartupMessages({
  library(ordinal); library(emmeans); library(jsonlite)
})
source("tests/reference/read_data.R")
wn <- rd("wine.csv", c("temp", "contact", "bottle", "judge"))
wn$rating <- factor(wn$rating, levels = 1:5, ordered = TRUE)
m <- clmm(rating ~ temp + contact + (1 | judge), data = wn, link = "logit", nAGQ = 10)

table <- function(e) {
  d <- as.data.frame(e)
  for (v in names(d)) if (is.factor(d[[v]])) d[[v]] <- as.character(d[[v]])
  d
}
refs <- list(
  formula = "rating ~ temp + contact + (1 | judge)", family = "cumulative", data = "wine",
  prob_temp = table(emmeans(m, ~ rating | temp, mode = "prob")),
  prob_contact = table(emmeans(m, ~ rating | contact, mode = "prob")),
  mean_class_temp = table(emmeans(m, ~ temp, mode = "mean.class")),
  `_about` = paste0("Rscript tests/reference/make_ordinal_effects.R; R ", getRversion(),
                    ", ordinal ", packageVersion("ordinal"), ", emmeans ", packageVersion("emmeans"),
                    ". clmm(rating ~ temp + contact + (1 | judge), link = 'logit', nAGQ = 10); ",
                    "emmeans(m, ~ rating | temp, mode = 'prob'), ~ rating | contact, ",
                    "and ~ temp with mode = 'mean.class'."))
writeLines(toJSON(refs, auto_unbox = TRUE, digits = NA, pretty = TRUE, dataframe = "rows"),
           "tests/reference/ordinal_effects.json")
