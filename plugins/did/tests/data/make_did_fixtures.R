# Write the CSV fixtures behind test_did_sunab.py, test_did_imputation.py and test_did_pretrends.py
# from the data sets shipped in three R packages' GitHub repositories:
#
#   base_stagg.csv      fixest, data/base_stagg.RData (github.com/lrberge/fixest,
#                       commit dbe56c5d953deb797a61dfc37f6e25fd143c68d4): 95 units x 10 years,
#                       staggered starts, never treated coded year_treated = 10000
#   df_het.csv.gz       didimputation, data/df_het.rda (github.com/kylebutts/didimputation,
#                       commit 906648e192e0efec9939082cbfcb099dc2d94138): 1000 units x 31 years,
#                       never treated coded g = 0
#   he_wang.csv         pretrends, data/HeAndWangResults.rda (github.com/jonathandroth/pretrends,
#                       commit 122731d082a5990e274f57fd9af0968e44977e7a): event-study coefficients
#                       (beta), their covariance (sigma) and event times (tVec) of He & Wang (2017)
#
# Usage (the three .rda/.RData files extracted from those commits into one directory):
#     Rscript make_did_fixtures.R path/to/dir
args <- commandArgs(trailingOnly = TRUE)
src <- if (length(args)) args[1] else "."
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
if (!length(here) || here == "") here <- "."

load(file.path(src, "base_stagg.RData"))
write.csv(base_stagg[, c("id", "year", "year_treated", "time_to_treatment", "treatment_effect_true", "x1", "y")],
          file.path(here, "base_stagg.csv"), row.names = FALSE)

load(file.path(src, "df_het.rda"))
con <- gzfile(file.path(here, "df_het.csv.gz"), "w")
write.csv(as.data.frame(df_het)[, c("unit", "year", "g", "te", "te_dynamic", "dep_var")], con, row.names = FALSE)
close(con)

load(file.path(src, "HeAndWangResults.rda"))
hw <- HeAndWangResults
out <- data.frame(t = hw$tVec, beta = as.numeric(hw$beta), hw$sigma)
names(out)[3:ncol(out)] <- paste0("sigma", seq_len(ncol(hw$sigma)))
write.csv(out, file.path(here, "he_wang.csv"), row.names = FALSE)
