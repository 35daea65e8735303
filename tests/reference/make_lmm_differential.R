# Differential cases: linear mixed models (REML and ML) on simulated awkward data, fitted by
# lme4 and by multilevel (tests/test_lmm_differential.py). Unlike make_lme4_suite.R these
# cases come from no upstream test file: they cover classes of input that users bring —
# missing values in the response and in predictors (na.omit), grouping columns stored as
# strings, integers and logicals, unbalanced and singleton groups, a factor level that
# vanishes with the dropped rows, number-like strings ("10" sorts before "9"), every
# random-term spelling (||, 0 +, a:b, a/b, crossed, 3 x 3 blocks), transformations
# evaluated on the full data before rows are dropped (scale(), poly()), offsets, prior
# weights, rank-deficient fixed effects and singular fits.
# Run from the repository root (no network; R 4.2, lme4 1.1-31):
#   Rscript tests/reference/make_lmm_differential.R
# Data: tests/reference/lmm_differential/<name>.csv, references in lmm_differential.json there (written, then read back with the
# column classes recorded in the JSON, so that R fits what pandas reads). LMMs are fitted
# by lmer's defaults, then polished by tight BOBYQA (rhoend 1e-9) from that optimum, or by
# tight BOBYQA from lmer's start where that ends lower: the lower of lme4's two optima.
suppressPackageStartupMessages({library(lme4); library(jsonlite); library(splines)})
out_dir <- "tests/reference/lmm_differential/"
dir.create(out_dir, showWarnings = FALSE)
classes <- list()
levels_of <- list()
put <- function(d, name) {
  # character columns stay character vectors (pandas reads them with dtype=str); factor
  # columns are written as text and their levels recorded (pandas: a Categorical with them)
  file <- paste0(out_dir, name, ".csv")
  write.csv(d, file, row.names = FALSE)
  cc <- sapply(d, function(v) if (is.logical(v)) "logical" else if (is.factor(v)) "factor"
               else if (is.character(v)) "character" else if (is.integer(v)) "integer" else "numeric")
  classes[[name]] <<- as.list(cc)
  factors <- names(cc)[cc == "factor"]
  levels_of[[name]] <<- lapply(d[factors], levels)
  out <- read.csv(file, colClasses = unname(ifelse(cc == "factor", "character", cc)), stringsAsFactors = FALSE)
  for (v in factors) out[[v]] <- factor(out[[v]], levels = levels(d[[v]]))
  out
}

## ---- data -------------------------------------------------------------------------
# "awk": 240 rows, 26 unbalanced groups g (sizes 1 to 24, two singletons), string ids
# that sort differently as strings ("g10" < "g2"); NA in y and x; a number-like string
# factor f ("9", "10", "11"); the same codes as integers fn; a logical lg; nested a/b with
# b's labels repeated across a; a crossed factor c; an integer-coded grouping gi; a
# factor h whose level "rare" occurs only on rows with y missing; weights and an offset.
set.seed(20261204)
sizes <- c(1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 24, 24)
n <- sum(sizes)
g_id <- rep(seq_along(sizes), sizes)
d <- data.frame(g = paste0("g", g_id))
d$gi <- as.integer(rep(sample(1:12, length(sizes), replace = TRUE), sizes))
d$a <- paste0("A", sample(1:6, n, replace = TRUE))
d$b <- paste0("b", sample(1:3, n, replace = TRUE))
d$c <- sample(c("north", "south", "east", "west", "mid"), n, replace = TRUE)
d$fn <- as.integer(sample(c(9, 10, 11), n, replace = TRUE))
d$f <- as.character(d$fn)
d$lg <- runif(n) < 0.4
d$x <- round(rnorm(n, 2, 1), 3)
d$z <- round(runif(n, -1, 1), 3)
d$xp <- round(exp(rnorm(n)), 4)
d$off <- round(runif(n, 0, 2), 3)
d$w <- round(runif(n, 0.3, 3), 3)
d$x2 <- 2 * d$x
u_g <- rnorm(length(sizes), 0, 1.2)[g_id]
u_gx <- rnorm(length(sizes), 0, 0.5)[g_id]
u_ab <- rnorm(18, 0, 0.8)[as.integer(factor(paste(d$a, d$b)))]
u_a <- rnorm(6, 0, 0.7)[as.integer(factor(d$a))]
u_c <- rnorm(5, 0, 0.6)[as.integer(factor(d$c))]
u_f <- matrix(rnorm(3 * length(sizes), 0, 0.6), ncol = 3)[cbind(g_id, match(d$fn, c(9, 10, 11)))]
d$y <- round(3 + 0.8 * d$x - 0.5 * d$z + 0.3 * (d$fn - 10) + 0.4 * d$lg + 0.3 * log(d$xp) +
             u_g + u_gx * d$x + u_ab + u_a + u_c + u_f + rnorm(n, 0, 1 / sqrt(d$w)), 4)
