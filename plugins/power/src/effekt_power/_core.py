"""The machinery every power calculator shares.

A calculator declares the quantities it can solve for and supplies one
vectorised function, ``_power``, giving the power of the test for arrays of
every other quantity. :class:`Calculator.solve` then

1. checks the parameters (unknown names, ranges, exactly one left out);
2. broadcasts them against each other (numpy rules: a grid in, a grid out);
3. returns the power directly, or finds the missing quantity as the root of
   ``power(x) - target`` with a vectorised bracketing solver
   (:func:`scipy.optimize.elementwise.find_root`, Chandrupatla's method), unless
   the calculator has a closed form for it;
4. returns a frozen :class:`effekt.PowerResult` whose ``plot()`` draws the
   power curve around the solution.

The sample-size conventions of the two-arm calculators live here too:
``n`` (the documented alias ``n1``) is the size of arm 1, the control arm,
``n2`` the size of arm 2, the treated arm, and ``ratio = n2 / n1``
(n_treated / n_control, default 1, as in statsmodels). Leaving out ``n``
solves for ``n`` with ``n2 = ratio * n``; giving ``n2`` but not ``n`` solves
for ``n`` with ``n2`` held fixed (a capacity-capped arm).

Names are those of :mod:`effekt.vocabulary`. PowerUp!'s notation (``J``,
``K``, ``P``, ``rho2``, ``rho3``, ``MDES``, ``g``) is accepted only as the
aliases of :data:`effekt.vocabulary.POWER_ALIASES`, mapped to the canonical
names in one place, :data:`DESIGN_ALIASES` and :meth:`Calculator._canonical`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
from scipy import special

from effekt import DesignError, EstimationError, PowerResult
from effekt.vocabulary import POWER_ALIASES, Choice, Constraint, Number, Numbers, validate_options

# scipy.optimize and scipy.linalg are imported where they are used: together they
# take about as long to import as the rest of a command-line power calculation

__all__ = ["Calculator", "ALTERNATIVES", "as_array", "z_crit", "t_crit"]

ALTERNATIVES = ("two-sided", "greater", "less")
_MISSING = object()
_SOLVE_WORDS = ("none", "?", "null")

#: PowerUp!'s J and K by design: alias -> (canonical name, factor on the value).
#: Every other alias of ``POWER_ALIASES`` is a plain rename.
DESIGN_ALIASES: dict[str, dict[str, tuple[str, float]]] = {
    "bira2": {"J": ("n_blocks", 1.0)},
    "cra2": {"J": ("n_clusters", 0.5)},
    "bcra3": {"J": ("clusters_per_site", 1.0), "K": ("n_blocks", 1.0)},
    "cra3": {"J": ("clusters_per_site", 1.0), "K": ("n_sites", 0.5)},
}

#: What a solved quantity counts, in words (a calculator may override any of them).
COUNTS: dict[str, str] = {
    "power": "probability",
    "alpha": "probability",
    "n": "individuals per arm",
    "n_total": "individuals in total",
    "n_clusters": "clusters per arm",
    "n_sites": "sites per arm",
    "n_blocks": "blocks in total",
    "events": "events in total",
    "d": "standardised effect",
    "effect": "effect in the outcome's units",
    "p2": "proportion in the treated arm",
    "p10": "proportion of pairs",
    "hr": "hazard ratio",
    "r": "correlation",
}

#: grids of levels are allowed (the core term ``alpha`` takes one number)
_ALPHA_GRID = Numbers(Number(low=0, high=1, low_open=True, high_open=True), none_ok=True)


def check_alternative(value: Any) -> str:
    """The alternative hypothesis, one of ``ALTERNATIVES``."""
    if value not in ALTERNATIVES:
        raise DesignError(
            f"alternative={value!r} is not understood. Use one of 'two-sided', 'greater' "
            "(the effect is positive) or 'less' (the effect is negative)."
        )
    return str(value)


def as_array(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = True,
    high_open: bool = True,
    what: str | None = None,
) -> np.ndarray:
    """``value`` as a float array, checked to lie in (low, high).

    Raises :class:`effekt.DesignError` naming the parameter, the offending
    value and its grid position.
    """
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise DesignError(f"{name} must be a number or an array of numbers; got {value!r}.") from None
    if arr.size == 0:
        raise DesignError(f"{name} is empty; give at least one value.")
    bad = ~np.isfinite(arr)
    rule = what or _range_text(low, high, low_open, high_open)
    if low is not None:
        bad |= (arr <= low) if low_open else (arr < low)
    if high is not None:
        bad |= (arr >= high) if high_open else (arr > high)
    if bad.any():
        where = np.argwhere(bad)[0]
        first = arr[tuple(where)] if arr.ndim else arr.item()
        position = "" if arr.ndim == 0 else f" at grid position {tuple(int(i) for i in where)}"
        count = "" if arr.ndim == 0 else f" ({int(bad.sum())} of {arr.size} values)"
        raise DesignError(f"{name} must be {rule}; got {first!r}{position}{count}.")
    return arr


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return (
            f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        )
    if low is not None:
        return f"a finite number {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"a finite number {'<' if high_open else '<='} {high:g}"
    return "a finite number"


def _check_grid(owner: Any, key: str, value: Any) -> None:
    """A grid of numbers with a bad value: name its position and how many are bad.

    (The vocabulary's check names the option and the value; on a grid the
    position tells which point to fix.)
    """
    if isinstance(value, (str, bytes, Mapping)) or np.ndim(value) == 0:
        return
    from effekt.vocabulary import constraint_for

    c = constraint_for(owner, key)
    if not isinstance(c, Numbers):
        return
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return  # not numbers: the vocabulary's check says so
    e = c.each
    try:
        as_array(key, arr, low=e.low, high=e.high, low_open=e.low_open, high_open=e.high_open)
    except DesignError as exc:
        raise DesignError(f"{owner.name}: {exc}") from None


def z_crit(alpha: np.ndarray, alternative: str) -> np.ndarray:
    """Upper critical value of the standard normal for the test."""
    tail = alpha / 2.0 if alternative == "two-sided" else alpha
    return -special.ndtri(tail)


def t_crit(alpha: np.ndarray, df: np.ndarray, alternative: str) -> np.ndarray:
    """Upper critical value of Student's t with ``df`` degrees of freedom."""
    tail = alpha / 2.0 if alternative == "two-sided" else alpha
    return -special.stdtrit(df, tail)


