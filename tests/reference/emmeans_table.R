# One emmeans summary table as a list of columns (the estimate is the column before SE),
# for the make_emmeans_suite.R and make_emtrends.R scripts:
# source("tests/reference/emmeans_table.R") from the repository root.
tab <- function(s) {
  s <- as.data.frame(s)
  nm <- names(s)
  i <- which(nm == "SE")
  lo <- intersect(c("lower.CL", "asymp.LCL"), nm); hi <- intersect(c("upper.CL", "asymp.UCL"), nm)
  st <- intersect(c("t.ratio", "z.ratio"), nm)
  out <- lapply(s[nm[seq_len(i - 2)]], function(v) if (is.numeric(v)) v else as.character(v))
  out$estimate <- s[[i - 1]]; out$SE <- s$SE; out$df <- s$df
  if (length(lo)) { out$lower <- s[[lo]]; out$upper <- s[[hi]] }
  if (length(st)) { out$stat <- s[[st]]; out$p_value <- s$p.value }
  out
}
