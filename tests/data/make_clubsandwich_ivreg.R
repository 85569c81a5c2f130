# Reference values for effekt's weighted two-stage least squares CR2 (tests/test_sandwich_clubsandwich.py),
# from R clubSandwich 0.5.8 with AER::ivreg, and CR1 from R sandwich::vcovCL.
# Run from the repository root: Rscript tests/data/make_clubsandwich_ivreg.R
# Writes tests/data/clubsandwich_ivreg.csv (the data) and tests/data/clubsandwich_ivreg.json (the values).
# For an ivreg fit clubSandwich takes the projected regressors (the first-stage fitted values,
# model.matrix(fit, component = "projected")) as the design, the structural residuals, the weights as
# W and the working model Var(e) = sigma^2 I (inverse_var is not available for ivreg).
suppressMessages({
  library(AER)
  library(clubSandwich)
  library(sandwich)
  library(jsonlite)
})
set.seed(23)
G <- 14
n_g <- rep(c(4, 5, 6, 7, 8, 9, 10), 2)
g <- rep(seq_len(G), n_g)
n <- length(g)
z <- rbinom(n, 1, 0.5)
x <- round(rnorm(n), 3)
always <- runif(n) < 0.1
d <- as.integer(always | (z == 1 & runif(n) < 0.7))
y <- round(1 + 1.5 * d + 0.5 * x + rnorm(G)[g] + rnorm(n), 3)
w <- round(runif(n, 0.5, 2), 3)  # varies within clusters
f <- factor(rep(c("a", "b", "c"), length.out = n))  # crosses the clusters
h <- factor(paste0(g, "-", unlist(lapply(n_g, function(m) rep(1:2, length.out = m)))))  # nested in the clusters
dat <- data.frame(y, d, z, x, g, w, f, h)
write.csv(dat, "tests/data/clubsandwich_ivreg.csv", row.names = FALSE)

out <- list(clubSandwich = as.character(packageVersion("clubSandwich")),
            AER = as.character(packageVersion("AER")))
fits <- list(
  unweighted = ivreg(y ~ d + x | z + x, data = dat),
  weighted = ivreg(y ~ d | z, data = dat, weights = w),
  weighted_covariate = ivreg(y ~ d + x | z + x, data = dat, weights = w),
  weighted_fixed_effect = ivreg(y ~ d + x + f | z + x + f, data = dat, weights = w),
  weighted_nested_effect = ivreg(y ~ d + x + h | z + x + h, data = dat, weights = w)
)
for (nm in names(fits)) {
  m <- fits[[nm]]
  V <- vcovCR(m, cluster = dat$g, type = "CR2")
  ct <- coef_test(m, vcov = V, test = "Satterthwaite")
  out[[nm]] <- list(
    terms = names(coef(m)),
    coef = unname(coef(m)),
    vcov = unname(as.matrix(V)),
    df = unname(ct$df_Satt)
  )
  if ("x" %in% names(coef(m))) {
    wt <- Wald_test(m, constraints = constrain_zero(c("d", "x")), vcov = V, test = "HTZ")
    out[[nm]]$htz <- list(Fstat = wt$Fstat, df_num = wt$df_num, df_denom = wt$df_denom, p_val = wt$p_val)
  }
}
# CR1 of a weighted lm (Stata's factor G / (G - 1) (n - 1) / (n - k)), for the cluster-sum code
m <- lm(y ~ d + x, data = dat, weights = w)
out$cr1_weighted_lm <- list(coef = unname(coef(m)),
                            vcov = unname(vcovCL(m, cluster = ~g, type = "HC1")))
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/data/clubsandwich_ivreg.json")
