# Reference values for effekt's CR2 (tests/test_sandwich_clubsandwich.py), from R clubSandwich.
# Run from the repository root: Rscript tests/data/make_clubsandwich_cr2.R
# Writes tests/data/clubsandwich_cr2.csv (the data) and tests/data/clubsandwich_cr2.json (the values).
suppressMessages({
  library(clubSandwich)
  library(jsonlite)
})
set.seed(11)
G <- 12
n_g <- c(3, 4, 5, 6, 3, 4, 5, 6, 3, 4, 5, 6)
g <- rep(seq_len(G), n_g)
n <- length(g)
x <- round(rnorm(n), 3)
z <- round(rnorm(n), 3)
y <- round(1 + 0.5 * x - 0.3 * z + rnorm(G)[g] + rnorm(n), 3)
w <- round(runif(n, 0.5, 2), 3)  # varies within clusters (clubSandwich's default working model, Phi = I)
f <- factor(rep(c("a", "b", "c"), length.out = n))
wg <- round(runif(G, 0.5, 2), 3)[g]  # constant within clusters
d <- data.frame(y, x, z, g, w, f, wg)
write.csv(d, "tests/data/clubsandwich_cr2.csv", row.names = FALSE)

out <- list(clubSandwich = as.character(packageVersion("clubSandwich")))
fits <- list(
  unweighted = lm(y ~ x + z, data = d),
  fixed_effect = lm(y ~ x + z + f, data = d),
  weighted = lm(y ~ x + z, data = d, weights = w),
  weighted_fixed_effect = lm(y ~ x + z + f, data = d, weights = w),
  cluster_weights = lm(y ~ x + z, data = d, weights = wg)
)
for (nm in names(fits)) {
  m <- fits[[nm]]
  V <- vcovCR(m, cluster = d$g, type = "CR2")
  ct <- coef_test(m, vcov = V, test = "Satterthwaite")
  wt <- Wald_test(m, constraints = constrain_zero(2:3), vcov = V, test = c("HTZ", "Naive-F"))
  out[[nm]] <- list(
    coef = unname(coef(m)),
    vcov = unname(as.matrix(V)),
    df = unname(ct$df_Satt),
    wald = lapply(split(wt, wt$test), function(r) list(Fstat = r$Fstat, df_num = r$df_num,
                                                        df_denom = r$df_denom, p_val = r$p_val))
  )
}
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/data/clubsandwich_cr2.json")
