"""effekt-power vs statsmodels.stats.power on grids of (n, effect) points.

For two proportions (pooled z: statsmodels ``power_proportions_2indep``;
arcsine: ``NormalIndPower``) and two means (noncentral t: ``TTestIndPower``),
effekt evaluates a 1,000 x 1,000 grid of (n, effect) points in one vectorised
call; statsmodels is called in a Python loop over a random sample of the same
grid points, and its time per point is scaled to the grid. The two must agree
to 1e-6 on every sampled point. A second pair of timings solves for n over a
grid of effects (statsmodels ``solve_power`` in a loop).

Run: flock /tmp/effekt-bench.lock .venv/bin/python benchmarks/bench_power.py [--sample 2000]
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
import scipy
import statsmodels
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import power_proportions_2indep, proportion_effectsize

import effekt as ef


def _timed(func):
    start = time.perf_counter()
    out = func()
    return out, time.perf_counter() - start


def _diff(ours: np.ndarray, ref: list[float], relative: bool = False) -> tuple[float, int]:
    """Largest difference where statsmodels returns a number, and how often it returns NaN
    (scipy's nctdtr, which statsmodels calls directly, gives NaN at some points far in a tail)."""
    r = np.asarray(ref, dtype=float)
    ok = np.isfinite(r)
    d = np.abs(ours[ok] - r[ok])
    if relative:
        d = d / np.abs(r[ok])
    return float(np.max(d)), int((~ok).sum())


def _report(label: str, points: int, ours_s: float, sample: int, peer_s: float, diff: tuple[float, int]) -> float:
    max_diff, nans = diff
    ours_pp = ours_s / points
    peer_pp = peer_s / sample
    ratio = peer_pp / ours_pp
    print(
        f"{label:<44} effekt {points:>9,d} pts {ours_s:8.2f} s ({ours_pp * 1e6:8.3f} us/pt) | "
        f"statsmodels {sample:>5,d} pts {peer_s:7.2f} s ({peer_pp * 1e6:9.1f} us/pt) | "
        f"x{ratio:,.0f} faster | max |diff| {max_diff:.1e}"
        + (f" (statsmodels NaN at {nans} points)" if nans else "")
    )
    if max_diff > 1e-6:
        raise SystemExit(f"{label}: effekt and statsmodels disagree by {max_diff:.2e} > 1e-6")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", type=int, default=1000, help="grid is side x side points")
    parser.add_argument("--sample", type=int, default=2000, help="statsmodels calls per benchmark")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    side = args.side
    points = side * side
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"statsmodels {statsmodels.__version__}; grid {side} x {side} = {points:,} points"
    )
    ratios = []

    # -- two proportions: power on an (n, p2) grid, pooled z ---------------------------------
    n = np.linspace(20, 2000, side)[:, None]
    p2 = np.linspace(0.11, 0.60, side)[None, :]
    res, t_ours = _timed(lambda: ef.power("two_proportions", p1=0.10, p2=p2, n=n))
    grid = np.asarray(res.value)
    i = rng.integers(0, side, args.sample)
    j = rng.integers(0, side, args.sample)

    def peer_pooled():
        # power_proportions_2indep is statsmodels' pooled-variance power (it has no solve_power)
        return [
            power_proportions_2indep(p2[0, b] - 0.10, 0.10, n[a, 0], return_results=False)
            for a, b in zip(i, j)
        ]

    ref, t_peer = _timed(peer_pooled)
    ratios.append(
        _report("two proportions, pooled z, power", points, t_ours, args.sample, t_peer,
                _diff(grid[i, j], ref))
    )

    # -- two proportions: arcsine power ----------------------------------------------------
    res, t_ours = _timed(lambda: ef.power("two_proportions", p1=0.10, p2=p2, n=n, method="arcsine"))
    grid = np.asarray(res.value)
    h = proportion_effectsize(p2[0], 0.10)
    sm = NormalIndPower()
    ref, t_peer = _timed(
        lambda: [sm.solve_power(h[b], nobs1=n[a, 0], alpha=0.05, power=None) for a, b in zip(i, j)]
    )
    ratios.append(
        _report("two proportions, arcsine, power", points, t_ours, args.sample, t_peer, _diff(grid[i, j], ref))
    )

    # -- two means: noncentral t power on an (n, d) grid --------------------------------------
    n_m = np.linspace(5, 1000, side)[:, None]
    d = np.linspace(0.02, 1.5, side)[None, :]
    res, t_ours = _timed(lambda: ef.power("two_means", d=d, n=n_m))
    grid = np.asarray(res.value)
    tt = TTestIndPower()
    ref, t_peer = _timed(
        lambda: [tt.solve_power(d[0, b], nobs1=n_m[a, 0], alpha=0.05, power=None) for a, b in zip(i, j)]
    )
    ratios.append(
        _report("two means, noncentral t, power", points, t_ours, args.sample, t_peer, _diff(grid[i, j], ref))
    )

    # -- solving for n over a grid of effects --------------------------------------------------
    sample_solve = max(200, args.sample // 10)
    d_grid = rng.uniform(0.1, 1.2, points)
    res, t_ours = _timed(lambda: ef.power("two_means", d=d_grid, power=0.8))
    n_ours = np.asarray(res.value)
    k = rng.integers(0, points, sample_solve)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, t_peer = _timed(
            lambda: [tt.solve_power(d_grid[c], nobs1=None, alpha=0.05, power=0.8) for c in k]
        )
    ratios.append(
        _report("two means, noncentral t, solve n (rel diff)", points, t_ours, sample_solve, t_peer,
                _diff(n_ours[k], ref, relative=True))
    )

    h_grid = rng.uniform(0.05, 1.0, points)
    p2_grid = np.sin(np.arcsin(np.sqrt(0.10)) + h_grid / 2) ** 2  # Cohen's h = h_grid against p1 = 0.10
    res, t_ours = _timed(lambda: ef.power("two_proportions", p1=0.10, p2=p2_grid, power=0.8, method="arcsine"))
    n_ours = np.asarray(res.value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, t_peer = _timed(
            lambda: [sm.solve_power(h_grid[c], nobs1=None, alpha=0.05, power=0.8) for c in k]
        )
    ratios.append(
        _report("two proportions, arcsine, solve n (rel diff)", points, t_ours, sample_solve, t_peer,
                _diff(n_ours[k], ref, relative=True))
    )

    print(f"smallest speed-up per point: x{min(ratios):,.0f}")


if __name__ == "__main__":
    main()
