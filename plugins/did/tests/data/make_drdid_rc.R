# Writes mpdta_drdid_reg_rc.csv: ATT(g, t) and SEs of R did's repeated cross-section path with
# est_method = "reg", "ipw" and "dr" and covariate lpop on mpdta (never-treated comparisons, varying base
# period), computed with DRDID's own reg_did_rc, std_ipw_did_rc and drdid_rc (R/reg_did_rc.R,
# R/std_ipw_did_rc.R, R/drdid_rc.R of
# github.com/pedrohcgs/DRDID, sourced; fastglm, not installable here, replaced by base R's
# lm.wfit and glm.fit, the same weighted least squares and logit fits),
# assembled as R did's compute.att_gt does: the row influence function times n / n1, summed
# within ids (rows for panel = FALSE; counties for allow_unbalanced_panel = TRUE on the data with
# make_mpdta.R's rows dropped), se = sqrt(sum(psi^2)) / n with n the number of ids.
#
# Usage: Rscript make_drdid_rc.R <DRDID checkout> <output directory>
args <- commandArgs(trailingOnly = TRUE)
for (f in c("reg_did_rc.R", "std_ipw_did_rc.R", "drdid_rc.R")) {
  code <- readLines(file.path(args[1], "R", f))
  code <- gsub("fastglm::fastglm(", "fastglm_by_glm_fit(", code, fixed = TRUE)
  eval(parse(text = code))
}
fastglm_by_glm_fit <- function(x, y, weights, family, ...) {
  if (family$family == "binomial") {
    f <- suppressWarnings(glm.fit(x, y, weights = weights, family = stats::binomial(), intercept = FALSE))
    return(list(coefficients = f$coefficients, fitted.values = f$fitted.values, converged = f$converged))
  }
  list(coefficients = lm.wfit(x, y, weights)$coefficients)
}
d <- read.csv(file.path(args[2], "mpdta.csv"))
cells <- function(d, ids, label, est) {
  n <- length(unique(ids))
  years <- sort(unique(d$year))
  out <- NULL
  for (g in c(2004, 2006, 2007)) for (t in years[-1]) {
    b <- if (t < g) years[match(t, years) - 1] else g - 1
    keep <- d$year %in% c(b, t) & d$first.treat %in% c(0, g)
    s <- d[keep, ]
    fn <- switch(est, dr = drdid_rc, ipw = std_ipw_did_rc, reg = reg_did_rc)
    r <- fn(y = s$lemp, post = as.numeric(s$year == t), D = as.numeric(s$first.treat == g),
            covariates = cbind(1, s$lpop), inffunc = TRUE)
    psi <- rowsum((n / nrow(s)) * r$att.inf.func, ids[keep])
    out <- rbind(out, data.frame(data = label, est_method = est, group = g, period = t, att = r$ATT,
                                 se = sqrt(sum(psi^2)) / n))
  }
  out
}
drop <- (d$countyreal * 7 + d$year) %% 10 == 0
res <- NULL
for (est in c("reg", "ipw", "dr")) {
  res <- rbind(res, cells(d, seq_len(nrow(d)), "rc", est), cells(d[!drop, ], d$countyreal[!drop], "unbalanced", est))
}
write.csv(res, file.path(args[2], "mpdta_drdid_reg_rc.csv"), row.names = FALSE)
