# Reference values for effekt-observational's matching estimator: R Matching's Match() on the
# Lalonde data the package ships (Dehejia & Wahba 1999 subset of the NSW experiment, 445 men).
# Run: Rscript make_matching_lalonde.R   (writes lalonde.csv and matching_lalonde.json)
suppressMessages(library(Matching))
data(lalonde)
write.csv(lalonde, "lalonde.csv", row.names = FALSE)
X <- as.matrix(lalonde[, c("age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75")])
Y <- lalonde$re78
Tr <- lalonde$treat
ps <- glm(treat ~ age + educ + black + hisp + married + nodegr + re74 + re75, family = binomial, data = lalonde)
lp <- ps$linear.predictors
run <- function(name, ...) {
  m <- Match(Y = Y, Tr = Tr, ...)
  list(name = name, estimate = unname(m$est[1, 1]), se = unname(m$se), se_standard = unname(m$se.standard),
       estimate_unadjusted = unname(m$est.noadj), wnobs = unname(m$wnobs), ndrops = unname(m$ndrops),
       n_pairs = length(m$index.treated))
}
out <- list(
  run("att", X = X),
  run("att_biasadj", X = X, BiasAdjust = TRUE),
  run("ate", X = X, estimand = "ATE"),
  run("ate_m2_biasadj", X = X, estimand = "ATE", M = 2, BiasAdjust = TRUE),
  run("atc", X = X, estimand = "ATC"),
  run("att_m3", X = X, M = 3),
  run("att_mahalanobis", X = X, Weight = 2),
  run("att_caliper", X = X, caliper = 1),
  run("att_exact", X = X, exact = c(FALSE, FALSE, TRUE, FALSE, TRUE, FALSE, FALSE, FALSE)),
  run("att_noreplace", X = X, replace = FALSE),
  run("att_score", X = lp)
)
info <- list(R = R.version.string, Matching = as.character(packageVersion("Matching")), results = out)
writeLines(jsonlite::toJSON(info, auto_unbox = TRUE, digits = 15, pretty = TRUE), "matching_lalonde.json")
