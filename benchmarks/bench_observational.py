"""effekt-observational against bare scikit-learn: propensity matching and cross-fitted AIPW.

1. Nearest-neighbour matching of 100,000 treated to 1,000,000 controls on the
   same logit propensity scores: effekt's matching step (``match_units``,
   with replacement, without R's tied matches: on a million controls thousands fall
   within R Matching's tie tolerance of each treated unit) against a bare scikit-learn ``NearestNeighbors``
   query (``n_neighbors=1``), time and peak memory (tracemalloc), the matches
   checked equal; and the whole estimator (``ef.estimate("matching",
   distance="propensity", tied_matches=False)``: logistic fit, matching, Abadie-Imbens SE and the
   balance tables) timed once.
2. AIPW with 5-fold cross-fitting on 1,000,000 rows, logistic propensity and
   linear outcome models: ``ef.estimate("aipw")`` against the same pipeline
   written by hand with scikit-learn (KFold, LogisticRegression,
   LinearRegression), estimates checked equal to 1e-8 on the same folds.
   (EconML is not installed here, so its LinearDRLearner is not timed.)

Sizes are rows (treated + controls; matching: one treated to ten controls).
Peak memory is not measured here (tracemalloc distorts the times); see the
prose in README.md for the figures of the one-off measurement.

Run: ``python -m benchmarks --only observational``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.cases import Case, Peer

COV = ["x0", "x1", "x2", "x3"]


def data(n_treated: int, n_control: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_treated + n_control
    z = np.zeros(n, dtype=np.int64)
    z[:n_treated] = 1
    X = rng.normal(size=(n, 4)) + 0.3 * z[:, None]
    y = X @ np.array([1.0, 0.5, -0.5, 0.2]) + z + rng.normal(size=n)
    return pd.DataFrame({"y": y, "z": z, **{f"x{k}": X[:, k] for k in range(4)}})


def matching_setup(n: int) -> dict[str, Any]:
    from effekt_observational._propensity import fit_propensity, logit

    df = data(n // 11, n - n // 11)
    X, z = df[COV].to_numpy(), df.z.to_numpy()
    s = logit(fit_propensity(X, z, COV).scores)[:, None]
    return {"df": df, "s": s, "z": z, "t_idx": np.flatnonzero(z == 1), "c_idx": np.flatnonzero(z == 0)}


def _match_step(d: dict[str, Any]) -> Any:
    from effekt_observational.matching import match_units

    return match_units(d["s"], d["z"], "att", 1, ties=False)


def _nearest(d: dict[str, Any]) -> Any:
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=1).fit(d["s"][d["c_idx"]])
    return nn.kneighbors(d["s"][d["t_idx"]], return_distance=False)


def _equally_near(d: dict[str, Any], ours: Any, nb: Any) -> None:
    i, j, _ = ours
    s, t_idx = d["s"], d["t_idx"]
    mine, theirs = j[np.argsort(i)], d["c_idx"][nb[:, 0]]
    far = ~np.isclose(np.abs(s[mine, 0] - s[t_idx, 0]), np.abs(s[theirs, 0] - s[t_idx, 0]), rtol=0, atol=1e-12)
    assert not far.any(), f"{int(far.sum())} treated units matched to a farther control than scikit-learn's"


def _whole_matching(d: dict[str, Any]) -> Any:
    import effekt as ef

    return ef.estimate("matching", data=d["df"], outcome="y", treatment="z", covariates=COV,
                       distance="propensity", tied_matches=False)


def aipw_setup(n: int) -> dict[str, Any]:
    from effekt_observational._propensity import cross_folds

    df = data(n // 3, n - n // 3, seed=2)
    X = df[COV].to_numpy()
    return {"df": df, "X": X, "z": df.z.to_numpy(), "y": df.y.to_numpy(),
            "folds": cross_folds(X, df.z.to_numpy(), 5, 7)}


def _aipw(d: dict[str, Any]) -> Any:
    import effekt as ef

    return ef.estimate("aipw", data=d["df"], outcome="y", treatment="z", covariates=COV, seed=7)


def _aipw_by_hand(d: dict[str, Any]) -> float:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    X, z, y, folds = d["X"], d["z"], d["y"], d["folds"]
    n = len(y)
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    e, m1, m0 = np.empty(n), np.empty(n), np.empty(n)
    for k in range(5):
        te, tr = folds == k, folds != k
        with warnings.catch_warnings():  # scikit-learn 1.8 deprecates penalty=None (as C=inf)
            warnings.simplefilter("ignore", FutureWarning)
            lr = LogisticRegression(penalty=None, solver="newton-cholesky", max_iter=200, tol=1e-10)
            e[te] = lr.fit(Xs[tr], z[tr]).predict_proba(Xs[te])[:, 1]
        m1[te] = LinearRegression().fit(Xs[tr & (z == 1)], y[tr & (z == 1)]).predict(Xs[te])
        m0[te] = LinearRegression().fit(Xs[tr & (z == 0)], y[tr & (z == 0)]).predict(Xs[te])
    return float(np.mean(m1 - m0 + z * (y - m1) / e - (1 - z) * (y - m0) / (1 - e)))


def _same_att(_: Any, res: Any, tau: float) -> None:
    assert abs(res.estimate - tau) < 1e-8, f"ATE {res.estimate!r} vs the scikit-learn pipeline's {tau!r}"


CASES = [
    Case(
        name="observational.matching_step", title="matching step, 1:1 nearest neighbour with replacement, "
        "1 treated : 10 controls", setup=matching_setup, effekt=_match_step,
        peers=(Peer("sklearn NearestNeighbors", _nearest, _equally_near, package="scikit-learn"),),
        sizes=(110_000, 1_100_000), quick_size=11_000, unit="rows",
    ),
    Case(
        name="observational.matching", title="whole matching estimator (logistic fit, matching, AI SE, balance)",
        setup=matching_setup, effekt=_whole_matching,
        sizes=(110_000, 1_100_000), quick_size=11_000, unit="rows", repeat=1,
    ),
    Case(
        name="observational.aipw", title="aipw, 5-fold cross-fitting, logistic and linear models",
        setup=aipw_setup, effekt=_aipw,
        peers=(Peer("hand-written scikit-learn pipeline", _aipw_by_hand, _same_att, package="scikit-learn"),),
        sizes=(100_000, 1_000_000), quick_size=5_000, unit="rows", repeat=2,
    ),
]
