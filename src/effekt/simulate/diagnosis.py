"""Diagnose a design by simulation: bias, RMSE, coverage, power ... with their Monte Carlo error.

Simulation ``s`` (0-based) draws from the generator of
``numpy.random.SeedSequence(seed).spawn(sims)[s]`` (built directly as
``SeedSequence(seed, spawn_key=(s,))``), and every estimator of the design
is fitted to that one draw (common random numbers). The work is cut into
chunks of simulations, run serially, in joblib processes or on a Dask
cluster, and put back in simulation order, so the same seed gives the same
simulations table and the same diagnosands on every backend and with any
number of workers.

Diagnosands (DeclareDesign's definitions; Blair et al. 2019, table 1) over
the simulations of one estimator, with ``est`` the estimate, ``tau`` the
estimand's value in the same draw, ``sig = p <= alpha``:

========================  =======================================================
``bias``                  ``mean(est - tau)``
``rmse``                  ``sqrt(mean((est - tau)^2))``
``coverage``              ``mean(low <= tau <= high)``
``power``                 ``mean(sig)``
``mean_estimate``         ``mean(est)``
``mean_estimand``         ``mean(tau)``
``sd_estimate``           ``sd(est)``
``mean_se``               ``mean(std_error)``
``mean_ci_width``         ``mean(high - low)``
``type_s_rate``           ``mean(sign(est) != sign(tau) | sig)`` (Gelman & Carlin 2014)
``exaggeration_ratio``    ``mean(|est| / |tau| | sig)`` (Gelman & Carlin 2014)
========================  =======================================================

Each has a bootstrap standard error: the simulations are resampled
``bootstrap_sims`` times (default 100, as DeclareDesign) with the generator
of ``SeedSequence(seed, spawn_key=(sims,))``, a stream no simulation uses.
Fits that raise an effekt error are kept in the simulations table (with
the error) and left out of the diagnosands; their count is the
``n_failed`` diagnosand.

References: Blair, Cooper, Coppock & Humphreys (2019), APSR 113(3);
Gelman, A. & Carlin, J. (2014). Beyond power calculations: assessing type S
and type M errors. Perspectives on Psychological Science 9(6), 641-651.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import warnings as _warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from effekt.errors import DesignError, EffektError
from effekt.result import FrozenDict, to_jsonable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from effekt.simulate.design import Design

__all__ = ["Diagnosis", "diagnose", "map_simulations", "DIAGNOSANDS", "BACKENDS"]

BACKENDS = ("serial", "processes", "dask")
_COLUMNS = ["sim", "estimator", "estimand", "estimand_value", "estimate", "std_error",
            "conf_low", "conf_high", "p_value", "error", "warning"]


# ----------------------------------------------------------------------------- diagnosands
def _sig(s: pd.DataFrame, alpha: float) -> np.ndarray:
    return s["p_value"].to_numpy() <= alpha


def _cond_mean(values: np.ndarray, keep: np.ndarray) -> float:
    kept = values[keep]
    kept = kept[np.isfinite(kept)]
    return float(kept.mean()) if kept.size else float("nan")


def _ratio(s: pd.DataFrame) -> np.ndarray:
    """|estimate| / |estimand|, NaN where the estimand is 0 (no exaggeration of a null effect)."""
    est, tau = np.abs(s["estimate"].to_numpy()), np.abs(s["estimand_value"].to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tau > 0, est / np.where(tau > 0, tau, 1.0), np.nan)


def _sd(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1)) if x.size > 1 else float("nan")


DIAGNOSANDS: dict[str, Callable[[pd.DataFrame, float], float]] = {
    "bias": lambda s, a: float(np.mean(s["estimate"].to_numpy() - s["estimand_value"].to_numpy())),
    "rmse": lambda s, a: float(np.sqrt(np.mean((s["estimate"].to_numpy() - s["estimand_value"].to_numpy()) ** 2))),
    "coverage": lambda s, a: float(np.mean((s["conf_low"].to_numpy() <= s["estimand_value"].to_numpy())
                                           & (s["estimand_value"].to_numpy() <= s["conf_high"].to_numpy()))),
    "power": lambda s, a: float(np.mean(_sig(s, a))),
    "mean_estimate": lambda s, a: float(np.mean(s["estimate"].to_numpy())),
    "mean_estimand": lambda s, a: float(np.mean(s["estimand_value"].to_numpy())),
    "sd_estimate": lambda s, a: _sd(s["estimate"].to_numpy()),
    "mean_se": lambda s, a: float(np.mean(s["std_error"].to_numpy())),
    "mean_ci_width": lambda s, a: float(np.mean(s["conf_high"].to_numpy() - s["conf_low"].to_numpy())),
    "type_s_rate": lambda s, a: _cond_mean(
        (np.sign(s["estimate"].to_numpy()) != np.sign(s["estimand_value"].to_numpy())).astype(float), _sig(s, a)),
    "exaggeration_ratio": lambda s, a: _cond_mean(_ratio(s), _sig(s, a)),
}
"""The built-in diagnosands: ``f(simulations of one estimator, alpha) -> float``."""


# ----------------------------------------------------------------------------- one chunk
def _fitters(design: Design, alpha: float) -> list[tuple[Any, Any, dict[str, Any]]]:
    import inspect

    from effekt.registry import get_estimator

    out = []
    for spec in design.estimators:
        cls = get_estimator(spec.estimator)
        options = spec.fit_options()
        params = inspect.signature(inspect.unwrap(cls.fit)).parameters
        outcomes = design.outcomes
        if (outcomes.attrition or outcomes.attrition_treated) and "missing" not in options and "missing" in params:
            options["missing"] = "drop"  # attrition: the outcome is missing for some units
        if "alpha" not in options and "alpha" in params:
            options["alpha"] = alpha
        out.append((spec, cls(), options))
    return out


class _DesignSimulation:
    """One simulation of a design: ``sim(index, rng) -> rows`` (the fitters built once per process)."""

    def __init__(self, design: Design, alpha: float) -> None:
        self.design, self.alpha = design, alpha
        self._fitters: list[tuple[Any, Any, dict[str, Any]]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"design": self.design, "alpha": self.alpha, "_fitters": None}

    def __call__(self, index: int, rng: np.random.Generator) -> list[tuple[Any, ...]]:
        if self._fitters is None:
            self._fitters = _fitters(self.design, self.alpha)
        nan = float("nan")
        rows: list[tuple[Any, ...]] = []
        frame = self.design.draw(rng)
        values = self.design.estimand_values(frame)
        for spec, est, options in self._fitters:
            tau = values[spec.estimand]
            with _warnings.catch_warnings(record=True) as caught:
                _warnings.simplefilter("always")
                try:
                    res = est.fit(frame, **options)
                except EffektError as exc:
                    rows.append((index, spec.label, spec.estimand, tau, nan, nan, nan, nan, nan,
                                 f"{type(exc).__name__}: {exc}", ""))
                    continue
            try:
                row = res.term(spec.term) if spec.term is not None else getattr(res, "headline", res)
            except (EffektError, KeyError, AttributeError) as exc:  # an event time missing from this draw
                rows.append((index, spec.label, spec.estimand, tau, nan, nan, nan, nan, nan,
                             f"{type(exc).__name__}: no row {spec.term!r} ({exc})", ""))
                continue
            low, high = row.conf_int
            warning = str(caught[0].message) if caught else ""
            rows.append((index, spec.label, spec.estimand, tau, float(row.estimate), float(row.std_error),
                         float(low), float(high), float(row.p_value), "", warning))
        return rows


def _map_chunk(one: Callable[[int, np.random.Generator], Any], chunk: Sequence[tuple[int, np.random.SeedSequence]]) -> list[Any]:
    return [one(index, np.random.default_rng(stream)) for index, stream in chunk]


def _chunks(items: Sequence[Any], pieces: int) -> list[list[Any]]:
    size = max(1, math.ceil(len(items) / max(1, pieces)))
    return [list(items[a:a + size]) for a in range(0, len(items), size)]


def _show_progress(progress: bool | None) -> bool:
    return progress if progress is not None else (sys.stderr.isatty() and not os.environ.get("CI"))


def map_simulations(
    one: Callable[[int, np.random.Generator], Any],
    streams: Sequence[np.random.SeedSequence],
    *,
    backend: str = "serial",
    client: Any = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> list[Any]:
    """``[one(s, default_rng(streams[s])) for s in range(len(streams))]`` on a backend, in order.

    The package's one simulation engine: :func:`diagnose` and
    ``effekt_power.simulate_power`` run through it. ``one`` must be picklable
    for ``"processes"`` (joblib, which also takes closures) and ``"dask"``.
    Each simulation's generator comes from its own stream, so the results
    do not depend on the backend or the number of workers.
    """
    if backend not in BACKENDS:
        raise DesignError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}.")
    items = list(enumerate(streams))
    show = _show_progress(progress)
    if backend == "serial":
        chunks = _chunks(items, min(len(items), 50))
        iterator: Any = chunks
        if show:
            from tqdm import tqdm

            iterator = tqdm(chunks, desc="simulating", unit="chunk", leave=False)
        return [out for chunk in iterator for out in _map_chunk(one, chunk)]
    if backend == "processes":
        try:
            from joblib import Parallel, delayed
        except ImportError:
            raise EffektError("backend='processes' needs joblib: `pip install effekt[dask]` (or `pip install joblib`).") from None
        n_jobs = workers or os.cpu_count() or 1
        done = Parallel(n_jobs=n_jobs)(delayed(_map_chunk)(one, c) for c in _chunks(items, 4 * n_jobs))
        return [out for chunk in done for out in chunk]
    return _map_dask(one, items, client, workers, show)


def _map_dask(one: Any, items: list[tuple[int, np.random.SeedSequence]], client: Any, workers: int | None,
              progress: bool) -> list[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise EffektError(
            "backend='dask' needs dask.distributed, which is not installed: `pip install effekt[dask]`."
        ) from None
    own: list[Any] = []
    if client is None:
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        own = [client, cluster]
    elif isinstance(client, str):
        client = Client(client)
        own = [client]
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        chunks = _chunks(items, 4 * n_workers)
        remote = client.scatter(one, broadcast=True)
        futures = client.map(_map_chunk, [remote] * len(chunks), chunks, pure=False)
        if progress:
            from distributed import progress as dask_progress

            dask_progress(futures)
        done = client.gather(futures)
    finally:
        for obj in own:
            obj.close()
    return [out for chunk in done for out in chunk]


# ----------------------------------------------------------------------------- the result
def _diagnosands(sims: pd.DataFrame, design: Design, alpha: float, funcs: Mapping[str, Callable[..., float]],
                 bootstrap_sims: int, rng: np.random.Generator) -> pd.DataFrame:
    records = []
    n_sims = int(sims["sim"].max()) + 1 if len(sims) else 0
    # one set of resampled simulation indices for every estimator: their errors stay paired
    boot = rng.integers(0, n_sims, size=(bootstrap_sims, n_sims)) if bootstrap_sims else None
    for spec in design.estimators:
        group = sims[sims["estimator"] == spec.label].sort_values("sim")
        failed = group["error"].to_numpy() != ""
        ok = group[~failed].reset_index(drop=True)
        ok_sims = ok["sim"].to_numpy()
        values = {name: (fn(ok, alpha) if len(ok) else float("nan")) for name, fn in funcs.items()}
        draws: dict[str, list[float]] = {name: [] for name in funcs}
        if boot is not None and len(ok) > 1:
            # the resampled simulations that fitted, by position in ok
            pos = np.full(n_sims, -1)
            pos[ok_sims] = np.arange(len(ok))
            for b in range(bootstrap_sims):
                take = pos[boot[b]]
                take = take[take >= 0]
                resampled = ok.iloc[take]
                for name, fn in funcs.items():
                    draws[name].append(fn(resampled, alpha) if take.size else float("nan"))
        for name in funcs:
            arr = np.asarray(draws[name], dtype=float)
            arr = arr[np.isfinite(arr)]
            se = float(np.std(arr, ddof=1)) if arr.size > 1 else float("nan")
            records.append((spec.label, spec.estimand, name, float(values[name]), se))
        records.append((spec.label, spec.estimand, "n_failed", float(failed.sum()), float("nan")))
    return pd.DataFrame(records, columns=["estimator", "estimand", "diagnosand", "value", "std_error"])


def _plot_diagnosis(diag: Diagnosis, *, ax: Any = None, labels: Mapping[Any, str] | None = None,
                    diagnosands: Sequence[str] = ("bias", "rmse", "coverage", "power"), **kwargs: Any) -> Figure:
    from effekt.plotting import COLOURS, figure_and_axes, label_for

    fig, _ = figure_and_axes(ax)
    if ax is None:
        fig.clear()
        axes = fig.subplots(1, len(diagnosands))
        axes = np.atleast_1d(axes)
        fig.set_size_inches(3.0 * len(diagnosands), 3.0)
    else:
        axes = np.atleast_1d(ax)
    table = diag.diagnosands
    names = [e.label for e in diag.design.estimators]
    colours = list(COLOURS.values()) if isinstance(COLOURS, Mapping) else list(COLOURS)
    for k, (a, what) in enumerate(zip(axes, diagnosands)):
        sub = table[table["diagnosand"] == what].set_index("estimator").reindex(names)
        ypos = np.arange(len(names))
        a.errorbar(sub["value"], ypos, xerr=1.96 * sub["std_error"].fillna(0.0), fmt="o",
                   color=colours[0 % len(colours)], capsize=3)
        target = {"bias": 0.0, "coverage": 1 - diag.alpha}.get(what)
        if target is not None:
            a.axvline(target, color="grey", lw=0.8, ls="--")
        a.set_yticks(ypos)
        a.set_yticklabels([label_for(n, labels) for n in names] if k == 0 else [])
        a.set_title(what.replace("_", " "))
        a.set_ylim(-0.5, len(names) - 0.5)
    return fig


@dataclass(frozen=True)
class Diagnosis:
    """The diagnosands of a design, with their bootstrap standard errors, and every simulation.

    ``diagnosands`` is a long table (estimator, estimand, diagnosand, value,
    std_error); ``simulations`` has one row per simulation and estimator
    (the headline estimate, its SE, CI and p-value, the estimand's value in
    that draw, and the error when the fit failed). ``value(name, estimator)``
    reads one diagnosand; ``plot()`` draws bias, RMSE, coverage and power
    with 95% Monte Carlo intervals.
    """

    design: Design
    diagnosands: pd.DataFrame = field(compare=False)
    simulations: pd.DataFrame = field(compare=False, repr=False)
    sims: int = 0
    seed: int = 0
    alpha: float = 0.05
    backend: str = "serial"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", FrozenDict(self.extra))

    def value(self, diagnosand: str, estimator: str | None = None) -> float:
        """One diagnosand of one estimator (the only one when there is one)."""
        return float(self._row(diagnosand, estimator)["value"])

    def std_error(self, diagnosand: str, estimator: str | None = None) -> float:
        """The bootstrap standard error of one diagnosand."""
        return float(self._row(diagnosand, estimator)["std_error"])

    def _row(self, diagnosand: str, estimator: str | None) -> pd.Series:
        names = [e.label for e in self.design.estimators]
        if estimator is None:
            if len(names) > 1:
                raise DesignError(f"name the estimator: the design has {names}.")
            estimator = names[0]
        if estimator not in names:
            raise DesignError(f"no estimator {estimator!r}; the design has {names}.")
        t = self.diagnosands
        hit = t[(t["estimator"] == estimator) & (t["diagnosand"] == diagnosand)]
        if hit.empty:
            raise DesignError(f"no diagnosand {diagnosand!r}; there are {sorted(set(t['diagnosand']))}.")
        return hit.iloc[0]

    def tidy(self) -> pd.DataFrame:
        """One row per estimator, estimand and diagnosand: value and bootstrap std_error."""
        return self.diagnosands.copy()

    def wide(self) -> pd.DataFrame:
        """One row per estimator, one column per diagnosand (values only)."""
        return self.diagnosands.pivot(index=["estimator", "estimand"], columns="diagnosand", values="value")

    def summary(self) -> str:
        title = f"Diagnosis of {self.design.name or 'a design'}: {self.sims} simulations, seed {self.seed}, alpha {self.alpha}"
        lines = [title]
        for spec in self.design.estimators:
            lines.append(f"  {spec.label} ({spec.estimator}) -> {spec.estimand}")
            sub = self.diagnosands[self.diagnosands["estimator"] == spec.label]
            for _, r in sub.iterrows():
                se = "" if not np.isfinite(r["std_error"]) else f"  (SE {r['std_error']:.4f})"
                val = "nan" if not np.isfinite(r["value"]) else f"{r['value']:.4f}"
                lines.append(f"    {r['diagnosand']:<20} {val:>10}{se}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(  # type: ignore[no-any-return]
            {
                "design": self.design.to_dict(),
                "sims": self.sims,
                "seed": self.seed,
                "alpha": self.alpha,
                "backend": self.backend,
                "diagnosands": self.diagnosands.to_dict(orient="records"),
                "extra": dict(self.extra),
            }
        )

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def plot(self, *, ax: Any = None, labels: Mapping[Any, str] | None = None, **kwargs: Any) -> Figure:
        return _plot_diagnosis(self, ax=ax, labels=labels, **kwargs)

    def __repr__(self) -> str:
        return f"Diagnosis({self.design.name or 'design'}: {self.sims} sims, {len(self.design.estimators)} estimators)"


def _check_sims(sims: Any, name: str, low: int) -> int:
    if isinstance(sims, bool) or not isinstance(sims, (int, np.integer)) or sims < low:
        raise DesignError(f"{name} must be a whole number >= {low}; got {sims!r}.")
    return int(sims)


def diagnose(
    design: Design,
    sims: int = 500,
    *,
    seed: int | None = None,
    alpha: float = 0.05,
    backend: str = "serial",
    client: Any = None,
    workers: int | None = None,
    progress: bool | None = None,
    diagnosands: Mapping[str, Callable[[pd.DataFrame, float], float]] | None = None,
    bootstrap_sims: int = 100,
) -> Diagnosis:
    """Simulate ``design`` ``sims`` times and compute its diagnosands.

    Parameters
    ----------
    design : Design
    sims : int, default=500
        Simulations; 500 puts the Monte Carlo SE of a coverage near 0.95 at about 0.01.
    seed : int, optional
        Seed of the simulation streams (drawn and recorded when omitted).
    alpha : float, default=0.05
        Level of the tests (power) and of the intervals (coverage).
    backend : {"serial", "processes", "dask"}, default="serial"
    client : dask.distributed.Client or str, optional
        With ``backend="dask"``: a client, or a scheduler address
        (``"tcp://host:8786"``); when omitted, a local cluster of ``workers``
        processes is started and closed.
    workers : int, optional
        Processes for ``"processes"`` and a local Dask cluster (default: the CPU count).
    progress : bool, optional
        A progress bar (default: on a terminal outside CI).
    diagnosands : mapping of str to callable, optional
        More diagnosands, ``f(simulations of one estimator, alpha) -> float``,
        computed (with bootstrap SEs) after the built-in ones.
    bootstrap_sims : int, default=100
        Bootstrap resamples of the simulations for the SEs (0 for none).

    Returns
    -------
    Diagnosis

    Raises
    ------
    DesignError
        A bad ``sims``, ``seed``, ``alpha``, ``backend`` or option of an
        estimator (checked before anything is simulated), or every fit of an
        estimator failing.

    Examples
    --------
    >>> from effekt.simulate import Design, diagnose
    >>> diag = diagnose(Design.example(), sims=20, seed=1, bootstrap_sims=10)
    >>> round(diag.value("power", "difference_in_means"), 2) >= 0
    True
    """
    from effekt.simulate.design import Design
    from effekt.vocabulary import validate_options

    if not isinstance(design, Design):
        raise DesignError(f"diagnose needs an effekt.simulate.Design; got {type(design).__name__}.")
    sims = _check_sims(sims, "sims", 2)
    bootstrap_sims = _check_sims(bootstrap_sims, "bootstrap_sims", 0)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise DesignError(f"alpha must be a number in (0, 1); got {alpha!r}.")
    if backend not in BACKENDS:
        raise DesignError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}.")
    if workers is not None:
        _check_sims(workers, "workers", 1)
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DesignError(f"seed must be a whole number >= 0; got {seed!r}.")
    seed = int(seed)
    funcs: dict[str, Callable[..., float]] = dict(DIAGNOSANDS)
    for name, fn in (diagnosands or {}).items():
        if not callable(fn):
            raise DesignError(f"diagnosand {name!r} must be a function of (simulations, alpha); got {fn!r}.")
        funcs[name] = fn
    for _spec, est, options in _fitters(design, alpha):  # options checked before any simulation
        validate_options(est, options)
    start = time.perf_counter()
    streams = [np.random.SeedSequence(seed, spawn_key=(i,)) for i in range(sims)]
    done = map_simulations(_DesignSimulation(design, float(alpha)), streams, backend=backend, client=client,
                           workers=workers, progress=progress)
    rows = [row for sim in done for row in sim]
    elapsed = time.perf_counter() - start
    table = pd.DataFrame(rows, columns=_COLUMNS)
    for spec in design.estimators:
        errs = table.loc[table["estimator"] == spec.label, "error"]
        if (errs != "").all():
            raise DesignError(f"every fit of {spec.label!r} ({spec.estimator}) failed; the first error was {errs.iloc[0]}")
    boot_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(sims,)))
    table_d = _diagnosands(table, design, float(alpha), funcs, bootstrap_sims, boot_rng)
    return Diagnosis(design=design, diagnosands=table_d, simulations=table, sims=sims, seed=seed,
                     alpha=float(alpha), backend=backend,
                     extra={"seconds": elapsed, "bootstrap_sims": bootstrap_sims, "sims": sims})
