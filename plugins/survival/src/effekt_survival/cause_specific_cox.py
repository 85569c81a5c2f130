"""Cause-specific Cox regression: the hazard ratio of one exit among competing exits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from effekt.errors import DataError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, check_alpha
from effekt.vocabulary import validated
from effekt_survival._coxfit import fit_cox
from effekt_survival._data import check_survival
from effekt_survival.aalen_johansen import simulate_competing
from effekt_survival.cox import _columns, cox_result

__all__ = ["CauseSpecificCox"]


class CauseSpecificCox:
    """Cox regression of the cause-specific hazard of one exit, the others censored.

    Estimand: the ratio (treated vs control) of the hazard of leaving by
    cause ``k`` among those who have not yet left by any cause - the rate at
    which, e.g., jobs are found by people still in the programme. Unlike the
    subdistribution HR (``fine_gray``) it does not translate into a
    difference in cumulative incidence on its own; report both.

    Formula: the Cox partial likelihood of ``cox`` with event ``event == k``
    and exits by other causes treated as censored at their exit time
    (Prentice et al. 1978). Everything ``cox`` reports (Wald and profile
    intervals, LR and score tests, PH test) is reported per cause; ``extra``
    also lists the HR of every other cause from the same data.

    Defaults and why: ``cause=None`` is the only cause when there is one
    and must be named when there are several; ``strata`` defaults to
    ``blocks``; Efron ties - as ``cox``.

    Parameters
    ----------
    data : DataFrame
    time : str
        Follow-up time column.
    event : str
        Event column: 0 (or the ``censored=`` label) = censored, other values
        (codes or labels) = causes of exit.
    treatment : str
        Assigned arm: 0/1, or two labels declared with ``arms=``.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text or categorical treatment.
    censored : value, default=None
        The event column's value meaning censored (None: 0 or False).
    cause : value, default=None
        The cause analysed; None is the only cause when there is one.
    strata : str, default=None
        As in ``cox``.
    blocks : str, default=None
        As in ``cox``.
    covariates : list of str, default=None
        As in ``cox`` (text or categorical ones become indicators).
    clusters : str, default=None
        As in ``cox``.
    ties : {"efron", "breslow"}, default="efron"
        As in ``cox``.
    ph_transform : {"km", "rank", "identity", "log", None}, default="km"
        As in ``cox``.
    profile_ci : bool, default=True
        As in ``cox``.
    alpha : float, default=0.05
        1 - confidence level.
    missing : {"error", "drop"}, default="error"
        Refuse or drop rows with missing values.

    Returns
    -------
    EffectResult
        The HR of ``cause``; ``extra["by_cause"]`` the HR, CI and p of every cause.

    Raises
    ------
    DataError
        Bad columns; a ``cause=`` not in the data.
    DesignError
        Several causes and no ``cause=``.
    EstimationError
        A diverging fit.

    References
    ----------
    Prentice et al. (1978), Biometrics 34:541, doi:10.2307/2530374; Putter,
    Fiocco & Geskus (2007), Stat Med 26:2389, doi:10.1002/sim.2712.

    Examples
    --------
    >>> import numpy as np, effekt as ef
    >>> from effekt_survival.aalen_johansen import simulate_competing
    >>> df = simulate_competing(np.random.default_rng(5), n=400, log_hr=np.log(1.74))
    >>> res = ef.estimate("cause_specific_cox", data=df, time="time", event="event", treatment="z",
    ...                   cause=1)
    >>> round(res.estimate, 2), [round(r["hazard_ratio"], 2) for r in res.extra["by_cause"]]
    (1.63, [1.63, 1.01])
    """

    name: ClassVar[str] = "cause_specific_cox"
    estimand: ClassVar[str] = "cause_specific_hazard_ratio"
    kind: ClassVar[str] = "survival"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="survival", supports_blocks=True, supports_clusters=True, supports_covariates=True,
        shift_equivariant=False, scale_equivariant=False, sign_flip=False,
    )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """Constant competing hazards; ``effect`` is the cause-1 log HR, truth = exp(effect)."""
        df = simulate_competing(rng, n=n, log_hr=effect)
        return Synthetic(data=df, spec={"time": "time", "event": "event", "treatment": "z", "cause": 1},
                         truth=math.exp(effect), outcome="time", treatment="z")

    @validated
    def fit(self, data: Any, *, time: str, event: str, treatment: str, arms: tuple[Any, Any] | None = None,
            censored: Any = None, cause: Any = None, strata: str | None = None, blocks: str | None = None,
            covariates: Sequence[str] | str | None = None, clusters: str | None = None, ties: str = "efron",
            ph_transform: str | None = "km", profile_ci: bool = True, alpha: float = 0.05,
            missing: str = "error") -> EffectResult:
        alpha = check_alpha(alpha)
        sc = check_survival(data, time=time, event=event, treatment=treatment, arms=arms, censored=censored,
                            strata=strata, blocks=blocks, clusters=clusters, covariates=covariates,
                            missing=missing, estimator=self.name, strata_need_both_arms=True,
                            one_arm_strata="warn" if covariates else "error")
        cause_code = sc.code_of(cause, estimator=self.name, competing=True)
        assert cause_code is not None
        if not (sc.event == cause_code).any():
            raise DataError(f"cause_specific_cox: event column {event!r} has no events of cause {cause!r}.")
        causes = list(range(1, len(sc.cause_labels) + 1))
        cause = cause_code
        terms = [str(treatment)] + [str(c) for c in sc.cols.covariate_names]
        common = dict(terms=terms, strata=sc.strata, entry=None, weights=None, clusters=sc.cols.clusters,
                      ties=ties, alpha=alpha, estimator=self.name, columns=_columns(event, None, censored))
        fit = fit_cox(sc.time, (sc.event == cause).astype(np.int8), sc.z, sc.cols.X, profile=profile_ci,
                      ph_transform=ph_transform, **common)  # type: ignore[arg-type]
        by_cause = []
        for k in causes:
            f = fit if k == cause else fit_cox(sc.time, (sc.event == k).astype(np.int8), sc.z, sc.cols.X,
                                               profile=False, ph_transform=None, **common)  # type: ignore[arg-type]
            b, s = float(f.beta[0]), float(f.se[0])
            by_cause.append({"cause": sc.label_of(k), "hazard_ratio": math.exp(b), "std_error": s,
                             "conf_low": math.exp(b - 1.959963984540054 * s),
                             "conf_high": math.exp(b + 1.959963984540054 * s),
                             "events": f.n_events})
        se_type = "lin-wei-CR0" if sc.cols.clusters is not None else "model"
        return cox_result(fit, sc, estimator=self.name, estimand=self.estimand, treatment=treatment, alpha=alpha,
                          se_type=se_type, extra={"cause": sc.label_of(cause), "by_cause": by_cause, "ties": ties},
                          warnings=[], outcome=str(event), ev=(sc.event == cause).astype(np.int8))
