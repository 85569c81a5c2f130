# Reference values for effekt's HTZ Wald test with absorbed fixed effects (tests/test_sandwich_clubsandwich.py),
# from R clubSandwich 0.5.8: the factors enter lm() as dummies, effekt absorbs them.
# Run from the repository root: Rscript tests/data/make_clubsandwich_htz_absorbed.R
# Writes tests/data/clubsandwich_htz_absorbed.csv (the data) and tests/data/clubsandwich_htz_absorbed.json.
suppressMessages({
  library(clubSandwich)
  library(jsonlite)
})
set.seed(31)
G <- 12
n_g <- c(5, 6, 7, 8, 9, 10, 5, 6, 7, 8, 9, 10)
g <- rep(seq_len(G), n_g)
n <- length(g)
x1 <- round(rnorm(n), 3)
x2 <- round(rnorm(n), 3)
x3 <- round(rbinom(n, 1, 0.4) + 0, 3)
f <- factor(sample(c("a", "b", "c", "d"), n, replace = TRUE))  # crosses the clusters
h <- factor(paste0(g, "-", unlist(lapply(n_g, function(m) rep(1:2, length.out = m)))))  # nested in them
y <- round(1 + 0.3 * x1 - 0.2 * x2 + 0.4 * x3 + rnorm(4)[f] + rnorm(G)[g] + rnorm(n), 3)
w <- round(runif(n, 0.5, 2), 3)  # varies within clusters
z <- rbinom(n, 1, 0.5)  # a treatment and a moderator, for heterogeneity's interaction test
m <- factor(sample(c("p", "q", "r"), n, replace = TRUE))
yz <- round(y + z * c(0.2, 0.5, 0.9)[m], 3)
dat <- data.frame(y, x1, x2, x3, g, f, h, w, z, m, yz)
write.csv(dat, "tests/data/clubsandwich_htz_absorbed.csv", row.names = FALSE)

out <- list(clubSandwich = as.character(packageVersion("clubSandwich")))
formulas <- list(crossed = y ~ x1 + x2 + x3 + f, nested = y ~ x1 + x2 + x3 + h,
                 both = y ~ x1 + x2 + x3 + f + h)
for (fe in names(formulas)) for (wt in c("unweighted", "weighted")) {
  m <- if (wt == "weighted") lm(formulas[[fe]], data = dat, weights = w) else lm(formulas[[fe]], data = dat)
  V <- vcovCR(m, cluster = dat$g, type = "CR2")
  ct <- coef_test(m, vcov = V, test = "Satterthwaite")
  tests <- list(
    x1_x2 = Wald_test(m, constraints = constrain_zero(c("x1", "x2")), vcov = V, test = c("HTZ", "Naive-F")),
    x1_x2_x3 = Wald_test(m, constraints = constrain_zero(c("x1", "x2", "x3")), vcov = V, test = "HTZ"),
    x1_eq_x2 = Wald_test(m, constraints = constrain_equal(c("x1", "x2")), vcov = V, test = "HTZ")
  )
  out[[paste(fe, wt, sep = "_")]] <- list(
    coef = unname(coef(m)[2:4]),
    vcov = unname(as.matrix(V)[2:4, 2:4]),
    df = unname(ct$df_Satt[2:4]),
    wald = lapply(tests, function(wt) lapply(split(wt, wt$test), function(r)
      list(Fstat = r$Fstat, df_num = r$df_num, df_denom = r$df_denom, p_val = r$p_val)))
  )
}
# heterogeneity: y = m + z:m + f (f absorbed as blocks in effekt), the test that the three z:m are equal
for (wt in c("unweighted", "weighted")) {
  fit <- if (wt == "weighted") lm(yz ~ m + m:z + f, data = dat, weights = w) else lm(yz ~ m + m:z + f, data = dat)
  V <- vcovCR(fit, cluster = dat$g, type = "CR2")
  r <- Wald_test(fit, constraints = constrain_equal(":z", reg_ex = TRUE), vcov = V, test = "HTZ")
  out[[paste("heterogeneity", wt, sep = "_")]] <- list(
    terms = names(coef(fit)), coef = unname(coef(fit)),
    htz = list(Fstat = r$Fstat, df_num = r$df_num, df_denom = r$df_denom, p_val = r$p_val))
}
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/data/clubsandwich_htz_absorbed.json")
