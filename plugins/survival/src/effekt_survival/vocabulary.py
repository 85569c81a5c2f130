"""The option names only the survival estimators take.

Registered through the entry-point group ``effekt.vocabulary`` (see
``pyproject.toml``), so :func:`effekt.vocabulary.terms` lists them with the
core's, ``docs/vocabulary.md`` documents them and :func:`effekt.vocabulary.validated`
checks their values before any work. Names shared with other families
(``time``, ``event``, ``censored``, ``cause``, ``horizon``, ``strata``,
``entry``, ``sims``, ...) are the core's.
"""

from __future__ import annotations

from effekt.vocabulary import Choice, Code, Flag, Number, Numbers, Term

__all__ = ["TERMS"]

_SOURCE = "effekt-survival"

TERMS: tuple[Term | Code, ...] = (
    Code("estimand", "hazard_odds_ratio", "odds ratio of the discrete-time hazard", _SOURCE),
    Term(
        "ties",
        "How tied event times enter the partial likelihood: 'efron' or 'breslow'.",
        Choice(("efron", "breslow")),
        "'efron' (fine_gray: 'breslow')",
        "Efron's approximation is R coxph's and lifelines' default and is close to the exact partial "
        "likelihood when register time in whole weeks makes ties common. fine_gray defaults to 'breslow' "
        "because R's cmprsk::crr, the reference implementation by the model's authors, uses it and its "
        "estimates are then reproduced.",
        ("cox", "cause_specific_cox", "fine_gray", "mediation_survival"),
        _SOURCE,
    ),
    Term(
        "conf_type",
        "Transform of the pointwise Kaplan-Meier intervals: 'log-log', 'log' or 'plain'.",
        Choice(("log-log", "log", "plain")),
        "'log-log'",
        "It stays inside [0, 1] (Kalbfleisch & Prentice; lifelines' default); 'log' is R survfit's default.",
        ("kaplan_meier",),
        _SOURCE,
    ),
    Term(
        "ph_transform",
        "Time scale of the Grambsch-Therneau test of proportional hazards: 'km', 'rank', 'identity', "
        "'log', or None to skip the test.",
        Choice(("km", "rank", "identity", "log"), none_ok=True),
        "'km'",
        "R cox.zph's default transform.",
        ("cox", "cause_specific_cox"),
        _SOURCE,
    ),
    Term(
        "profile_ci",
        "Also compute the profile-likelihood interval of the treatment's hazard ratio.",
        Flag(),
        "True",
        "It keeps its level better than the Wald interval with few events; it costs a few more fits.",
        ("cox", "cause_specific_cox"),
        _SOURCE,
    ),
    Term(
        "risk_times",
        "Times at which the number at risk is tabulated (under a Kaplan-Meier plot).",
        Numbers(Number(low=0), none_ok=True),
        "None: round times from 0 to the end of follow-up (the plot's x-axis ticks)",
        "",
        ("kaplan_meier",),
        _SOURCE,
    ),
    Term(
        "rho",
        "Gray's test weight (1 - F(t-))^rho; 0 weighs all times equally.",
        Number(),
        "0",
        "cmprsk::cuminc's default.",
        ("aalen_johansen",),
        _SOURCE,
    ),
    Term(
        "link",
        "Link of the discrete-time hazard model: 'cloglog' or 'logit'.",
        Choice(("cloglog", "logit")),
        "'cloglog'",
        "The complementary log-log link estimates the hazard ratio of the underlying continuous-time "
        "proportional-hazards model (Prentice & Gloeckler 1978).",
        ("discrete_time_hazard",),
        _SOURCE,
    ),
    Term(
        "scale",
        "The scale of a survival mediation effect: 'rmst' (restricted mean time) or 'survival' "
        "(probability of no event by the horizon).",
        Choice(("rmst", "survival")),
        "'rmst'",
        "Both are collapsible, unlike the hazard ratio; the restricted mean is in time units.",
        ("mediation_survival",),
        _SOURCE,
    ),
)