def normal_power(shift: np.ndarray, crit: np.ndarray, alternative: str) -> np.ndarray:
    """Power of a z test whose statistic is N(shift, 1) under the alternative.

    Two-sided power counts both rejection regions, as statsmodels and G*Power do.
    """
    if alternative == "greater":
        return special.ndtr(shift - crit)
    if alternative == "less":
        return special.ndtr(-shift - crit)
    return special.ndtr(shift - crit) + special.ndtr(-shift - crit)


def nct_power(ncp: Any, df: Any, crit: Any, alternative: str) -> np.ndarray:
    """Power of a t test whose statistic is noncentral t(df, ncp) under the alternative.

    The far tail of a two-sided test is evaluated only where it can matter:
    for ncp >= 0, P(T' < -c) <= P(Z < -ncp) (Z + ncp must be negative), below
    1e-10 once ncp > 6.4, and symmetrically for ncp <= 0.

    Grids whose degrees of freedom and critical values repeat along a row or
    column (a few distinct (df, c) pairs for many ncp) are evaluated by Gauss
    quadrature over the chi distribution (:func:`_nct_power_quadrature`),
    several times faster than scipy's noncentral-t CDF and equal to it within
    1e-11 for df >= 30; everything else goes through scipy.
    """
    ncp_a, df_a, crit_a = (np.asarray(x, dtype=float) for x in (ncp, df, crit))
    shape = np.broadcast_shapes(ncp_a.shape, df_a.shape, crit_a.shape)
    size = int(np.prod(shape)) if shape else 1
    pair_shape = np.broadcast_shapes(df_a.shape, crit_a.shape)
    pairs = int(np.prod(pair_shape)) if pair_shape else 1
    if size >= 4096 and pairs * 16 <= size and np.any(df_a >= _QUAD_MIN_DF):
        return _nct_power_quadrature(ncp_a, df_a, crit_a, alternative, shape)
    ncp_b, df_b, crit_b = np.broadcast_arrays(ncp_a, df_a, crit_a)
    return _nct_power_scipy(ncp_b, df_b, crit_b, alternative)


def _nct_power_scipy(ncp_b: np.ndarray, df_b: np.ndarray, crit_b: np.ndarray, alternative: str) -> np.ndarray:
    upper = np.zeros(ncp_b.shape)
    lower = np.zeros(ncp_b.shape)
    if alternative in ("two-sided", "greater"):
        need = ncp_b > -_TAIL_CUT if alternative == "two-sided" else np.ones(ncp_b.shape, dtype=bool)
        upper[need] = _nct_sf(crit_b[need], df_b[need], ncp_b[need])
    if alternative in ("two-sided", "less"):
        need = ncp_b < _TAIL_CUT if alternative == "two-sided" else np.ones(ncp_b.shape, dtype=bool)
        lower[need] = _nct_cdf(-crit_b[need], df_b[need], ncp_b[need])
    return np.clip(upper + lower, 0.0, 1.0)


_QUAD_NODES = 16
_QUAD_MIN_DF = 30.0
_CHUNK = 1 << 15


