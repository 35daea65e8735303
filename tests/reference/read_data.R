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
