# Writes the lme4 reference values used by test_panel_multilevel.py.
# Run: Rscript make_multilevel_fixtures.R   (R 4.2.2, lme4 from Debian; versions printed below)
suppressMessages(library(lme4))
cat(R.version.string, " lme4", as.character(packageVersion("lme4")), "\n")

# 1. sleepstudy (Belenky et al. 2003, shipped with lme4): random intercept and slope by subject
data(sleepstudy)
write.csv(sleepstudy, "sleepstudy.csv", row.names = FALSE)

# 2. a simulated three-level register: citizens in caseworkers in job centres
set.seed(20231)
n_jc <- 12; cw_per_jc <- 5; cit_per_cw <- 12
jc <- rep(seq_len(n_jc), each = cw_per_jc * cit_per_cw)
cw <- rep(seq_len(n_jc * cw_per_jc), each = cit_per_cw)
caseload <- rep(round(runif(n_jc * cw_per_jc, 15, 45)), each = cit_per_cw)  # caseworker level
fidelity <- rep(round(runif(n_jc, 0, 10), 1), each = cw_per_jc * cit_per_cw)  # job-centre level
age <- round(runif(length(cw), 18, 60))
programme <- rbinom(length(cw), 1, 0.5)
u_jc <- rnorm(n_jc, 0, 2)[jc]
u_cw <- rnorm(n_jc * cw_per_jc, 0, 1.5)[cw]
weeks <- 20 + 1.5 * programme - 0.1 * caseload + 0.4 * fidelity + 0.05 * age + u_jc + u_cw + rnorm(length(cw), 0, 4)
jobs <- data.frame(jobcentre = paste0("jc", jc), caseworker = paste0("cw", cw), caseload, fidelity, age,
                   programme, weeks = round(weeks, 3))
write.csv(jobs, "jobcentres3.csv", row.names = FALSE)

tidy <- function(fit, model) {
  fe <- summary(fit)$coefficients
  vc <- as.data.frame(VarCorr(fit))
  rbind(
    data.frame(model = model, kind = "fixed", term = rownames(fe), estimate = fe[, 1], std_error = fe[, 2]),
    data.frame(model = model, kind = "variance", term = paste(vc$grp, vc$var1, vc$var2, sep = ":"),
               estimate = vc$vcov, std_error = NA)
  )
}
out <- rbind(
  tidy(lmer(Reaction ~ Days + (Days | Subject), sleepstudy), "sleep_slopes_reml"),
  tidy(lmer(Reaction ~ Days + (1 | Subject), sleepstudy), "sleep_intercept_reml"),
  tidy(lmer(Reaction ~ Days + (1 | Subject), sleepstudy, REML = FALSE), "sleep_intercept_ml"),
  tidy(lmer(weeks ~ programme + caseload + fidelity + age + (1 | jobcentre / caseworker), jobs), "jobs3_reml"),
  tidy(lmer(weeks ~ programme + caseload + age + (1 | caseworker), jobs), "jobs2_reml")
)
write.csv(out, "lme4_reference.csv", row.names = FALSE)
