# ML references for the Bayesian families (tests/test_families_reference.py), and the
# data sets they use, exported into the package (multilevel.datasets):
#   Salamanders (glmmTMB): zero-inflated Poisson and hurdle (truncated) Poisson counts
#   Owls (glmmTMB): Gamma (log link) arrival times
#   USAirlines (AER): beta regression of load factors
#   wine (ordinal): cumulative logit model, ordinal::clmm
# Run from the repository root: Rscript tests/reference/make_families.R
# The fits read the exported CSV back (read_data.R), so factor levels and rows are the
# ones multilevel.datasets.load gives.
suppressPackageStartupMessages({
  library(glmmTMB); library(ordinal); library(jsonlite)
})
source("tests/reference/read_data.R")

data("Salamanders", package = "glmmTMB")
data("Owls", package = "glmmTMB")
data("wine", package = "ordinal")
data("USAirlines", package = "AER")

write_csv <- function(d, file) {
  # factors quoted (the loader reads quoted columns as categoricals), numbers plain
  for (v in names(d)) if (is.factor(d[[v]])) d[[v]] <- as.character(d[[v]])
  write.csv(d, paste0(dir, file), row.names = FALSE)
}
sal <- Salamanders[, c("site", "mined", "cover", "sample", "DOP", "Wtemp", "DOY", "spp", "count")]
write_csv(sal, "Salamanders.csv")
owls <- Owls[, c("Nest", "FoodTreatment", "SexParent", "ArrivalTime", "SiblingNegotiation",
                 "BroodSize", "NegPerChick")]
write_csv(owls, "Owls.csv")
air <- data.frame(firm = USAirlines$firm, year = as.integer(as.character(USAirlines$year)),
                  output = USAirlines$output, cost = USAirlines$cost, price = USAirlines$price,
                  load = USAirlines$load)
write_csv(air, "USAirlines.csv")
# rating: an ordered factor 1 < ... < 5 in R; its integer value here (numeric order)
wn <- data.frame(response = wine$response, rating = as.integer(as.character(wine$rating)),
                 temp = wine$temp, contact = wine$contact, bottle = wine$bottle,
                 judge = wine$judge)
write_csv(wn, "wine.csv")

sal <- rd("Salamanders.csv", c("site", "mined", "spp"))
owls <- rd("Owls.csv", c("Nest", "FoodTreatment", "SexParent"))
air <- rd("USAirlines.csv", c("firm"))
wn <- rd("wine.csv", c("temp", "contact", "bottle", "judge"))

tmb <- function(m, formula, family, extra = list()) {
  cf <- summary(m)$coefficients$cond
  out <- list(formula = formula, family = family,
              fixef = as.list(cf[, "Estimate"]), se = as.list(cf[, "Std. Error"]),
              sd_group = unname(attr(VarCorr(m)$cond[[1]], "stddev")),
              logLik = as.numeric(logLik(m)))
  c(out, extra)
}
refs <- list()

m <- glmmTMB(count ~ mined + (1 | site), ziformula = ~1, family = poisson, data = sal)
zi <- fixef(m)$zi[["(Intercept)"]]
# glmmTMB's zi is the logit of the structural-zero probability; Bambi's psi is the
# probability of the count component: psi = 1 - plogis(zi)
refs$zip <- tmb(m, "count ~ mined + (1 | site)", "zero_inflated_poisson",
                list(zi_logit = zi, psi = 1 - plogis(zi), data = "Salamanders",
                     r = "glmmTMB(count ~ mined + (1 | site), ziformula = ~1, family = poisson)"))

m <- glmmTMB(count ~ mined + (1 | site), ziformula = ~1, family = truncated_poisson, data = sal)
zi <- fixef(m)$zi[["(Intercept)"]]
# hurdle: zi = P(y = 0); Bambi's psi = P(y > 0) = 1 - plogis(zi)
refs$hurdle <- tmb(m, "count ~ mined + (1 | site)", "hurdle_poisson",
                   list(zi_logit = zi, psi = 1 - plogis(zi), data = "Salamanders",
                        r = "glmmTMB(count ~ mined + (1 | site), ziformula = ~1, family = truncated_poisson)"))

m <- glmmTMB(ArrivalTime ~ FoodTreatment + SexParent + (1 | Nest), family = Gamma(link = "log"),
             data = owls)
# glmmTMB's Gamma sigma is the coefficient of variation: shape (Bambi's alpha) = 1 / sigma^2
refs$gamma <- tmb(m, "ArrivalTime ~ FoodTreatment + SexParent + (1 | Nest)", "gamma",
                  list(sigma = sigma(m), alpha = 1 / sigma(m)^2, link = "log", data = "Owls",
                       r = "glmmTMB(ArrivalTime ~ FoodTreatment + SexParent + (1 | Nest), family = Gamma(link = 'log'))"))

m <- glmmTMB(load ~ log(output) + (1 | firm), family = beta_family(link = "logit"), data = air)
# beta_family's sigma is the precision phi (Var = mu (1 - mu) / (1 + phi)): Bambi's kappa
refs$beta <- tmb(m, "load ~ log(output) + (1 | firm)", "beta",
                 list(kappa = sigma(m), data = "USAirlines",
                      r = "glmmTMB(load ~ log(output) + (1 | firm), family = beta_family(link = 'logit'))"))

wn$rating <- factor(wn$rating, levels = 1:5, ordered = TRUE)
m <- clmm(rating ~ temp + contact + (1 | judge), data = wn, link = "logit", nAGQ = 10)
cf <- coef(summary(m))
refs$cumulative <- list(
  formula = "rating ~ temp + contact + (1 | judge)", family = "cumulative", data = "wine",
  r = "ordinal::clmm(rating ~ temp + contact + (1 | judge), link = 'logit', nAGQ = 10)",
  fixef = as.list(m$beta), se = as.list(cf[names(m$beta), "Std. Error"]),
  threshold = as.list(m$alpha), threshold_se = as.list(cf[names(m$alpha), "Std. Error"]),
  sd_group = unname(sqrt(unlist(VarCorr(m)))), logLik = as.numeric(logLik(m)))

refs$`_about` <- paste0("Rscript tests/reference/make_families.R; R ", getRversion(), ", glmmTMB ",
                        packageVersion("glmmTMB"), ", ordinal ", packageVersion("ordinal"),
                        ", AER ", packageVersion("AER"), ". ML (Laplace; clmm: 10-point AGQ) fits with a random intercept.")
writeLines(toJSON(refs, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/families.json")