d$h <- sample(c("p", "q", "r"), n, replace = TRUE)
miss_y <- c(3, 17, 40, 41, 88, 130, 131, 200, 233)
miss_x <- c(5, 60, 61, 150, 222)
d$y[miss_y] <- NA
d$x[miss_x] <- NA
d$x2[miss_x] <- NA
d$h[miss_y[c(2, 5, 7)]] <- "rare"        # only on rows that na.omit drops
d$g2 <- d$g; d$g2[c(8, 90, 91, 160)] <- NA   # a grouping column with missing labels
# the same codes as factors whose levels are not in sorted order: "9" first; "r" first,
# "rare" (only on dropped rows) last
d$fo <- factor(d$f, levels = c("9", "10", "11"))
d$hf <- factor(d$h, levels = c("r", "q", "p", "rare"))
d$k <- ifelse(d$f == "9", sample(c("k1", "k2"), n, replace = TRUE), sample(c("k1", "k2", "k3"), n, TRUE))
awk <- put(d, "awk")
# "sing": 40 rows, 8 groups of 5 with no between-group variance (a singular fit), and a
# 3-level grouping "s" with one observation in each of two levels
set.seed(7)
s <- data.frame(g = rep(sprintf("G%d", c(1, 2, 3, 10, 11, 20, 100, 9)), each = 5))
s$x <- round(rnorm(40), 3)
s$y <- round(1 + 0.5 * s$x + rnorm(40), 4)
s$s <- c(rep("s1", 38), "s2", "s3")
sing <- put(s, "sing")
# new rows for predict(newdata): five complete rows of awk, then one whose every grouping
# level is new (allow.new.levels = TRUE: the population prediction for those terms), then
# one with a new g only
cc <- which(complete.cases(awk[, c("y", "x")]))
nd <- awk[cc[c(1, 2, 10, 50, 100)], ]
new_all <- awk[cc[3], ]; new_all$g <- "gnew"; new_all$gi <- 999L; new_all$a <- "Anew"; new_all$b <- "bnew"
new_all$c <- "nowhere"
new_g <- awk[cc[4], ]; new_g$g <- "gnew"
nd <- rbind(nd, new_all, new_g)
stopifnot(all(nd$hf != "rare"))
nd$y <- NULL
awk_new <- put(nd, "awk_new")
snd <- sing[c(1, 7, 40), ]; snd$g[3] <- "Gnew"; snd$s[3] <- "snew"; snd$y <- NULL
sing_new <- put(snd, "sing_new")
data <- list(awk = awk, sing = sing)
newdata <- list(awk = awk_new, sing = sing_new)

