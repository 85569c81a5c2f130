"""Power of any registered estimator by simulation, to cross-check the analytic formulas."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import partial
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from effekt import DesignError, EffektError, PowerResult, Synthetic, get_estimator
from effekt.data import check_seed

__all__ = ["simulate_power", "SimulatedPower"]


def _one(estimator: Any, generate: Callable[..., Any], rng: np.random.Generator, spec: dict[str, Any]) -> tuple[float, float, float, str | None]:
    drawn = generate(rng)
    local = dict(spec)
    if isinstance(drawn, Synthetic):
        data = drawn.data
        local = {**drawn.spec, **local}
    elif isinstance(drawn, pd.DataFrame):
        data = drawn
    else:
        raise DesignError(
            "simulate_power: generate(rng) must return a pandas DataFrame or an effekt.Synthetic; "
            f"it returned {type(drawn).__name__}."
        )
    try:
        res = estimator().fit(data, **local)
    except EffektError as exc:
        return float("nan"), float("nan"), float("nan"), f"{type(exc).__name__}: {exc}"
    # the headline: an EffectTable's scalar fields are its headline row's
    row = getattr(res, "headline", None) or res
    return float(row.estimate), float(row.std_error), float(row.p_value), None


def _one_indexed(estimator: Any, generate: Callable[..., Any], spec: dict[str, Any], index: int,
                 rng: np.random.Generator) -> tuple[float, float, float, str | None]:
    return _one(estimator, generate, rng, spec)


def simulate_power(
    estimator: str | type,
    generate: Callable[[np.random.Generator], Any],
    *,
    sims: int = 500,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = None,
    n_jobs: int = 1,
    progress: bool | None = None,
    **spec: Any,
) -> PowerResult:
    """Power of an estimator's test under a data-generating process, by simulation.

    Each of ``sims`` replications draws a data set with ``generate(rng)``,
    fits ``estimator`` with the options ``spec`` and rejects when the
    headline's ``p_value <= alpha`` (an EffectTable's headline row). Power is the share of rejections::

        power = (1/S) sum_s 1[p_s <= alpha],   MC standard error sqrt(power (1 - power)/S)

    with a Clopper-Pearson interval for the simulation error. Replication
    ``s`` uses its own generator spawned from ``seed``, so the result does not
    depend on ``n_jobs``.

    Defaults and why: ``sims=500`` puts the Monte Carlo SE at most 0.022;
    raise it to 2,000 or more to pin power to one percentage point.

    Parameters
    ----------
    estimator : str or class
        A registered estimator name (``ef.available()``) or an estimator class.
    generate : callable
        ``generate(rng) -> DataFrame`` (then ``spec`` names the columns) or
        ``-> effekt.Synthetic`` (its ``spec`` is used, updated by ``spec``).
        The simulation module's designs plug in here.
    sims : int, default 500
    alpha : float, default 0.05
    seed : int or numpy Generator, optional
    n_jobs : int, default 1
        Parallel workers through joblib.
    progress : bool, optional
        Show a progress bar (default: when run from a terminal outside CI).
    **spec
        Options for ``fit`` (``outcome=``, ``treatment=``, ...).

    Returns
    -------
    PowerResult
        ``solved="power"``; ``extra`` holds ``mc_se``, ``conf_int``,
        ``rejections``, ``failed`` (fits that raised an effekt error, counted
        as non-rejections and listed in ``warnings``), ``mean_estimate``,
        ``sd_estimate`` and ``mean_std_error``.

    Raises
    ------
    DesignError
        sims not a whole number >= 1, alpha outside (0, 1), a bad seed, an
        option the estimator does not take (or a bad value for it), all checked
        before anything is simulated; a generate() that does not return data,
        every replication failing.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> def draw(rng):
    ...     z = np.repeat([0, 1], 50)
    ...     return pd.DataFrame({"y": rng.normal(0.5 * z), "z": z})
    >>> res = simulate_power("difference_in_means", draw, sims=200, seed=1,
    ...                      outcome="y", treatment="z")
    >>> 0.55 < res.value < 0.85
    True
    """
    from effekt.vocabulary import validate_options

    cls = get_estimator(estimator) if isinstance(estimator, str) else estimator
    validate_options(
        SimpleNamespace(name="simulate_power"), {"sims": sims, "alpha": alpha, "seed": seed, "n_jobs": n_jobs, "progress": progress}
    )
    # the options forwarded to the estimator, checked against its fit before any simulation
    # (names only when generate() returns a Synthetic, whose spec supplies the columns)
    validate_options(cls, spec, values=True) if _forward_complete(cls, spec) else _names_only(cls, spec)
    if not callable(generate):
        raise DesignError(
            f"simulate_power: generate must be a function of a numpy Generator; got {generate!r}."
        )
    rng = check_seed(seed)
    # the streams of rng.spawn(sims), run by the package's simulation engine
    streams = rng.bit_generator.seed_seq.spawn(int(sims))  # type: ignore[attr-defined]
    show = progress if progress is not None else (sys.stderr.isatty() and not os.environ.get("CI"))
    from effekt.simulate.diagnosis import map_simulations

    out = map_simulations(
        partial(_one_indexed, cls, generate, spec), streams,
        backend="serial" if n_jobs == 1 else "processes", workers=None if n_jobs == 1 else n_jobs, progress=show,
    )
    est = np.array([o[0] for o in out])
    se = np.array([o[1] for o in out])
    p = np.array([o[2] for o in out])
    errors = [o[3] for o in out if o[3] is not None]
    ok = np.isfinite(p)
    if not ok.any():
        raise DesignError(
            f"simulate_power: all {sims} fits of {getattr(cls, 'name', cls)} failed; the first error "
            f"was {errors[0]}. Check generate() and the options."
        )
    rejections = int(np.sum(p[ok] <= alpha))
    power = rejections / sims
    ci = stats.binomtest(rejections, int(sims)).proportion_ci(confidence_level=0.95, method="exact")
    warnings = []
    if errors:
        warnings.append(
            f"{len(errors)} of {sims} fits failed and count as non-rejections; first: {errors[0]}"
        )
    return PowerResult(
        calculator="simulate_power",
        solved="power",
        counts="probability (share of simulated rejections)",
        value=power,
        inputs={
            "estimator": getattr(cls, "name", str(cls)),
            "sims": int(sims),
            "alpha": float(alpha),
            "seed": seed if isinstance(seed, (int, type(None))) else "Generator",
            **{k: v for k, v in spec.items() if isinstance(v, (str, int, float, bool, type(None)))},
        },
        method="simulation",
        warnings=tuple(warnings),
        extra={
            "mc_se": float(np.sqrt(power * (1.0 - power) / sims)),
            "conf_int": [float(ci.low), float(ci.high)],
            "rejections": rejections,
            "failed": len(errors),
            "mean_estimate": float(np.mean(est[ok])),
            "sd_estimate": float(np.std(est[ok], ddof=1)) if ok.sum() > 1 else None,
            "mean_std_error": float(np.mean(se[ok])),
        },
    )


def _forward_complete(cls: Any, spec: dict[str, Any]) -> bool:
    """Whether ``spec`` holds every required option of ``cls.fit`` (else generate() supplies some)."""
    import inspect

    fit = getattr(cls, "fit", None)
    if fit is None:
        return False
    params = inspect.signature(inspect.unwrap(fit)).parameters
    return all(
        k in spec for k, p in params.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty
    )


def _names_only(cls: Any, spec: dict[str, Any]) -> None:
    """Unknown option names and bad values, without requiring the options generate() supplies."""
    import inspect

    from effekt.vocabulary import constraint_for, signature_options

    fit = getattr(cls, "fit", None)
    if fit is None:
        return
    fn = inspect.unwrap(fit)
    options = signature_options(fn)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(fn).parameters.values())
    name = str(getattr(cls, "name", None) or getattr(cls, "__name__", "estimator"))
    for key, value in spec.items():
        if key not in options and not takes_any:
            raise DesignError(f"{name} takes no option {key!r}. Its options are: {', '.join(options)}.")
        c = constraint_for(cls, key)
        if c is not None:
            c.check(value, key, name)


class SimulatedPower:
    """``ef.power("simulation", estimator=..., generate=..., sims=..., seed=...)``.

    Solves for power only (leave ``power`` out); see :func:`simulate_power`.

    Examples
    --------
    >>> import effekt as ef, numpy as np, pandas as pd
    >>> def draw(rng):
    ...     z = np.repeat([0, 1], 30)
    ...     return pd.DataFrame({"y": rng.normal(z * 0.0), "z": z})
    >>> res = ef.power("simulation", estimator="difference_in_means", generate=draw,
    ...                sims=100, seed=3, outcome="y", treatment="z")
    >>> res.value < 0.15
    True
    """

    name: ClassVar[str] = "simulation"
    solvable: ClassVar[tuple[str, ...]] = ("power",)
    counts: ClassVar[dict[str, str]] = {"power": "probability (share of simulated rejections)"}

    def solve(self, **params: Any) -> PowerResult:
        if params.get("power") is not None:
            raise DesignError(
                "simulation: power is what the simulation estimates; leave it out. To find a "
                "sample size, simulate over a few sizes or use an analytic calculator."
            )
        params.pop("power", None)
        for key in ("estimator", "generate"):
            if key not in params:
                raise DesignError(f"simulation: {key}= is required (see effekt_power.simulate_power).")
        estimator = params.pop("estimator")
        generate = params.pop("generate")
        return simulate_power(estimator, generate, **params)

    solve.__effekt_validated__ = True  # type: ignore[attr-defined]  # checked inside

