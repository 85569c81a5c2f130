# The Veterans Administration lung cancer trial (survival::veteran; Kalbfleisch & Prentice 1980)
# written to veteran.csv (trt recoded to z = 0/1), and reference Cox fits with their
# profile-likelihood intervals: each end solves 2 (l_max - l_p(b)) = qchisq(0.95, 1), where
# l_p(b) is the maximised log partial likelihood of coxph(... + offset(b * z)) (Efron ties),
# found by uniroot. Run: Rscript plugins/survival/tests/data/make_veteran.R
library(survival)
d <- veteran
d$z <- d$trt - 1
write.csv(d[, c("time", "status", "z", "karno", "age", "celltype")], file.path(dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE))), "veteran.csv"), row.names = FALSE)
crit <- qchisq(0.95, 1)
prof <- function(strat, covs) {
  rhs <- paste(c(covs, if (strat) "strata(celltype)"), collapse = " + ")
  f <- as.formula(paste("Surv(time, status) ~ z", if (nchar(rhs)) "+", rhs))
  fit <- coxph(f, data = d, ties = "efron", control = coxph.control(eps = 1e-14, iter.max = 100))
  lmax <- fit$loglik[2]
  pl <- function(b) {
    d$off <- b * d$z
    if (length(covs) == 0 && !strat) {
      return(coxph(Surv(time, status) ~ offset(off), data = d, ties = "efron")$loglik)
    }
    g <- as.formula(paste("Surv(time, status) ~ offset(off)", if (nchar(rhs)) "+", rhs))
    m <- coxph(g, data = d, ties = "efron", control = coxph.control(eps = 1e-14, iter.max = 100))
    if (length(covs) == 0) m$loglik else m$loglik[2]
  }
  h <- function(b) 2 * (lmax - pl(b)) - crit
  b <- coef(fit)[["z"]]; s <- sqrt(vcov(fit)[1, 1])
  lo <- uniroot(h, c(b - 4 * s, b), tol = 1e-13)$root
  hi <- uniroot(h, c(b, b + 4 * s), tol = 1e-13)$root
  cat(sprintf("strata=%s covs=%s coef=%.12f se=%.12f loglik=%.10f profile=(%.12f, %.12f)\n",
              strat, paste(covs, collapse = ","), b, s, lmax, exp(lo), exp(hi)))
}
prof(FALSE, character(0))
prof(FALSE, c("karno", "age"))
prof(TRUE, c("karno"))
cat(R.version.string, "survival", as.character(packageVersion("survival")), "\n")