## ---- quantities -------------------------------------------------------------------
tight <- list(rhoend = 1e-9, maxfun = 1e5)
lctl <- lmerControl(optimizer = "bobyqa", optCtrl = tight)
num <- function(x) unname(as.numeric(x))
summ <- function(m, nd) {
  re <- as.data.frame(ranef(m, condVar = TRUE))
  out <- list(
    nobs = nobs(m), ngrps = as.list(ngrps(m)), df = attr(logLik(m), "df"), df_residual = df.residual(m),
    logLik = as.numeric(logLik(m)), AIC = AIC(m), BIC = BIC(m), deviance = deviance(m, REML = FALSE),
    fixef = as.list(fixef(m)), fixef_se = as.list(sqrt(diag(as.matrix(vcov(m))))),
    vcov = unname(as.matrix(vcov(m))), theta = as.list(getME(m, "theta")), sigma = sigma(m),
    singular = isSingular(m), varcorr = as.data.frame(VarCorr(m)),
    ranef = list(grpvar = as.character(re$grpvar), term = as.character(re$term), grp = as.character(re$grp),
                 condval = re$condval, condsd = re$condsd),
    fitted = num(fitted(m)), residuals = head(num(residuals(m)), 20),   # y - fitted: 20 rows suffice
    # an error (a new level of a fixed-effect factor) is recorded as its message
    pred_new = tryCatch(num(predict(m, newdata = nd, allow.new.levels = TRUE)), error = conditionMessage),
    pred_new_marg = tryCatch(num(predict(m, newdata = nd, re.form = NA)), error = conditionMessage))
  if (isREML(m)) out$REMLcrit <- REMLcrit(m)
  out
}
C <- function(data, formula, method = "reml", why = "", weights = NULL)
  list(data = data, formula = formula, method = method, why = why, weights = weights)
