"""effekt-power vs statsmodels.stats.power on grids of (n, effect) points.

For two proportions (pooled z: statsmodels ``power_proportions_2indep``;
arcsine: ``NormalIndPower``) and two means (noncentral t: ``TTestIndPower``),
effekt evaluates a side x side grid of (n, effect) points in one vectorised
call; statsmodels is called in a Python loop over 2,000 randomly sampled
grid points, and its time is scaled to the whole grid (``Peer.scale``:
grid points / sampled points) before the ratio. The two must agree to 1e-6
on every sampled point where statsmodels returns a number (scipy's
``nctdtr``, which statsmodels calls, gives NaN at some points far in a
tail). Two more cases solve for n over a grid of effects (statsmodels
``solve_power`` in a loop over 200 of them, relative difference 1e-6).

Run: ``python -m benchmarks --only power`` (sizes are grid points).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from benchmarks.cases import Case, Peer

SAMPLE = 2000
SAMPLE_SOLVE = 200


def _grid(size: int, lo: float, hi: float, elo: float, ehi: float) -> dict[str, Any]:
    side = int(round(np.sqrt(size)))
    rng = np.random.default_rng(1)
    return {"n": np.linspace(lo, hi, side)[:, None], "e": np.linspace(elo, ehi, side)[None, :],
            "i": rng.integers(0, side, SAMPLE), "j": rng.integers(0, side, SAMPLE)}


def _agree(relative: bool = False) -> Any:
    def check(d: dict[str, Any], ours: Any, ref: list[float]) -> None:
        value = np.asarray(ours.value)
        mine = value[d["i"], d["j"]] if "j" in d else value[d["k"]]
        r = np.asarray(ref, dtype=float)
        ok = np.isfinite(r)
        diff = np.abs(mine[ok] - r[ok])
        if relative:
            diff = diff / np.abs(r[ok])
        assert ok.any() and diff.max() <= 1e-6, f"max difference {diff.max():.2e} > 1e-6"

    return check


def _pooled_setup(size: int) -> dict[str, Any]:
    return _grid(size, 20, 2000, 0.11, 0.60)


def _pooled_effekt(d: dict[str, Any]) -> Any:
    import effekt as ef

    return ef.power("two_proportions", p1=0.10, p2=d["e"], n=d["n"])


def _pooled_peer(d: dict[str, Any]) -> list[float]:
    from statsmodels.stats.proportion import power_proportions_2indep

    n, p2 = d["n"], d["e"]
    return [power_proportions_2indep(p2[0, b] - 0.10, 0.10, n[a, 0], return_results=False)
            for a, b in zip(d["i"], d["j"])]


def _arcsine_effekt(d: dict[str, Any]) -> Any:
    import effekt as ef

    return ef.power("two_proportions", p1=0.10, p2=d["e"], n=d["n"], method="arcsine")


def _arcsine_peer(d: dict[str, Any]) -> list[float]:
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    h = proportion_effectsize(d["e"][0], 0.10)
    sm = NormalIndPower()
    return [sm.solve_power(h[b], nobs1=d["n"][a, 0], alpha=0.05, power=None) for a, b in zip(d["i"], d["j"])]


def _means_setup(size: int) -> dict[str, Any]:
    return _grid(size, 5, 1000, 0.02, 1.5)


def _means_effekt(d: dict[str, Any]) -> Any:
    import effekt as ef

    return ef.power("two_means", d=d["e"], n=d["n"])


def _means_peer(d: dict[str, Any]) -> list[float]:
    from statsmodels.stats.power import TTestIndPower

    tt = TTestIndPower()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [tt.solve_power(d["e"][0, b], nobs1=d["n"][a, 0], alpha=0.05, power=None)
                for a, b in zip(d["i"], d["j"])]


def _solve_setup(size: int) -> dict[str, Any]:
    rng = np.random.default_rng(2)
    return {"d": rng.uniform(0.1, 1.2, size), "h": rng.uniform(0.05, 1.0, size),
            "k": rng.integers(0, size, SAMPLE_SOLVE)}


def _solve_means_effekt(d: dict[str, Any]) -> Any:
    import effekt as ef

    return ef.power("two_means", d=d["d"], power=0.8)


def _solve_means_peer(d: dict[str, Any]) -> list[float]:
    from statsmodels.stats.power import TTestIndPower

    tt = TTestIndPower()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [tt.solve_power(d["d"][c], nobs1=None, alpha=0.05, power=0.8) for c in d["k"]]


def _solve_props_effekt(d: dict[str, Any]) -> Any:
    import effekt as ef

    p2 = np.sin(np.arcsin(np.sqrt(0.10)) + d["h"] / 2) ** 2  # Cohen's h against p1 = 0.10
    return ef.power("two_proportions", p1=0.10, p2=p2, power=0.8, method="arcsine")


def _solve_props_peer(d: dict[str, Any]) -> list[float]:
    from statsmodels.stats.power import NormalIndPower

    sm = NormalIndPower()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [sm.solve_power(d["h"][c], nobs1=None, alpha=0.05, power=0.8) for c in d["k"]]


def _grid_points(size: int) -> float:
    side = int(round(np.sqrt(size)))
    return side * side / SAMPLE


def _case(name: str, title: str, setup: Any, ours: Any, peer_name: str, peer: Any, *, solve: bool) -> Case:
    scale = (lambda size: size / SAMPLE_SOLVE) if solve else _grid_points
    return Case(
        name=f"power.{name}", title=title, setup=setup, effekt=ours,
        peers=(Peer(peer_name, peer, _agree(relative=solve), package="statsmodels", scale=scale),),
        sizes=(10_000, 1_000_000), quick_size=10_000, unit="points", repeat=1 if solve else 2,
        notes=f"statsmodels on {SAMPLE_SOLVE if solve else SAMPLE} sampled points, its time scaled to all points",
    )


CASES = [
    _case("pooled", "two proportions, pooled z, power on a grid", _pooled_setup, _pooled_effekt,
          "statsmodels power_proportions_2indep", _pooled_peer, solve=False),
    _case("arcsine", "two proportions, arcsine, power on a grid", _pooled_setup, _arcsine_effekt,
          "statsmodels NormalIndPower.solve_power", _arcsine_peer, solve=False),
    _case("means", "two means, noncentral t, power on a grid", _means_setup, _means_effekt,
          "statsmodels TTestIndPower.solve_power", _means_peer, solve=False),
    _case("solve_means", "two means, t, solve n for each effect", _solve_setup, _solve_means_effekt,
          "statsmodels TTestIndPower.solve_power", _solve_means_peer, solve=True),
    _case("solve_proportions", "two proportions, arcsine, solve n for each effect", _solve_setup,
          _solve_props_effekt, "statsmodels NormalIndPower.solve_power", _solve_props_peer, solve=True),
]
