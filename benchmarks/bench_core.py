"""difference_in_means against its peers, on the same data.

* simple design, 1,000,000 units: scipy's Welch t-test and statsmodels OLS
  with HC2 (the same estimate, SE and p-value, checked to 1e-10);
* blocked design, 100,000 units in 100 blocks: statsmodels OLS with Lin's
  centred block-by-treatment interactions and HC2 (the same estimate and SE,
  checked to 1e-9);
* clustered design (CR2, Bell-McCaffrey df), 200,000 units in 500 clusters:
  time only, no peer has CR2 with these degrees of freedom.

effekt's times include the input checks (missing values, types, arms) that
the peers do not make. Run: ``python -m benchmarks --only core``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.cases import Case, Peer


def simple_data(n: int) -> Any:
    import pandas as pd

    rng = np.random.default_rng(2024)
    df = pd.DataFrame({"z": rng.integers(0, 2, n)})
    df["y"] = 1.0 + 0.2 * df.z + rng.normal(size=n) * (1 + df.z)
    return df


def _dim(df: Any, **kw: Any) -> Any:
    import effekt as ef

    return ef.estimate("difference_in_means", data=df, outcome="y", treatment="z", **kw)


def _welch(df: Any) -> Any:
    from scipy import stats

    return stats.ttest_ind(df.y[df.z == 1], df.y[df.z == 0], equal_var=False)


def _ols_hc2(df: Any) -> Any:
    import statsmodels.api as sm

    X = sm.add_constant(df.z.to_numpy(dtype=float))
    return sm.OLS(df.y.to_numpy(), X).fit(cov_type="HC2")


def _check_welch(df: Any, res: Any, ref: Any) -> None:
    assert abs(res.p_value - ref.pvalue) < 1e-10, f"p-value {res.p_value} vs scipy {ref.pvalue}"


def _check_hc2(df: Any, res: Any, ols: Any) -> None:
    assert abs(res.estimate - ols.params[1]) < 1e-10, f"estimate {res.estimate} vs {ols.params[1]}"
    assert abs(res.std_error - ols.bse[1]) < 1e-10, f"SE {res.std_error} vs statsmodels HC2 {ols.bse[1]}"


def blocked_data(n: int, n_blocks: int = 100) -> Any:
    import pandas as pd

    rng = np.random.default_rng(2025)
    b = rng.integers(0, n_blocks, n)
    z = np.zeros(n, dtype=int)
    z[rng.permutation(n)[: n // 2]] = 1
    return pd.DataFrame({"y": rng.normal(size=n) + 0.3 * z + 0.01 * b, "z": z, "b": b})


def _lin_ols(df: Any) -> Any:
    import pandas as pd
    import statsmodels.api as sm

    dummies = pd.get_dummies(df.b, drop_first=True).to_numpy(dtype=float)
    centred = dummies - dummies.mean(axis=0)
    z = df.z.to_numpy()
    X = np.column_stack([np.ones(len(df)), z, centred, centred * z[:, None]])
    return sm.OLS(df.y.to_numpy(), X).fit(cov_type="HC2")


def _check_lin(df: Any, res: Any, ols: Any) -> None:
    assert abs(res.estimate - ols.params[1]) < 1e-9, f"estimate {res.estimate} vs statsmodels {ols.params[1]}"
    assert abs(res.std_error - ols.bse[1]) < 1e-9, f"SE {res.std_error} vs statsmodels {ols.bse[1]}"


def clustered_data(n: int, n_clusters: int = 500) -> Any:
    import pandas as pd

    rng = np.random.default_rng(2026)
    cl = rng.integers(0, n_clusters, n)
    zc = rng.permutation(np.repeat([0, 1], n_clusters // 2))
    return pd.DataFrame({"y": rng.normal(size=n) + rng.normal(size=n_clusters)[cl] + 0.2 * zc[cl],
                         "z": zc[cl], "c": cl})


CASES = [
    Case(
        name="core.simple", title="difference_in_means, simple design", setup=simple_data,
        effekt=_dim,
        peers=(Peer("scipy ttest_ind (Welch)", _welch, _check_welch, package="scipy"),
               Peer("statsmodels OLS HC2", _ols_hc2, _check_hc2, package="statsmodels", repeat=1)),
        sizes=(100_000, 1_000_000), quick_size=10_000, unit="units",
    ),
    Case(
        name="core.blocked", title="difference_in_means, 100 blocks (Lin's estimator), HC2",
        setup=blocked_data, effekt=lambda df: _dim(df, blocks="b"),
        peers=(Peer("statsmodels OLS + Lin interactions, HC2", _lin_ols, _check_lin, package="statsmodels",
                    repeat=1),),
        sizes=(10_000, 100_000), quick_size=2_000, unit="units",
    ),
    Case(
        name="core.clustered", title="difference_in_means, CR2 with 500 clusters (time only)",
        setup=clustered_data, effekt=lambda df: _dim(df, clusters="c"),
        sizes=(20_000, 200_000), quick_size=5_000, unit="units",
        notes="no peer computes CR2 with Bell-McCaffrey degrees of freedom",
    ),
]
