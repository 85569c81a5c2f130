"""The option names only the DiD estimators use, and their estimand and design codes.

Registered with effekt's vocabulary through the entry point
``[project.entry-points."effekt.vocabulary"] did = "effekt_did.vocabulary:TERMS"``.
The shared names (``outcome``, ``treatment``, ``arms``, ``unit``, ``period``,
``post``, ``first_treated``, ``dose``, ``clusters``, ``weights``,
``covariates``, ``se_type``, ``aggregation``, ``estimator``, ``inference``,
``method``, ``sims``, ``seed``, ``alpha``, ``missing``) are the core's; an
estimator narrows their allowed values with its ``options`` class attribute.
"""

from __future__ import annotations

from effekt.vocabulary import Anything, Choice, Code, Flag, Number, Numbers, Term

__all__ = ["TERMS", "FE_DF_CHOICES"]

_SRC = "effekt-did"

#: how absorbed fixed effects count in CR1's small-sample factor
FE_DF_CHOICES = ("nonnested", "all", "none")

TERMS: tuple[Term | Code, ...] = (
    Term("leads", "Event times before the start kept in an event study; earlier ones are binned into -leads.",
         Number(low=1, integer=True, none_ok=True), "None: every lead in the data",
         families=("event_study",), source=_SRC),
    Term("lags", "Event times after the start kept in an event study; later ones are binned into lags.",
         Number(low=0, integer=True, none_ok=True), "None: every lag in the data",
         families=("event_study",), source=_SRC),
    Term("reference", "The event time normalised to 0 in an event study.",
         Number(integer=True), "-1",
         "The period before the start: the usual normalisation (Freyaldenhoven et al. 2021).",
         ("event_study",), source=_SRC),
    Term("fe_df", "How absorbed fixed effects count in CR1's (N-1)/(N-K): 'nonnested' (fixest), 'all' "
         "(linearmodels PanelOLS) or 'none'.",
         Choice(FE_DF_CHOICES), "'nonnested'", "R fixest's convention, which pyfixest reproduces.",
         ("twfe", "event_study"), source=_SRC),
    Term("control_group", "The comparison units in a staggered DiD: 'nevertreated' or 'notyettreated'.",
         Choice(("nevertreated", "notyettreated")), "'nevertreated'", "R did's default.",
         ("callaway_santanna",), source=_SRC),
    Term("est_method", "How each 2x2 comparison is adjusted for covariates: 'dr' (doubly robust), 'ipw' "
         "or 'reg' (outcome regression).",
         Choice(("dr", "ipw", "reg")), "'dr'", "R did's default; without covariates all three coincide.",
         ("callaway_santanna",), source=_SRC),
    Term("base_period", "The base period of pre-treatment comparisons: 'varying' (t - 1) or 'universal' "
         "(g - 1 - anticipation).",
         Choice(("varying", "universal")), "'varying'", "R did's default.",
         ("callaway_santanna",), source=_SRC),
    Term("anticipation", "Periods before the first treated period in which the treatment may already act.",
         Number(low=0, integer=True), "0", "No anticipation, as R did.", ("callaway_santanna",), source=_SRC),
    Term("window_before", "The length of the before window (e.g. months) behind a change index.",
         Number(low=0, low_open=True, none_ok=True), "None: windows of equal length",
         families=("change_index",), source=_SRC),
    Term("window_after", "The length of the after window (e.g. months) behind a change index.",
         Number(low=0, low_open=True, none_ok=True), "None: windows of equal length",
         families=("change_index",), source=_SRC),
    Term("restricted", "Wild cluster bootstrap with the null imposed (WCR, True) or not (WCU, False).",
         Flag(), "True", "WCR is the more reliable with few clusters (MacKinnon & Webb 2017).",
         ("wild_cluster_bootstrap",), source=_SRC),
    Term("bootstrap_weights", "The wild bootstrap's weights: 'rademacher', 'webb' (six-point) or 'mammen'.",
         Choice(("rademacher", "webb", "mammen")), "'rademacher'",
         "Rademacher is the standard; Webb's weights with fewer than about 12 clusters.",
         ("wild_cluster_bootstrap",), source=_SRC),
    # -- start of the unbalanced-panel and sensitivity block: callaway_santanna's panel options and
    #    event-time window, honest_did's options --
    Term("panel", "Whether the data are a panel (True: rows are units followed over periods) or repeated "
         "cross-sections (False: every row a different observation).",
         Flag(), "True", "R did's default.", ("callaway_santanna",), source=_SRC),
    Term("allow_unbalanced_panel", "Keep every unit of a panel whose units are missing in some periods: the "
         "comparisons use the repeated cross-section estimator and the standard errors cluster by unit.",
         Flag(), "False: an unbalanced panel is refused, naming the units",
         "R did's option; dropping units silently changes the estimand.", ("callaway_santanna",), source=_SRC),
    Term("min_e", "The earliest event time (t - g) kept in the dynamic aggregation.",
         Number(none_ok=True), "None: every event time", "R did's aggte.", ("callaway_santanna",), source=_SRC),
    Term("max_e", "The latest event time (t - g) kept in the dynamic aggregation (and in the simple and group "
         "aggregations' post-treatment cells).",
         Number(none_ok=True), "None: every event time", "R did's aggte.", ("callaway_santanna",), source=_SRC),
    Term("balance_e", "Keep only cohorts observed at least this many periods after treatment in the dynamic "
         "aggregation, so its composition does not change with the event time.",
         Number(low=0, integer=True, none_ok=True), "None: every cohort", "R did's aggte.",
         ("callaway_santanna",), source=_SRC),
    Term("betahat", "Event-study coefficients for a sensitivity analysis: pre-treatment event times first, "
         "the reference period left out.",
         Anything("a vector of numbers"), "required without an event-study result", families=("honest_did",),
         source=_SRC),
    Term("sigma", "The covariance matrix of betahat (positive semi-definite).",
         Anything("a square matrix"), "required without an event-study result", families=("honest_did",),
         source=_SRC),
    Term("num_pre_periods", "How many of betahat's coefficients are pre-treatment.",
         Number(low=1, integer=True, none_ok=True), "None: from the event-study result",
         families=("honest_did",), source=_SRC),
    Term("num_post_periods", "How many of betahat's coefficients are post-treatment.",
         Number(low=1, integer=True, none_ok=True), "None: from the event-study result",
         families=("honest_did",), source=_SRC),
    Term("restriction", "How far parallel trends may fail after treatment: 'relative_magnitudes' (Mbar times "
         "the largest pre-treatment change) or 'smoothness' (slope changes of at most M).",
         Choice(("relative_magnitudes", "smoothness")), "'relative_magnitudes'",
         "HonestDiD's first example; Rambachan & Roth (2023).", ("honest_did",), source=_SRC),
    Term("mbar", "Values of Mbar for relative-magnitude restrictions (1: no larger than the worst "
         "pre-treatment change).",
         Numbers(each=Number(low=0), none_ok=True), "None: 0.5, 1, 1.5, 2", "HonestDiD's README.",
         ("honest_did",), source=_SRC),
    Term("m", "Values of M for smoothness restrictions (0: a linear trend extrapolated).",
         Numbers(each=Number(low=0), none_ok=True),
         "None: 10 values from 0 to an upper bound of the pre-period second differences",
         "HonestDiD's default", families=("honest_did",),
         source=_SRC),
    Term("l_vec", "Weights on the post-treatment effects defining the parameter of a sensitivity analysis.",
         Numbers(none_ok=True), "None: the first post-treatment effect", "HonestDiD's default.",
         ("honest_did",), source=_SRC),
    Term("grid_points", "Grid points over which a test-inversion confidence set is read off.",
         Number(low=10, integer=True), "1000", "HonestDiD's default.", ("honest_did",), source=_SRC),
    Term("breakdown", "Whether to search the breakdown value (the smallest Mbar or M at which the robust set "
         "includes 0).",
         Flag(), "True", families=("honest_did",), source=_SRC),
    Term("folded_normal", "The FLCI's folded-normal quantile: 'exact', or 'simulated' (HonestDiD's Monte "
         "Carlo value from 1e6 draws of R's generator, to reproduce its output).",
         Choice(("exact", "simulated")), "'exact'", "Exact is the quantity HonestDiD approximates.",
         ("honest_did",), source=_SRC),
    # -- end of the unbalanced-panel and sensitivity block --
    # estimands and designs the core does not list
    Code("estimand", "att_by_cohort", "ATT by cohort (first treated period)", source=_SRC),
    Code("estimand", "att_by_period", "ATT by calendar period", source=_SRC),
    Code("design", "staggered", "staggered adoption", source=_SRC),
)
