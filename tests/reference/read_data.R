# The shipped data sets as multilevel.datasets.load reads them, for the make_*.R scripts
# (source it from the repository root: source("tests/reference/read_data.R")).
dir <- "src/multilevel/datasets/data/"
# factor levels as multilevel.datasets.load orders them: numeric, else C-locale lexical
fac <- function(x) factor(x, levels = if (is.numeric(x)) sort(unique(x)) else
  sort(unique(as.character(x)), method = "radix"))
rd <- function(file, factors = character(), path = dir) {
  con <- if (grepl("gz$", file)) gzfile(paste0(path, file)) else paste0(path, file)
  d <- read.csv(con, stringsAsFactors = FALSE, check.names = FALSE)
  for (v in factors) d[[v]] <- fac(d[[v]])
  d
}
# conditional modes and SDs (condVar) of the first 3 levels of each grouping factor (lme4)
re_tables <- function(m) {
  re <- as.data.frame(ranef(m, condVar = TRUE))
  keep <- unlist(lapply(split(seq_len(nrow(re)), re$grpvar), function(i)
    i[re$grp[i] %in% unique(as.character(re$grp[i]))[1:3]]))
  re <- re[sort(keep), ]
  list(grpvar = as.character(re$grpvar), term = as.character(re$term), grp = as.character(re$grp),
       condval = re$condval, condsd = re$condsd)
}
