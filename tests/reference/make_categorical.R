# ML reference for family = "categorical" (tests/test_categorical.py), and the data it uses,
# exported into the package (multilevel.datasets "iris"):
#   iris (R datasets; Fisher 1936, Anderson 1935): species of 150 irises from their sepal
#   and petal measurements; a multinomial logit of Species on Sepal.Length, nnet::multinom
#   (reference category: the first level, setosa, as brms and Bambi).
# Run from the repository root: Rscript tests/reference/make_categorical.R
# The fit reads the exported CSV back (read_data.R), so the rows and levels are the ones
# multilevel.datasets.load gives.
suppressPackageStartupMessages({ library(nnet); library(jsonlite) })
source("tests/reference/read_data.R")

d <- datasets::iris
d$Species <- as.character(d$Species)   # quoted: the loader reads it as a categorical
write.csv(d, paste0(dir, "iris.csv"), row.names = FALSE)

ir <- rd("iris.csv", "Species")
m <- multinom(Species ~ Sepal.Length, data = ir, trace = FALSE, reltol = 1e-14, maxit = 1000)
est <- coef(m)
se <- sqrt(diag(vcov(m)))
# names as the package writes them: <column>[<category>]
rows <- expand.grid(cat = rownames(est), term = colnames(est), stringsAsFactors = FALSE)
name <- sprintf("%s[%s]", rows$term, rows$cat)
value <- est[cbind(rows$cat, rows$term)]
se_name <- sprintf("%s:%s", rows$cat, rows$term)   # vcov's names in nnet: cat:term
out <- list(
  `_about` = paste("nnet", as.character(packageVersion("nnet")), "multinom(Species ~ Sepal.Length,",
                   "iris) by ML (reltol 1e-14); estimates and standard errors named <term>[<category>];",
                   "setosa is the reference. Script: tests/reference/make_categorical.R"),
  formula = "Species ~ Sepal.Length",
  reference = levels(ir$Species)[1],
  estimate = as.list(setNames(value, name)),
  se = as.list(setNames(se[se_name], name)),
  logLik = as.numeric(logLik(m)),
  fitted_rows = c(0L, 50L, 100L),   # 0-based: rows 1, 51 and 101 in R
  fitted = unname(fitted(m)[c(1, 51, 101), ])
)
write_json(out, "tests/reference/categorical.json", auto_unbox = TRUE, digits = NA, pretty = TRUE)
