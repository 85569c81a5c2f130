# Reference values for the weighted CR2 of twfe (plugins/did/tests/test_did_cr2_variance.py), from
# R clubSandwich: lm(y ~ d + x + factor(u) + factor(t), weights = w) with vcovCR(cluster = u, type = "CR2")
# and coef_test(..., test = "Satterthwaite"), for weights varying within units (w) and constant
# within them (wu). Run from the repository root:
#   Rscript plugins/did/tests/data/make_clubsandwich_twfe_weighted.R
suppressMessages({
  library(clubSandwich)
  library(jsonlite)
})
set.seed(29)
N <- 15
T <- 5
u <- rep(seq_len(N), each = T)
t <- rep(seq_len(T), N)
cohort <- sample(c(0, 3, 4), N, replace = TRUE)[u]
d <- as.numeric(cohort > 0 & t >= cohort)
x <- round(rnorm(N * T), 3)
y <- round(0.5 * d + 0.2 * x + rnorm(N)[u] + 0.1 * t + rnorm(N * T), 3)
w <- round(runif(N * T, 0.5, 2), 3)
wu <- round(runif(N, 0.5, 2), 3)[u]
dat <- data.frame(u, t, d, x, y, w, wu)
write.csv(dat, "plugins/did/tests/data/clubsandwich_twfe_weighted.csv", row.names = FALSE)
out <- list(clubSandwich = as.character(packageVersion("clubSandwich")))
for (wt in c("w", "wu")) {
  m <- lm(y ~ d + x + factor(u) + factor(t), data = dat, weights = dat[[wt]])
  V <- vcovCR(m, cluster = dat$u, type = "CR2")
  ct <- coef_test(m, vcov = V, test = "Satterthwaite", coefs = c("d", "x"))
  out[[wt]] <- list(coef = unname(coef(m)[c("d", "x")]), se = unname(ct$SE), df = unname(ct$df_Satt))
}
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "plugins/did/tests/data/clubsandwich_twfe_weighted.json")