cases <- list(
  na_reml = C("awk", "y ~ x + (1 | g)", "reml", "NA in y and x: 14 rows dropped; singleton groups"),
  na_ml = C("awk", "y ~ x + (1 | g)", "ml", "the same by ML"),
  string_numbers = C("awk", "y ~ x + f + (1 | g)", "reml", "f is '9','10','11' as strings: '10' is the baseline"),
  int_factor = C("awk", "y ~ x + factor(fn) + (1 | g)", "ml", "factor() of integers: numeric order, 9 baseline"),
  int_numeric = C("awk", "y ~ fn + (1 | gi)", "reml", "an integer column is numeric in the fixed part, a factor as grouping"),
  logical_pred = C("awk", "y ~ lg + x + (1 | g)", "reml", "a logical predictor: lgTRUE"),
  factor_by_num = C("awk", "y ~ x * f + (1 | gi)", "reml", "factor x numeric interaction, integer grouping"),
  factor_colon_num = C("awk", "y ~ f:x + (1 | g)", "ml", "f:x without main effects (full dummy coding of f)"),
  zero_f = C("awk", "y ~ x + (0 + f | g)", "ml", "(0 + f | g): a 3 x 3 block of indicators"),
  dbar_f = C("awk", "y ~ x + (f || g)", "ml", "lme4 1.1-31 expands (f || g) to (1 | g) + (0 + f | g) (f not split)"),
  dbar_x = C("awk", "y ~ x + (x || g)", "reml", "(x || g) = (1 | g) + (0 + x | g)"),
  dbar_xz = C("awk", "y ~ x + z + (x + z || g)", "ml", "three independent terms"),
  dbar_star = C("awk", "y ~ x + (f * x || gi)", "reml", "(f * x || gi): (1|gi) + (0+f|gi) + (0+x|gi) + (0+f:x|gi)"),
  dbar_power = C("awk", "y ~ x + ((x + z)^2 || g)", "ml", "((x + z)^2 || g): four independent terms"),
  grp_text_numbers = C("awk", "y ~ x + (1 | gi:f) + (1 | f)", "reml",
                       "gi:f: gi (integer, numeric order) slowest, f (text '10' < '9') fastest"),
  interact_group = C("awk", "y ~ x + (1 | a:b)", "reml", "(1 | a:b) of two string columns"),
  nested = C("awk", "y ~ x + (1 | a/b)", "reml", "(1 | a/b): b:a and a"),
  crossed = C("awk", "y ~ x + (1 | a) + (1 | c)", "reml", "crossed string groupings"),
  crossed_nested = C("awk", "y ~ x + z + (1 | g) + (1 | a/b) + (1 | c)", "ml", "four terms"),
  slopes3 = C("awk", "y ~ x + z + (x + z | g)", "reml", "a 3 x 3 correlated block"),
  slope_int_grp = C("awk", "y ~ x + (x | gi)", "ml", "a 2 x 2 block on integer-coded groups"),
  log_x = C("awk", "y ~ log(xp) + (1 | g)", "reml", "log()"),
  scale_x = C("awk", "y ~ scale(x) + (1 | g)", "reml",
              "scale(x): centred on the mean of every non-missing x, rows with y missing included"),
  poly_z = C("awk", "y ~ poly(z, 2) + (1 | g)", "reml",
             "poly(z, 2): orthogonal on all 240 z values, before na.omit"),
  poly_x = C("awk", "y ~ poly(xp, 2) + x + (1 | g)", "ml", "poly() with x missing elsewhere"),
  scale_poly = C("awk", "y ~ scale(x) + poly(z, 2) + ns(xp, 2) + (1 | g)", "reml",
                 "three transforms fitted on their own rows before na.omit, in one formula"),
  I_sq = C("awk", "y ~ x + I(x^2) + (1 | g)", "reml", "I(x^2)"),
  factor_call = C("awk", "y ~ factor(gi) + (1 | g)", "reml", "factor(integer) with many levels"),
  nest_fx = C("awk", "y ~ f/x + (1 | g)", "reml", "f/x = f + f:x: one slope per level of f"),
  in_op = C("awk", "y ~ lg + x %in% lg + (1 | g)", "ml", "x %in% lg = lg:x"),
  minus_main = C("awk", "y ~ f * x - f + (1 | g)", "reml", "f * x - f: x and f:x (named f:x, as written)"),
  colon_num = C("awk", "y ~ x:z + (1 | g)", "ml", "x:z only"),
  star_num = C("awk", "y ~ x * z + (1 | g)", "reml", "x * z"),
  minus_one = C("awk", "y ~ x + f - 1 + (1 | g)", "reml", "-1 with a factor: all three levels"),
  zero_plus = C("awk", "y ~ 0 + x + (1 | g)", "ml", "0 + x: no intercept"),
  offset = C("awk", "y ~ x + offset(off) + (1 | g)", "reml", "offset()"),
  offset_expr = C("awk", "y ~ x + offset(2 * z) + (x | g)", "ml", "offset(2 * z)"),
  weights = C("awk", "y ~ x + (1 | g)", "reml", "prior weights", weights = "w"),
  weights_ml = C("awk", "y ~ x + z + (1 | a/b)", "ml", "prior weights, nested", weights = "w"),
  rankdef_num = C("awk", "y ~ x + x2 + (1 | g)", "reml", "x2 = 2x: lme4 drops x2"),
  rankdef_cell = C("awk", "y ~ f * h + (1 | g)", "reml", "h's level 'rare' vanishes with the NA rows"),
  level_gone = C("awk", "y ~ x + h + (1 | g)", "ml", "'rare' dropped by na.omit: levels p, q, r"),
  ns_x = C("awk", "y ~ ns(xp, 3) + x + (1 | g)", "reml", "ns(): knots from all 240 xp, before na.omit"),
  bs_x = C("awk", "y ~ bs(xp, df = 4) + x + (1 | g)", "ml", "bs(): knots from all 240 xp, before na.omit"),
  na_group = C("awk", "y ~ x + (1 | g2)", "reml", "NA in the grouping column: those rows dropped too"),
  logical_group = C("awk", "y ~ x + (1 | lg)", "reml", "a logical grouping column (2 levels)"),
  nested_int = C("awk", "y ~ x + (1 | gi/a)", "ml", "(1 | gi/a) with gi integer: a:gi and gi"),
  sep_terms = C("awk", "y ~ x + (1 | g) + (0 + x | g)", "reml", "two terms on one grouping"),
  rankdef_empty = C("awk", "y ~ f * k + (1 | g)", "reml", "f = '9' never meets k3: f9:kk3 dropped"),
  logical_by_num = C("awk", "y ~ lg * x + (1 | g)", "ml", "logical x numeric"),
  I_logical = C("awk", "y ~ I(x > 2) + (1 | g)", "reml", "I(x > 2): a logical made inside the formula"),
  offset_log = C("awk", "y ~ z + offset(log(xp)) + (1 | a:b)", "ml", "offset(log(xp)) with a:b"),
  lev_fixed = C("awk", "y ~ x + hf + (1 | g)", "reml", "factor levels r, q, p (+ unused rare): r the reference"),
  lev_interact = C("awk", "y ~ x * fo + (1 | gi)", "ml", "factor levels 9, 10, 11 by a numeric"),
  lev_random = C("awk", "y ~ x + (0 + fo | g)", "ml", "(0 + fo | g): the block in level order"),
  singular = C("sing", "y ~ x + (1 | g)", "reml", "between-group variance 0"),
  singleton_levels = C("sing", "y ~ x + (1 | s)", "reml", "two of three levels with one row"),
  singular_slope = C("sing", "y ~ x + (x | g)", "ml", "singular 2 x 2 block")
)
out <- list()
for (key in names(cases)) {
  case <- cases[[key]]
  d <- data[[case$data]]
  msgs <- character()
  wts <- if (is.null(case$weights)) NULL else d[[case$weights]]
  fit <- function(control, start = NULL) {
    msgs <<- character()
    withCallingHandlers(
      lmer(as.formula(case$formula), d, REML = case$method == "reml", weights = wts, control = control,
           start = start),
      message = function(c) { msgs <<- c(msgs, conditionMessage(c)); invokeRestart("muffleMessage") },
      warning = function(c) { msgs <<- c(msgs, conditionMessage(c)); invokeRestart("muffleWarning") })
  }
  # lmer's default optimizer (nloptwrap) polished by tight BOBYQA from where it stopped:
  # tight BOBYQA from lmer's start alone ends on a worse boundary point in two cases
  # (zero_f, slope_int_grp: deviance 0.02 and 2.2 higher than lmer's default finds)
  m0 <- suppressMessages(suppressWarnings(lmer(as.formula(case$formula), d, REML = case$method == "reml",
                                               weights = wts)))
  # (or tight BOBYQA from lmer's start, where that ends lower: dbar_star)
  crit <- function(m) if (isREML(m)) REMLcrit(m) else deviance(m)
  m <- fit(lctl, list(theta = getME(m0, "theta")))
  polished_msgs <- msgs
  m_plain <- fit(lctl)
  if (crit(m_plain) < crit(m) - 1e-7) m <- m_plain else msgs <- polished_msgs
  out[[key]] <- c(case, list(messages = msgs, rows_dropped = nrow(d) - nobs(m), rows = nrow(d)),
                  summ(m, newdata[[case$data]]))
  if (key == "level_gone")   # a level present only on rows na.omit dropped: lme4 cannot predict it
    out[[key]]$pred_rare <- tryCatch(predict(m, data.frame(x = 1, h = "rare", g = "g5")), error = conditionMessage)
}
out$`_classes` <- classes
out$`_levels` <- levels_of
out$`_about` <- paste("lme4", as.character(packageVersion("lme4")), "on", R.version.string,
                      "by tests/reference/make_lmm_differential.R: LMMs on simulated awkward data.")
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           paste0(out_dir, "lmm_differential.json"))
