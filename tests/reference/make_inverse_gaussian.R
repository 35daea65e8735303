# glmer(family = inverse.gaussian): simulated response times, log, 1/mu^2 and identity links,
# prior weights (tests/test_inverse_gaussian.py). The data are written beside the JSON.
# Run from the repository root (R 4.2.2, lme4 1.1-31):
#   Rscript tests/reference/make_inverse_gaussian.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
set.seed(20261204)
rig <- function(n, mu, lambda) {   # Michael, Schucany & Haas (1976)
  nu <- rnorm(n); y <- nu^2
  x <- mu + mu^2 * y / (2 * lambda) - mu / (2 * lambda) * sqrt(4 * mu * lambda * y + mu^2 * y^2)
  ifelse(runif(n) <= mu / (mu + x), x, mu^2 / x)
}
n_subj <- 24; n_item <- 16
d <- expand.grid(item = sprintf("i%02d", 1:n_item), subject = sprintf("s%02d", 1:n_subj),
                 stringsAsFactors = FALSE)
d$cond <- ifelse(as.integer(substr(d$item, 2, 3)) %% 2 == 0, "hard", "easy")
d$x <- round(rnorm(nrow(d)), 3)
u_s <- rnorm(n_subj, 0, 0.15); u_i <- rnorm(n_item, 0, 0.1); s_slope <- rnorm(n_subj, 0, 0.05)
si <- match(d$subject, sprintf("s%02d", 1:n_subj)); ii <- match(d$item, sprintf("i%02d", 1:n_item))
eta <- log(0.6) + 0.2 * (d$cond == "hard") + 0.05 * d$x + u_s[si] + u_i[ii] + s_slope[si] * d$x
d$rt <- round(rig(nrow(d), exp(eta), 4), 5)
d$w <- round(runif(nrow(d), 0.5, 2), 2)
d <- d[c("subject", "item", "cond", "x", "w", "rt")]
write.csv(d, "tests/reference/inverse_gaussian.csv", row.names = FALSE)
d$subject <- factor(d$subject); d$item <- factor(d$item); d$cond <- factor(d$cond)
summ <- function(m) {
  vc <- as.data.frame(VarCorr(m))
  list(formula = deparse1(formula(m)), link = family(m)$link, weights = !is.null(m@call$weights),
       logLik = as.numeric(logLik(m)), AIC = AIC(m), BIC = BIC(m), deviance = deviance(m),
       df = attr(logLik(m), "df"), fixef = as.list(fixef(m)), se = unname(sqrt(diag(as.matrix(vcov(m))))),
       theta = unname(getME(m, "theta")), sigma = sigma(m),
       vcov_names = vc$grp, vcov = vc$vcov, sdcor = vc$sdcor,
       fitted_head = unname(head(fitted(m), 8)),
       pearson_head = unname(head(residuals(m, type = "pearson"), 8)),
       deviance_resid_head = unname(head(residuals(m, type = "deviance"), 8)),
       predict_link_head = unname(head(predict(m), 8)))
}
ctl <- glmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12))
cases <- list(
  log = glmer(rt ~ cond + x + (1 | subject) + (1 | item), d, inverse.gaussian(link = "log"), control = ctl),
  log_slope = glmer(rt ~ cond + x + (x | subject), d, inverse.gaussian(link = "log"), control = ctl),
  mu2 = glmer(rt ~ cond + x + (1 | subject), d, inverse.gaussian(), control = ctl),
  identity = glmer(rt ~ cond + (1 | subject), d, inverse.gaussian(link = "identity"), control = ctl),
  weights = glmer(rt ~ cond + x + (1 | subject), d, inverse.gaussian(link = "log"), weights = w, control = ctl)
)
out <- lapply(cases, summ)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/inverse_gaussian.json")
