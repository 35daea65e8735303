# boot's boot.ci interval types ("perc", "basic", "norm"), which lme4's
# confint(method = "boot", boot.type = ...) reports, on fixed replicate vectors
# (tests/test_boot_types.py). Run from the repository root (R 4.2.2, boot 1.3-28):
#   Rscript tests/reference/make_boot_types.R
suppressPackageStartupMessages({ library(boot); library(jsonlite) })
set.seed(20261204)
vectors <- list(skewed = rexp(99, 0.5), normal = rnorm(500, 3, 2), small = c(4.1, 2.2, 9.0, 5.5, 3.3, 7.7, 1.0),
                with_na = c(rnorm(60), NA, Inf))
t0s <- list(skewed = 1.7, normal = 3.2, small = 4.0, with_na = 0.1)
out <- lapply(names(vectors), function(k) {
  t <- vectors[[k]]; t0 <- t0s[[k]]; ft <- t[is.finite(t)]
  levels <- c(0.5, 0.9, 0.95)
  one <- function(conf) list(
    perc = unname(boot:::perc.ci(ft, conf)[1, 4:5]),
    basic = unname(boot:::basic.ci(t0, ft, conf)[1, 4:5]),
    norm = unname(boot:::norm.ci(NULL, conf, t0 = t0, t = ft)[1, 2:3]))
  list(name = k, t = ifelse(is.finite(t), t, ifelse(is.na(t), "NA", "Inf")), t0 = t0, levels = levels,
       intervals = lapply(levels, one))
})
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/boot_types.json")
