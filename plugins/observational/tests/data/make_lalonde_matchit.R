# The observational Lalonde data (185 NSW treated, 429 PSID controls; Dehejia & Wahba 1999) as
# MatchIt ships it (cobalt's copy, used in WeightIt's README, is the same 614 rows).
# Run: Rscript make_lalonde_matchit.R   (writes lalonde_matchit.csv)
suppressMessages(library(MatchIt))
data("lalonde", package = "MatchIt")
lalonde$race <- as.character(lalonde$race)
write.csv(lalonde, "lalonde_matchit.csv", row.names = FALSE)