@lru_cache(maxsize=8192)
def _chi_nodes(df: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss nodes and weights for S = sqrt(V / df), V ~ chi-squared(df).

    V/2 has the generalised Laguerre weight u^(df/2 - 1) e^(-u); its Gauss
    rule comes from the eigen-decomposition of the recurrence's Jacobi matrix
    (Golub & Welsch 1969), which needs no Gamma function and so no overflow
    at large df.
    """
    from scipy import linalg

    a = df / 2.0 - 1.0
    k = np.arange(_QUAD_NODES, dtype=float)
    u, vec = linalg.eigh_tridiagonal(2.0 * k + a + 1.0, np.sqrt(k[1:] * (k[1:] + a)))
    w = vec[0] ** 2
    return np.sqrt(2.0 * u / df), w / w.sum()


def _nct_power_quadrature(
    ncp: np.ndarray, df: np.ndarray, crit: np.ndarray, alternative: str, shape: tuple[int, ...]
) -> np.ndarray:
    """Power as E_S[Phi(ncp - c S)] (+ E_S[Phi(-ncp - c S)]) by Gauss quadrature in S.

    T' = (Z + ncp) / S with S = sqrt(V/df), so P(T' > c) = E[Phi(ncp - c S)] and
    P(T' < -c) = E[Phi(-ncp - c S)]. The rule is built once per distinct (df, c).
    """
    df_s, c_s = np.broadcast_arrays(df, crit)
    keys = np.stack([df_s.ravel(), c_s.ravel()], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    scaled = np.empty((len(uniq), _QUAD_NODES))
    weights = np.empty((len(uniq), _QUAD_NODES))
    for i, (d, c) in enumerate(uniq):
        nodes, w = _chi_nodes(float(d))
        scaled[i] = c * nodes
        weights[i] = w
    group = np.broadcast_to(inverse.reshape(df_s.shape), shape).ravel()
    delta = np.broadcast_to(ncp, shape).ravel()
    out = np.empty(delta.size)
    # rows with few degrees of freedom (df < 30) go through scipy
    few = (uniq[:, 0] < _QUAD_MIN_DF)[group]
    if few.any():
        out[few] = _nct_power_scipy(delta[few], uniq[group[few], 0], uniq[group[few], 1], alternative)
    rest = np.flatnonzero(~few)
    for start in range(0, rest.size, _CHUNK):
        sl = rest[start : start + _CHUNK]
        g = group[sl]
        d = delta[sl][:, None]
        cs, w = scaled[g], weights[g]
        total = np.zeros(d.shape[0])
        if alternative in ("two-sided", "greater"):
            total += np.einsum("ij,ij->i", w, special.ndtr(d - cs))
        if alternative in ("two-sided", "less"):
            near = d[:, 0] < _TAIL_CUT if alternative == "two-sided" else slice(None)
            total[near] += np.einsum("ij,ij->i", w[near], special.ndtr(-d[near] - cs[near]))
        out[sl] = total
    return np.clip(out.reshape(shape), 0.0, 1.0)


_TAIL_CUT = 6.4


def _nct_cdf(x: np.ndarray, df: np.ndarray, ncp: np.ndarray) -> np.ndarray:
    """P(T' <= x); scipy's nctdtr returns NaN at some points far in a tail (scipy 1.17),
    where the reflection P(T'(ncp) <= x) = 1 - P(T'(-ncp) <= -x) is computed without trouble."""
    out = special.nctdtr(df, ncp, x)
    bad = np.isnan(out)
    if bad.any():
        out[bad] = 1.0 - special.nctdtr(df[bad], -ncp[bad], -x[bad])
        still = np.isnan(out)
        if still.any():  # last resort, deep in a tail: the normal approximation of that tail
            out[still] = special.ndtr(x[still] - ncp[still])
    return out


def _nct_sf(x: np.ndarray, df: np.ndarray, ncp: np.ndarray) -> np.ndarray:
    """P(T' > x), through the reflection P(T'(ncp) > x) = P(T'(-ncp) < -x) (no cancellation)."""
    return _nct_cdf(-x, df, -ncp)


def _scaled(name: str, value: Any, factor: float) -> Any:
    try:
        return np.asarray(value, dtype=float) * factor
    except (TypeError, ValueError):
        raise DesignError(f"{name} must be a number or an array of numbers; got {value!r}.") from None


def _to_python(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.item() if value.ndim == 0 else value.copy()
    return value


class Calculator:
    """Base class of the power calculators; subclasses declare

    ``name``; ``solvable`` (the quantities that may be left out, the sample
    size first, e.g. ``("n", "power", "p2", "alpha")``); ``numeric`` (every
    numeric parameter with its default, ``_MISSING`` for none, and its range);
    ``settings`` (string or flag options with their defaults); ``size`` and
    ``effect`` (the names used on the axes of the power curve); ``example``
    (a valid full parameter set, every solvable quantity included, read by
    :func:`effekt._calculator_checks.check_calculator`); ``effect_null`` (the
    effect's null value, or the name of the parameter holding it); and the
    methods ``_power`` and ``_bracket``. ``options`` (built from the above)
    narrows the vocabulary's constraints, as an estimator's ``options`` does.
    """

    name: ClassVar[str]
    method_default: ClassVar[str | None] = None
    methods: ClassVar[tuple[str, ...]] = ()
    solvable: ClassVar[tuple[str, ...]]
    two_arm: ClassVar[bool] = False
    #: numeric parameters: name -> (default or None, low, high, low_open, high_open)
    numeric: ClassVar[dict[str, tuple[Any, float | None, float | None, bool, bool]]]
    settings: ClassVar[dict[str, Any]] = {}
    size: ClassVar[str] = "n"
    effect: ClassVar[str]
    effect_null: ClassVar[float | str] = 0.0
    integer_sizes: ClassVar[bool] = False
    example: ClassVar[dict[str, Any]] = {}
    #: what each solved quantity counts, where it differs from ``COUNTS``
    counts: ClassVar[dict[str, str]] = {}
    #: constraints narrowing the vocabulary's for this calculator (built in __init_subclass__)
    options: ClassVar[dict[str, Constraint]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own: dict[str, Constraint] = {"alpha": _ALPHA_GRID}
        if cls.methods:
            own["method"] = Choice(tuple(cls.methods), none_ok=True)
        own.update(cls.__dict__.get("options", {}))  # the calculator's own narrowing
        cls.options = own

    # -- what subclasses implement -------------------------------------------------
    def _power(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        raise NotImplementedError

    def _bracket(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _closed_form(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> np.ndarray | None:
        return None

    def _initial_bracket(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Optionally a narrow bracket (a speed-up only: dropped wherever it holds no root)."""
        return None

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
        """Cross-parameter checks (e.g. ``power > alpha``); raise DesignError."""

    def _effect_sign(self, v: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """The sign of the effect (positive: arm 2 above arm 1), when the effect is given."""
        return None

    def _check_direction(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any], unknown: str) -> None:
        # the power of a one-sided test against an effect in the other direction is defined
        # (below alpha), but no sample size or level makes it reach a target power
        alternative = opts.get("alternative", "two-sided")
        if alternative == "two-sided" or unknown == "power":
            return
        sign = self._effect_sign(v)
        if sign is None:
            return
        wrong = sign < 0 if alternative == "greater" else sign > 0
        if np.any(wrong):
            raise DesignError(
                f"{self.name}: alternative={alternative!r} tests for an effect "
                f"{'above' if alternative == 'greater' else 'below'} the null, but the {self.effect} "
                f"given points the other way. Use alternative="
                f"{'less' if alternative == 'greater' else 'greater'!r} or 'two-sided', or "
                "check the order of the arms."
            )

    def _extra(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {}

    def _warnings(self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> list[str]:
        """Things about a valid result the user should know (short follow-up, ...)."""
        return []

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        return str(opts.get("method", self.name))

    # -- the contract --------------------------------------------------------------
    def solve(self, **params: Any) -> PowerResult:
        """Solve for the one quantity left out; see the class docstring.

        Every parameter is checked before any work: unknown names, text where
        a number belongs and values outside their range raise
        :class:`effekt.DesignError` naming the parameter.
        """
        params = self._canonical(params)
        opts, given, unknown = self._parse(params)
        v = {k: a for k, a in given.items()}
        self._check_power_alpha(v, unknown)
        self._check(v, opts)
        self._check_direction(v, opts, unknown)
        if unknown == "power":
            # no pre-broadcasting: constants of a grid's rows or columns (critical values,
            # degrees of freedom) are computed once per row or column
            shape = np.broadcast_shapes(*(a.shape for a in v.values()))
            value = np.broadcast_to(self._power(v, opts), shape).copy()
        else:
            value = self._solve_unknown(unknown, v, opts)
        v_full = dict(v)
        v_full[self._internal(unknown)] = np.asarray(value, dtype=float)
        extra = self._extra(unknown, v_full, opts)
        if self.two_arm:
            n1, n2 = self._sizes(self._broadcast(v_full))
            extra.setdefault("n1", _to_python(n1))
            extra.setdefault("n2", _to_python(n2))
            extra.setdefault("n_total", _to_python(n1 + n2))
        inputs = {k: _to_python(a) for k, a in given.items()}
        if self.two_arm and "n1" in inputs:
            inputs["n"] = inputs.pop("n1")
        inputs.update({k: o for k, o in opts.items()})
        solved = self._public(unknown, params)
        calc = self

        def curve(result: PowerResult, **kwargs: Any) -> Any:
            return calc._plot(result, v_full, opts, unknown, **kwargs)

        return PowerResult(
            calculator=self.name,
            solved=solved,
            counts=self._counts(solved, params),
            value=_to_python(np.asarray(value, dtype=float)),
            inputs=inputs,
            method=self._method_label(opts),
            warnings=tuple(self._warnings(unknown, v_full, opts)),
            extra=extra,
            curve=curve,
        )


    solve.__effekt_validated__ = True  # type: ignore[attr-defined]  # it checks its options itself

    def _counts(self, solved: str, params: Mapping[str, Any]) -> str:
        """What the solved number counts, in words."""
        if self.two_arm and solved == "n":
            if params.get("n2") is not None:
                return "individuals in the control arm (arm 1; the treated arm n2 fixed)"
            ratio = params.get("ratio")
            if ratio is not None and np.any(np.asarray(ratio, dtype=float) != 1.0):
                return "individuals in the control arm (arm 1; the treated arm has ratio * n)"
        return self.counts.get(solved) or COUNTS.get(solved, solved)

    # -- aliases and checks before any work --------------------------------------------
    @classmethod
    def _canonical(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` with the documented aliases (``POWER_ALIASES``) mapped to canonical names,
        the command line's solve words (``none``, ``?``) read as None, unknown names refused and
        every value checked against the vocabulary, before any work."""
        known = set(cls._known_names())
        design = DESIGN_ALIASES.get(cls.name, {})
        out: dict[str, Any] = {}
        for key, value in params.items():
            if isinstance(value, str) and value.strip().lower() in _SOLVE_WORDS:
                value = None
            name = key
            if key not in known and key in POWER_ALIASES:
                target, factor = design.get(key, (POWER_ALIASES[key], 1.0))
                if target in known and (key not in ("J", "K") or key in design):
                    name = target
                    if factor != 1.0 and value is not None:
                        value = _scaled(key, value, factor)
            if name in out:
                raise DesignError(
                    f"{cls.name}: {key} is PowerUp!/short notation for {name}; give one of them, not both."
                    if name != key else f"{cls.name}: {key} given twice."
                )
            out[name] = value
        # one concept, two forms: the allocation as ratio (n_treated / n_control) or as the share treated
        # (PowerUp!'s P), and a two-level design's ICC as icc or icc2; each calculator takes either
        if "ratio" in out and "ratio" not in known and "allocation" in known and "allocation" not in out:
            r = out.pop("ratio")
            out["allocation"] = None if r is None else _scaled("ratio", r, 1.0) / (1.0 + _scaled("ratio", r, 1.0))
        if "allocation" in out and "allocation" not in known and "ratio" in known and "ratio" not in out:
            a = out.pop("allocation")
            out["ratio"] = None if a is None else _scaled("allocation", a, 1.0) / (1.0 - _scaled("allocation", a, 1.0))
        if "icc" in out and "icc" not in known and "icc2" in known and "icc3" not in known and "icc2" not in out:
            out["icc2"] = out.pop("icc")
        if "icc2" in out and "icc2" not in known and "icc" in known and "icc" not in out:
            out["icc"] = out.pop("icc2")
        unknown_names = [k for k in out if k not in known]
        if unknown_names:
            from effekt.vocabulary import retired_hint

            hint = retired_hint(unknown_names[0], sorted(known))
            raise DesignError(
                f"{cls.name}: unknown parameter(s) {', '.join(repr(k) for k in unknown_names)}.{hint} "
                f"This calculator takes {', '.join(sorted(known))}."
            )
        given = {k: v for k, v in out.items() if v is not None}
        for key, value in given.items():
            _check_grid(cls, key, value)
        validate_options(cls, given)
        return out

    # -- what the command line shows -------------------------------------------------
    #: meanings of parameters that the class docstring's Parameters section does not give
    meanings: ClassVar[dict[str, str]] = {
        "power": "Power; leave out to solve for it.",
        "alpha": "Significance level; give none to solve for it.",
        "alternative": '"two-sided", "greater" (the effect is positive) or "less".',
        "n": "Individuals per arm (the control arm, arm 1, when arms differ); leave out to solve for it.",
        "n2": "Individuals in the treated arm (arm 2); given without n, n is solved with n2 fixed.",
        "ratio": "Allocation n_treated / n_control (n2 / n) when n2 is not given.",
    }

    @classmethod
    def parameters(cls) -> list[dict[str, str]]:
        """Every parameter ``solve`` takes, in declaration order: ``name``, ``default``
        (as text) and ``meaning`` (for parameters the class docstring does not describe).

        Read by ``effekt power NAME --help``; the names and defaults are the ones
        ``solve`` checks, so the help cannot drift from the code.

        >>> from effekt_power.proportions import TwoProportions
        >>> [r["default"] for r in TwoProportions.parameters() if r["name"] in ("alpha", "ratio")]
        ['0.05 (none: solve)', '1']
        """

        def text(value: Any) -> str:
            return value if isinstance(value, str) else repr(value)

        rows: list[dict[str, str]] = []

        def add(name: str, default: str) -> None:
            meaning = cls.meanings.get(name) or Calculator.meanings.get(name, "")
            rows.append({"name": name, "default": default, "meaning": meaning})

        for key, (default, *_range) in cls.numeric.items():
            if default is _MISSING:
                add(key, "solved if left out" if key in cls.solvable else "required")
            elif default is None:
                add(key, "optional")
            elif key in cls.solvable:
                add(key, f"{text(default)} (none: solve)")
            else:
                add(key, text(default))
        if cls.two_arm:
            add("n", "solved if left out")
            add("n2", "ratio * n")
            add("ratio", "1")
        if cls.methods:
            add("method", text(cls.method_default))
            rows[-1]["meaning"] = rows[-1]["meaning"] or "One of " + ", ".join(repr(m) for m in cls.methods) + "."
        for key, default in cls.settings.items():
            add(key, text(default))
        return rows

    # -- parsing ---------------------------------------------------------------------
    @classmethod
    def _known_names(cls) -> list[str]:
        names = list(cls.numeric) + list(cls.settings)
        if cls.methods:
            names.append("method")
        if cls.two_arm:
            names += ["n", "n2", "ratio"]
        return names

    def _parse(self, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray], str]:
        opts: dict[str, Any] = {}
        if self.methods:
            method = params.get("method") or self.method_default
            if method not in self.methods:
                raise DesignError(
                    f"{self.name}: method={method!r} is not available; use one of "
                    f"{', '.join(repr(m) for m in self.methods)}."
                )
            opts["method"] = method
        for key, default in self.settings.items():
            value = params.get(key, default)
            if value is None:
                value = default
            if key == "alternative":
                value = check_alternative(value)
            opts[key] = value

        given: dict[str, np.ndarray] = {}
        missing: list[str] = []
        for key, (default, low, high, lo_open, hi_open) in self.numeric.items():
            explicit = key in params
            value = params.get(key, default)
            if value is None and explicit:
                if key in self.solvable:
                    missing.append(key)
                    continue
                value = default
            if value is _MISSING:
                if key in self.solvable:
                    missing.append(key)
                    continue
                raise DesignError(f"{self.name}: {key} is required; give a value for it.")
            if value is None:
                continue  # an optional parameter that was not given
            given[key] = as_array(key, value, low=low, high=high, low_open=lo_open, high_open=hi_open)

        if self.two_arm:
            missing += self._parse_sizes(params, given)

        missing = [m for m in missing if m in self.solvable or m == "n1"]
        if len(missing) != 1:
            labels = ", ".join(self._public_label(m) for m in self.solvable)
            if not missing:
                raise DesignError(
                    f"{self.name}: every quantity was given, so there is nothing to solve for. "
                    f"Leave out exactly one of {labels} (pass it as None or omit it)."
                )
            raise DesignError(
                f"{self.name}: {len(missing)} quantities were left out "
                f"({', '.join(self._public_label(m) for m in missing)}); leave out exactly one of "
                f"{labels} and give the others."
            )
        return opts, given, missing[0]

    def _public_label(self, name: str) -> str:
        if name == "n" and self.two_arm:
            return "n (per arm; or n with n2 fixed)"
        if name == "n1":
            return "n"
        return name

    def _parse_sizes(self, params: dict[str, Any], given: dict[str, np.ndarray]) -> list[str]:
        n1 = params.get("n")
        n2 = params.get("n2")
        ratio = params.get("ratio")
        lower = self._min_size()
        if n2 is not None and ratio is not None:
            raise DesignError(
                f"{self.name}: give n2 or ratio (= n2 / n), not both; ratio={ratio!r}, n2={n2!r}."
            )
        if n1 is not None:
            given["n1"] = as_array("n", n1, low=lower, low_open=False, what=f"a number >= {lower:g}")
        if n2 is not None:
            given["n2"] = as_array("n2", n2, low=lower, low_open=False, what=f"a number >= {lower:g}")
        else:
            given["ratio"] = as_array("ratio", 1.0 if ratio is None else ratio, low=0.0)
        if n1 is None and n2 is None:
            return ["n"]
        if n1 is None:
            return ["n1"]
        return []

    def _min_size(self) -> float:
        return 1.0

    @staticmethod
    def _sizes(v: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        n1 = v["n1"]
        n2 = v["n2"] if "n2" in v else v["ratio"] * n1
        return n1, n2

    def _internal(self, unknown: str) -> str:
        return "n1" if (self.two_arm and unknown in ("n", "n1")) else unknown

    def _public(self, unknown: str, params: Mapping[str, Any]) -> str:
        return "n" if self.two_arm and unknown == "n1" else unknown

    @staticmethod
    def _broadcast(v: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        keys = list(v)
        arrays = np.broadcast_arrays(*[v[k] for k in keys])
        return dict(zip(keys, arrays))

    def _check_power_alpha(self, v: Mapping[str, np.ndarray], unknown: str) -> None:
        if "power" in v and "alpha" in v:
            power, alpha = np.broadcast_arrays(v["power"], v["alpha"])
            bad = power <= alpha
            if bad.any():
                i = np.argwhere(bad)[0] if bad.ndim else ()
                raise DesignError(
                    f"{self.name}: power must exceed alpha (a test rejects with probability alpha "
                    f"even when there is no effect); got power={power[tuple(i)]:g} and "
                    f"alpha={alpha[tuple(i)]:g}. Ask for power above alpha, e.g. power=0.8."
                )

    # -- solving ---------------------------------------------------------------------
    def _solve_unknown(
        self, unknown: str, v: dict[str, np.ndarray], opts: Mapping[str, Any]
    ) -> np.ndarray:
        internal = self._internal(unknown)
        target_key = "power"
        closed = self._closed_form(unknown, self._broadcast(v), opts)
        if closed is not None:
            return closed
        from scipy.optimize import elementwise

        b = self._broadcast(v)
        lo, hi = self._bracket(unknown, b, opts)
        keys = list(b)
        target = b[target_key]
        shape = np.broadcast_shapes(*(a.shape for a in b.values()), np.shape(lo), np.shape(hi))
        arrays = [np.broadcast_to(b[k], shape) for k in keys]
        lo = np.broadcast_to(np.asarray(lo, dtype=float), shape)
        hi = np.broadcast_to(np.asarray(hi, dtype=float), shape)
        tgt = np.broadcast_to(target, shape)

        def f(x: np.ndarray, *args: np.ndarray) -> np.ndarray:
            values = dict(zip(keys, args))
            values[internal] = x
            return self._power(values, opts) - values[target_key]

        tolerances = {"xrtol": 1e-10, "xatol": 1e-12}
        guess = self._initial_bracket(unknown, b, opts)
        quick: Any = None
        redo = np.ones(shape, dtype=bool)
        if guess is not None:
            # first a narrow bracket around a closed-form approximation (a speed-up only);
            # elements whose narrow bracket holds no root go on to the wide bracket
            g_lo = np.broadcast_to(np.asarray(guess[0], dtype=float), shape)
            g_hi = np.broadcast_to(np.asarray(guess[1], dtype=float), shape)
            g_lo = np.clip(g_lo, lo, hi)
            g_hi = np.clip(g_hi, lo, hi)
            quick = elementwise.find_root(  # type: ignore[call-overload]
                f, (g_lo, g_hi), args=tuple(arrays), tolerances=tolerances
            )
            redo = np.asarray(quick.status) != 0
        x = np.full(shape, np.nan)
        if guess is not None:
            x = np.where(redo, np.nan, np.asarray(quick.x, dtype=float))
        if redo.any():
            sub = tuple(a[redo] for a in arrays)
            lo_r, hi_r = lo[redo], hi[redo]
            f_lo = f(lo_r, *sub)
            f_hi = f(hi_r, *sub)
            increasing = f_hi > f_lo
            # where the root lies outside the search range, say so rather than return junk
            unreachable = np.zeros(shape, dtype=bool)
            unreachable[redo] = np.where(increasing, f_hi < 0, f_lo < 0)
            if unreachable.any():
                self._unreachable(unknown, unreachable, shape, b, lo, hi, opts, tgt)
            res = elementwise.find_root(f, (lo_r, hi_r), args=sub, tolerances=tolerances)  # type: ignore[call-overload]
            x_r = np.asarray(res.x, dtype=float)
            # already at the bound (e.g. the smallest sample size gives the power asked for)
            at_low = np.where(increasing, f_lo >= 0, f_hi >= 0)
            x_r = np.where(at_low, np.where(increasing, lo_r, hi_r), x_r)
            x[redo] = x_r
        if not np.all(np.isfinite(x)):
            raise EstimationError(
                f"{self.name}: the solver did not converge for {unknown}; check that the inputs "
                "describe a feasible design."
            )
        return x.reshape(shape) if shape else x.reshape(())

    def _unreachable(
        self,
        unknown: str,
        mask: np.ndarray,
        shape: tuple[int, ...],
        b: Mapping[str, np.ndarray],
        lo: np.ndarray,
        hi: np.ndarray,
        opts: Mapping[str, Any],
        target: np.ndarray,
    ) -> None:
        idx = tuple(np.argwhere(mask)[0]) if shape else ()
        point = ", ".join(
            f"{k}={np.broadcast_to(a, shape)[idx]:g}" for k, a in b.items() if k != unknown
        )
        where = f" at grid position {idx}" if shape else ""
        raise DesignError(
            f"{self.name}: no {unknown} in [{np.broadcast_to(lo, shape)[idx]:g}, "
            f"{np.broadcast_to(hi, shape)[idx]:g}] reaches power {np.broadcast_to(target, shape)[idx]:g}"
            f"{where} ({point}). {self._unreachable_hint(unknown)}"
        )

    def _unreachable_hint(self, unknown: str) -> str:
        if unknown in ("n", "n1", "events", self.size):
            return "Ask for less power or a larger effect."
        if unknown == "alpha":
            return "No significance level gives that power; change the design."
        return "The design cannot detect any effect in the admissible range at that power; enlarge the sample."

    # -- plotting --------------------------------------------------------------------
    def _plot(
        self,
        result: PowerResult,
        v: Mapping[str, np.ndarray],
        opts: Mapping[str, Any],
        unknown: str,
        *,
        x: str | None = None,
        points: int = 101,
        ax: Any = None,
        language: str = "en",
    ) -> Any:
        """Power against the sample size (or against the effect when ``x=`` names it).

        A grid of solutions draws one curve per grid point, with one legend
        per input that varies: colour for the first, line style (and a
        marker) for the second, so a 3 x 4 grid has a legend of 3 colours
        and one of 4 line styles rather than 12 entries. The legends sit
        beside the plot, clear of the curves; the black dots are the
        solutions. ``language="da"`` writes the axis title in Danish.
        """
        from matplotlib.lines import Line2D

        from effekt.plotting import COLOURS, LINE_WIDTH, figure_and_axes, legend_outside, plot_word

        size_key = "n1" if self.two_arm and self.size == "n" else self.size
        x_key = x or (self.effect if unknown == self.effect else size_key)
        if x_key == "n" and self.two_arm:
            x_key = "n1"
        b = self._broadcast(v)
        if x_key not in b:
            raise DesignError(
                f"{self.name}: cannot draw power against {x_key!r}; choose one of "
                f"{', '.join(sorted(b))}."
            )
        centres = np.atleast_1d(b[x_key]).ravel()
        if centres.size > 12:
            raise DesignError(
                f"{self.name}: the result holds {centres.size} grid points; plot at most 12 "
                "curves (solve for a smaller grid)."
            )
        fig, ax = figure_and_axes(ax, size=(7.0, 4.2))
        flat = {k: np.atleast_1d(a).ravel() for k, a in b.items()}
        shown: dict[str, str] = {}
        varying = [k for k, a in flat.items() if k != x_key and k != unknown and np.unique(a).size > 1]
        if centres.size > 1 and not varying:
            varying = [k for k, a in flat.items() if k != x_key and np.unique(a).size > 1]
        levels = {k: list(dict.fromkeys(float(val) for val in flat[k])) for k in varying}
        styles: list[Any] = ["-", "--", ":", "-."]
        markers = [None, None, None, None, "s", "^", "v", "D"]
        dims = varying[:2] if len(varying) <= 2 else []
        for i, centre in enumerate(centres):
            point = {k: a[i] for k, a in flat.items()}
            lo_b, hi_b = self._curve_range(x_key, centre, point, opts)
            grid = np.linspace(lo_b, hi_b, points)
            values = {k: np.full_like(grid, val) for k, val in point.items()}
            values[x_key] = grid
            pw = self._power(values, opts)
            colour, style, marker = COLOURS[i % len(COLOURS)], "-", None
            label = None
            if dims:
                colour = COLOURS[levels[dims[0]].index(float(point[dims[0]])) % len(COLOURS)]
                if len(dims) > 1:
                    j = levels[dims[1]].index(float(point[dims[1]]))
                    style, marker = styles[j % len(styles)], markers[j % len(markers)]
            elif centres.size > 1:  # more than two inputs vary: one entry per curve
                label = ", ".join(f"{shown.get(k, k)}={point[k]:.4g}" for k in varying) or f"{x_key}={centre:.4g}"
            ax.plot(grid, pw, color=colour, linestyle=style, marker=marker, markevery=max(points // 6, 1),
                    markersize=4, linewidth=LINE_WIDTH, label=label)
            ax.plot([centre], [self._power({k: np.asarray(val) for k, val in point.items()}, opts)], "o",
                    color="black", markersize=4, zorder=3)
        if "power" in b and unknown != "power":
            for target in np.unique(np.atleast_1d(b["power"])):
                ax.axhline(float(target), color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel(shown.get(x_key, x_key))
        ax.set_ylabel(plot_word("power", language))
        ax.set_ylim(0.0, 1.0)
        ax.set_title(f"{self.name} ({self._method_label(opts)})")
        if dims:
            first = dims[0]
            handles = [Line2D([], [], color=COLOURS[k % len(COLOURS)], linewidth=LINE_WIDTH, label=f"{val:.4g}")
                       for k, val in enumerate(levels[first])]
            legend = legend_outside(ax, handles=handles, title=shown.get(first, first))
            if len(dims) > 1:
                ax.add_artist(legend)
                second = dims[1]
                handles = [Line2D([], [], color="black", linestyle=styles[k % len(styles)],
                                  marker=markers[k % len(markers)], markersize=4, linewidth=LINE_WIDTH,
                                  label=f"{val:.4g}") for k, val in enumerate(levels[second])]
                legend_outside(ax, handles=handles, title=shown.get(second, second), loc="lower left",
                               bbox_to_anchor=(1.01, 0.0))
        elif centres.size > 1:
            legend_outside(ax)
        return fig

    def _curve_range(
        self, x_key: str, centre: float, point: Mapping[str, float], opts: Mapping[str, Any]
    ) -> tuple[float, float]:
        if x_key == self.effect:
            return self._effect_range(centre, point)
        low = max(self._min_size() if x_key == "n1" else 1.0, centre / 4.0)
        return low, max(centre * 2.0, low + 1.0)

    def _effect_range(self, centre: float, point: Mapping[str, float]) -> tuple[float, float]:
        return centre / 4.0 if centre > 0 else centre * 2.0, centre * 2.0 if centre > 0 else centre / 4.0


MISSING = _MISSING
