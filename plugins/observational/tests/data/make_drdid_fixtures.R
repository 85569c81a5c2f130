# Writes the DRDID reference fixtures used by test_panel_drdid.py.
# Data: DRDID (GPL-3, github.com/pedrohcgs/DRDID, data/nsw_long.rda and data/sim_rc.rda, commit 654531e).
# nsw_long is the LaLonde (1986) NSW sample with the CPS comparison group (Dehejia & Wahba 1999),
# public research data; sim_rc is DRDID's simulated repeated cross-section.
# The subsample reproduces the 5,000 units drawn in the examples of DRDID's manual (?drdid, ?ordid,
# ?ipwdid): set.seed(123); sample(unique(id), 5000), under R's default sampler (R >= 3.6).
# Run: Rscript make_drdid_fixtures.R /path/to/nsw_long.rda /path/to/sim_rc.rda
args <- commandArgs(trailingOnly = TRUE)
load(args[1]); load(args[2])
eval_lalonde_cps <- subset(nsw_long, nsw_long$treated == 0 | nsw_long$sample == 2)
set.seed(123)
unit_random <- sample(unique(eval_lalonde_cps$id), 5000)
eval_lalonde_cps <- eval_lalonde_cps[eval_lalonde_cps$id %in% unit_random, ]
keep <- c("id", "year", "re", "experimental", "age", "educ", "black", "married", "nodegree", "hisp", "re74")
out <- eval_lalonde_cps[, keep]
out <- out[order(out$id, out$year), ]
write.csv(out, "nsw_long_cps5000.csv", row.names = FALSE)
write.csv(sim_rc, "drdid_sim_rc.csv", row.names = FALSE)
cat(R.version.string, "\n")
