# Writes honestdid_medicaid.json: the inputs and the printed results of the
# HonestDiD README (github.com/asheshrambachan/HonestDiD, README.md, "Example
# usage - Medicaid expansions"), taken from the knitr cache committed with that
# README (README_cache/gfm/*.rdb) and from data/BCdata_EventStudy.rda.
#
# Usage: Rscript make_honestdid_fixtures.R <HonestDiD checkout> <output.json>
# (base R only; the cache objects are read with lazyLoad).
#
# The README's first example (chunk 3: TWFE event study of dins on
# i(year, D, ref = 2013) | stfips + year, clustered by stfips) is not cached,
# so betahat and sigma are recomputed from the cached data (chunk 8's
# df_nonstaggered) by OLS with state and year dummies and fixest's clustered
# variance, G/(G-1) * (n-1)/(n-K) with the state effects (nested in the
# clusters) left out of K. The same formula applied to chunk 8's regression
# (with the control) reproduces its cached cov.scaled, which is checked below.
args <- commandArgs(trailingOnly = TRUE)
repo <- args[1]; out <- args[2]
cache <- file.path(repo, "README_cache", "gfm")
chunk <- function(prefix) {
  f <- list.files(cache, pattern = paste0("^", prefix, "_.*\\.rdb$"), full.names = TRUE)
  e <- new.env(); lazyLoad(sub("\\.rdb$", "", f), envir = e); e
}
c8 <- chunk("unnamed-chunk-8")
df <- c8$df_nonstaggered
twfe <- function(df, control) {
  years <- setdiff(sort(unique(df$year)), 2013)
  D <- sapply(years, function(y) (df$year == y) * df$D)
  colnames(D) <- paste0("year::", years, ":D")
  X <- cbind(D, if (control) cbind(control = df$control) else NULL)
  Z <- cbind(X, model.matrix(~ factor(stfips) + factor(year), data = df))
  fit <- lm.fit(Z, df$dins)
  keep <- !is.na(fit$coefficients)
  Z <- Z[, keep]; b <- fit$coefficients[keep]
  u <- df$dins - Z %*% b
  bread <- solve(crossprod(Z))
  cl <- df$stfips
  S <- rowsum(Z * as.vector(u), cl)
  V <- bread %*% crossprod(S) %*% bread
  G <- length(unique(cl)); n <- nrow(Z)
  K <- ncol(X) + length(unique(df$year)) - 1 + 1  # slopes + year effects + intercept; state effects nested
  V <- V * G / (G - 1) * (n - 1) / (n - K)
  k <- seq_len(ncol(X))
  list(beta = unname(b[k]), sigma = unname(V[k, k]))
}
with_control <- twfe(df, TRUE)
# chunk 8 caches betahat and sigma after dropping the control (position 8)
stopifnot(max(abs(with_control$beta[1:7] - unname(c8$betahat))) < 1e-10)
stopifnot(max(abs(with_control$sigma[1:7, 1:7] - unname(c8$sigma))) < 1e-12)
base <- twfe(df, FALSE)
tab <- function(x) lapply(as.data.frame(x), function(v) if (is.factor(v)) as.character(v) else v)
c4 <- chunk("unnamed-chunk-4"); c6 <- chunk("unnamed-chunk-6"); c7 <- chunk("unnamed-chunk-7")
c10 <- chunk("unnamed-chunk-10")
bc <- new.env(); load(file.path(repo, "data", "BCdata_EventStudy.rda"), envir = bc)
num <- function(x) unname(as.numeric(x))
mat <- function(x) unname(lapply(seq_len(nrow(x)), function(i) num(x[i, ])))
j <- function(x) {
  if (is.list(x) && !is.null(names(x))) {
    paste0("{", paste(sprintf("\"%s\": %s", names(x), vapply(x, j, "")), collapse = ", "), "}")
  } else if (is.list(x)) {
    paste0("[", paste(vapply(x, j, ""), collapse = ", "), "]")
  } else if (is.character(x)) {
    if (length(x) == 1) sprintf("\"%s\"", x) else paste0("[", paste(sprintf("\"%s\"", x), collapse = ", "), "]")
  } else {
    s <- ifelse(is.na(x), "null", formatC(x, digits = 17, format = "g"))
    if (length(x) == 1) s else paste0("[", paste(s, collapse = ", "), "]")
  }
}
# HonestDiD's folded-normal quantile at mu = 0 (its .qfoldednormal: 1e6 draws, seed 0): the
# FLCI half-length at M = 0 is this number times the smallest standard error
set.seed(0)
q0 <- unname(stats::quantile(abs(stats::rnorm(n = 10^6)), probs = 0.95))
res <- list(
  qfoldednormal_0 = q0,
  medicaid = list(betahat = base$beta, sigma = mat(base$sigma), numPrePeriods = 5, numPostPeriods = 2,
                  delta_rm = tab(c4$delta_rm_results), delta_sd = tab(c6$delta_sd_results),
                  delta_rm_avg = tab(c7$delta_rm_results_avg), original_avg = tab(c7$originalResults_avg)),
  medicaid_control = list(betahat = num(c8$betahat), sigma = mat(c8$sigma)),
  sunab = list(betahat = num(c10$beta_vcv$beta), sigma = mat(c10$beta_vcv$sigma),
               numPrePeriods = sum(c10$beta_vcv$cohorts < 0), numPostPeriods = sum(c10$beta_vcv$cohorts > -1),
               delta_rm = tab(c10$sensitivity_results), original = tab(c10$original_results)),
  bc = list(betahat = num(bc$BCdata_EventStudy$betahat), sigma = mat(bc$BCdata_EventStudy$sigma),
            numPrePeriods = 4, numPostPeriods = 4)
)
writeLines(j(res), out)
