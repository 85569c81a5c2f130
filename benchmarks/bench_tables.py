"""Per-call cost of effekt's table estimators against scipy on the same data.

effekt takes individual-level data and checks it (columns, missing values,
arms, outcome coding) before it tabulates; scipy takes a ready table. Both
sides are timed from the same individual-level DataFrame, so scipy's time
includes a pandas crosstab; a second peer times scipy's test alone on the
ready table. Estimates are checked to agree before timing. The r x c case
compares effekt's exact network algorithm with scipy's default for a 3 x 2
table (a Monte Carlo test with 9,999 tables), whose p-value must be within
0.02 of the exact one.

Run: ``python -m benchmarks --only tables``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.cases import Case, Peer


def individual(n: int) -> dict[str, Any]:
    import pandas as pd

    rng = np.random.default_rng(2026 + n)
    z = rng.integers(0, 2, n)
    y = (rng.random(n) < np.where(z == 1, 0.03, 0.13)).astype(int)
    df = pd.DataFrame({"y": y, "z": z})
    return {"df": df, "table": _crosstab(df)}


def _crosstab(df: Any) -> np.ndarray:
    import pandas as pd

    return pd.crosstab(df["z"], df["y"]).to_numpy()[::-1, ::-1]


def _effekt(name: str) -> Any:
    def run(d: dict[str, Any]) -> Any:
        import effekt as ef

        return ef.estimate(name, data=d["df"], outcome="y", treatment="z")

    return run


def _chi2(d: dict[str, Any]) -> Any:
    from scipy import stats

    return stats.chi2_contingency(_crosstab(d["df"]), correction=False)


def _chi2_ready(d: dict[str, Any]) -> Any:
    from scipy import stats

    return stats.chi2_contingency(d["table"], correction=False)


def _fisher(d: dict[str, Any]) -> Any:
    from scipy import stats

    return stats.fisher_exact(_crosstab(d["df"]))


def _fisher_ready(d: dict[str, Any]) -> Any:
    from scipy import stats

    return stats.fisher_exact(d["table"])


def _same_p(tol: float) -> Any:
    def check(d: Any, res: Any, ref: Any) -> None:
        assert abs(res.p_value - ref.pvalue) <= tol * max(ref.pvalue, 1e-300), \
            f"p-value {res.p_value!r} vs scipy {ref.pvalue!r}"

    return check


def table_84(_: int) -> Any:
    import effekt as ef

    t84 = np.array([[7, 18, 84], [5, 10, 94]])  # seed 004 Table 8.4
    return {"table": t84, "data": ef.from_counts(t84.T)}


def _fisher_exact_rc(d: dict[str, Any]) -> Any:
    import effekt as ef

    return ef.estimate("fisher", data=d["data"], outcome="y", treatment="z")


def _fisher_mc(d: dict[str, Any]) -> Any:
    from scipy import stats

    return stats.fisher_exact(d["table"], method=stats.MonteCarloMethod(rng=np.random.default_rng(1)))


def _check_mc(d: Any, res: Any, ref: Any) -> None:
    assert abs(ref.pvalue - res.p_value) < 0.02, f"exact p {res.p_value} vs Monte Carlo p {ref.pvalue}"


def _case(name: str, title: str, peer: Any, ready: Any, tol: float) -> Case:
    return Case(
        name=f"tables.{name}", title=title, setup=individual, effekt=_effekt(name),
        peers=(Peer("scipy (crosstab + test)", peer, _same_p(tol), package="scipy"),
               Peer("scipy (test on a ready table)", ready, _same_p(tol), package="scipy")),
        sizes=(218, 10_000, 1_000_000), quick_size=218, unit="people", repeat=7, number=5,
    )


CASES = [
    _case("chi2", "chi2, 2 x 2 from individual data", _chi2, _chi2_ready, 1e-12),
    _case("fisher", "fisher, 2 x 2 from individual data", _fisher, _fisher_ready, 1e-10),
    Case(
        name="tables.fisher_rc", title="fisher 3 x 2, exact network algorithm vs scipy Monte Carlo",
        setup=table_84, effekt=_fisher_exact_rc,
        peers=(Peer("scipy fisher_exact (Monte Carlo, 9,999 tables)", _fisher_mc, _check_mc, package="scipy"),),
        sizes=(218,), quick_size=218, unit="people", repeat=7, number=5,
    ),
]
