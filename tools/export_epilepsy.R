# Export brms's `epilepsy` data (Thall & Vail 1990; Leppik et al. 1987) to the package's
# data folder, with the factor columns quoted as the loader expects.
# Run from the repository root: Rscript tools/export_epilepsy.R (needs brms, Debian: r-cran-brms).
suppressMessages(library(brms))
out <- epilepsy[, c("Age", "Base", "Trt", "patient", "visit", "count", "obs", "zAge", "zBase")]
for (col in c("Trt", "patient", "visit", "obs")) out[[col]] <- as.character(out[[col]])
write.csv(out, "src/multilevel/datasets/data/epilepsy.csv", row.names = FALSE)
cat("brms", as.character(packageVersion("brms")), nrow(out), "rows\n")
