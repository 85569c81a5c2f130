"""Designs whose intervention arm is capped by capacity: what adding controls buys."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from effekt import DesignError, PowerResult
from effekt_power.means import TwoMeans
from effekt_power.proportions import TwoProportions

__all__ = ["Capacity"]

_RATIOS = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 10.0)


class Capacity:
    """A trial whose intervention arm is fixed by capacity (e.g. 100 course places).

    The intervention (treated) arm has ``n2`` places; the control arm, ``n``
    individuals, can be made larger. Give a binary outcome through ``p1``
    (control proportion) and ``p2`` (intervention), or a continuous one
    through ``d``; then leave out one of ``n``, ``power``, the effect (``p2``
    or ``d``) or ``alpha``. The formulas are those of ``two_proportions`` and
    ``two_means`` with arm 1 = controls (``n``) and arm 2 = intervention
    (``n2``, fixed).

    Besides the solved quantity, ``extra["by_ratio"]`` tabulates the minimal
    detectable effect (binary: ``p2``; continuous: ``d``) at the power asked
    for, or the power at the effect given, for control:intervention ratios
    1, 1.5, 2, 3, 4, 5, 10 and in the limit of unlimited controls; the gain
    from adding controls is the difference from the 1:1 row. With
    ``n_treated`` fixed the variance of the contrast cannot fall below the
    intervention arm's own, so the gain flattens quickly: most of it comes by
    a ratio of 3 or 4.

    Defaults and why: as in ``two_proportions`` (pooled z) and ``two_means``
    (t test); ``n`` left out asks how many controls reach the power.

    Parameters
    ----------
    n2 : float or array
        Places in the intervention arm (individuals).
    n : float or array, optional
        Individuals in the control arm; leave out to solve for it.
    p1, p2 : float or array, optional
        Binary outcome: control and intervention proportions.
    d : float or array, optional
        Continuous outcome: standardised effect.
    power, alpha, alternative, method, correction, r2, n_covariates
        Passed to the two-arm calculator.

    Returns
    -------
    PowerResult
        ``calculator="capacity"``; ``solved`` is ``"n"`` (counts "individuals
        in the control arm"), ``"power"``, ``"p2"``/``"d"`` or ``"alpha"``.

    Raises
    ------
    DesignError
        Neither or both outcome types, no n2, a power that no number of
        controls reaches (the message gives the power with unlimited controls),
        and every error of the underlying calculator.

    References
    ----------
    Fleiss, Levin & Paik (2003), section 4.4 (unequal sample sizes).

    Examples
    --------
    >>> import effekt as ef
    >>> res = ef.power("capacity", n2=100, p1=0.10, p2=0.20, power=0.8)
    >>> res.solved, round(res.value), res.counts
    ('n', 817, 'individuals in the control arm')
    """

    name: ClassVar[str] = "capacity"
    solvable: ClassVar[tuple[str, ...]] = ("n", "power", "p2", "alpha")
    size: ClassVar[str] = "n"
    effect: ClassVar[str] = "p2"
    effect_null: ClassVar[float | str] = "p1"
    example: ClassVar[dict[str, Any]] = {"n2": 100.0, "p1": 0.10, "p2": 0.20, "n": 300.0, "power": 0.6,
                                         "alpha": 0.05}
    counts: ClassVar[dict[str, str]] = {"n": "individuals in the control arm"}

    @classmethod
    def parameters(cls) -> list[dict[str, str]]:
        """The parameters, as ``effekt power capacity --help`` lists them."""
        rows = [{"name": "n2", "default": "required", "meaning": "Places in the intervention arm."},
                {"name": "n", "default": "solved if left out", "meaning": "Individuals in the control arm."}]
        seen = {"n", "n2", "ratio"}
        for calc in (TwoProportions, TwoMeans):
            for row in calc.parameters():
                if row["name"] not in seen:
                    seen.add(row["name"])
                    rows.append(row)
        return rows

    @classmethod
    def _known_names(cls) -> list[str]:
        return [r["name"] for r in cls.parameters()]

    def solve(self, **params: Any) -> PowerResult:
        """Solve for the one quantity left out; see the class docstring."""
        params = dict(params)
        if "ratio" in params:
            raise DesignError(
                "capacity: ratio= is not used here; give n2= (the capped treated arm) and n= (the "
                "control arm, or leave it out to solve for it)."
            )
        if params.get("n2") is None:
            raise DesignError(
                "capacity: give n2=, the number of places in the intervention arm (e.g. n2=100)."
            )
        known = self._known_names()
        unknown_names = [k for k in params if k not in known]
        if unknown_names:
            raise DesignError(
                f"capacity: unknown parameter(s) {', '.join(repr(k) for k in unknown_names)}. "
                f"This calculator takes {', '.join(sorted(known))}."
            )
        n_treated = params.pop("n2")
        n_control = params.pop("n", None)
        binary = "p1" in params
        continuous = "d" in params
        if binary == continuous:
            raise DesignError(
                "capacity: describe the outcome either as binary (p1= the control proportion, "
                "with p2=) or as continuous (d=, the standardised effect), exactly one of them."
            )
        calc = TwoProportions() if binary else TwoMeans()
        effect = "p2" if binary else "d"
        base = dict(params, n2=n_treated)
        if n_control is not None:
            base["n"] = n_control
        try:
            res = calc.solve(**base)
        except DesignError as exc:
            if n_control is None and "reaches power" in str(exc):
                limit = calc.solve(**dict(base, n=1e9, power=None))
                raise DesignError(
                    f"capacity: no number of controls reaches power {params.get('power')} with "
                    f"{n_treated} places in the intervention arm; with unlimited controls the "
                    f"power is {np.round(np.asarray(limit.value), 4).tolist()}. Accept a larger "
                    "effect, add places, or lengthen recruitment."
                ) from None
            raise
        solved = res.solved
        extra = dict(res.extra)
        extra["n_control"] = extra.pop("n1")
        extra["n_treated"] = extra.pop("n2")
        extra["by_ratio"] = self._by_ratio(calc, base, res, effect)
        inputs = dict(res.inputs)
        inputs.pop("n", None)
        inputs.pop("n2", None)
        inputs["n2"] = np.asarray(n_treated, dtype=float).tolist()
        if n_control is not None:
            inputs["n"] = np.asarray(n_control, dtype=float).tolist()
        return PowerResult(
            calculator=self.name,
            solved=solved,
            counts=self.counts.get(solved, res.counts),
            value=res.value,
            inputs=inputs,
            method=res.method,
            extra=extra,
            curve=res.curve,
        )

    solve.__effekt_validated__ = True  # type: ignore[attr-defined]  # checked inside

    @staticmethod
    def _by_ratio(calc: Any, base: dict[str, Any], res: PowerResult, effect: str) -> dict[str, Any]:
        if np.ndim(base["n2"]) or any(np.ndim(v) for v in base.values() if not isinstance(v, str)):
            return {}
        rows: list[dict[str, Any]] = []
        spec = {k: v for k, v in base.items() if k not in ("n", effect, "power")}
        target = res.inputs.get("power") if res.solved != "power" else None
        given_effect = base.get(effect)
        for ratio in (*_RATIOS, float("inf")):
            n1 = 1e9 if ratio == float("inf") else ratio * float(base["n2"])
            if res.solved == "alpha":
                continue
            if given_effect is not None and target is None:
                value = calc.solve(**dict(spec, n=n1, **{effect: given_effect})).value
                rows.append({"ratio": ratio, "n_control": n1, "power": value})
            elif target is not None:
                value = calc.solve(**dict(spec, n=n1, power=target)).value
                rows.append({"ratio": ratio, "n_control": n1, effect: value})
        if not rows:
            return {}
        key = "power" if "power" in rows[0] else effect
        first = rows[0][key]
        for row in rows:
            row["gain"] = row[key] - first if key == "power" else abs(first - row[key])
        return {"measure": key, "rows": rows}
