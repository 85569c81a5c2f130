# Writes mpdta.csv (R did's example data, data/mpdta.rda of
# github.com/bcallaway11/did: 500 US counties, 2003-2007, teen employment and
# the first year of a minimum-wage rise) and mpdta_rc_means.csv: ATT(g, t) of
# the repeated cross-section estimator without covariates computed by hand as
# differences of four cell means, (Ybar[g, t] - Ybar[g, b]) - (Ybar[C, t] - Ybar[C, b]),
# with never-treated comparisons and the varying base period (b = t - 1 before
# g, b = g - 1 from g on), on the full data and on the data with every row whose
# (countyreal * 7 + year) %% 10 == 0 dropped (an unbalanced panel).
#
# Usage: Rscript make_mpdta.R <mpdta.rda> <output directory>
args <- commandArgs(trailingOnly = TRUE)
load(args[1])
out <- args[2]
d <- mpdta[, c("countyreal", "year", "lemp", "lpop", "first.treat", "treat")]
write.csv(d, file.path(out, "mpdta.csv"), row.names = FALSE)
means <- function(d, label) {
  cm <- function(rows) mean(d$lemp[rows])
  res <- NULL
  years <- sort(unique(d$year))
  for (g in sort(unique(d$first.treat[d$first.treat > 0]))) {
    for (t in years[-1]) {
      b <- if (t < g) years[match(t, years) - 1] else g - 1
      tr <- d$first.treat == g; co <- d$first.treat == 0
      att <- (cm(tr & d$year == t) - cm(tr & d$year == b)) - (cm(co & d$year == t) - cm(co & d$year == b))
      res <- rbind(res, data.frame(data = label, group = g, period = t, base = b, att = att))
    }
  }
  res
}
drop <- (d$countyreal * 7 + d$year) %% 10 == 0
res <- rbind(means(d, "full"), means(d[!drop, ], "dropped"))
write.csv(res, file.path(out, "mpdta_rc_means.csv"), row.names = FALSE)
