"""EffectResult, EffectTable and PowerResult."""

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from effekt import EffectResult, EffectTable, PowerResult
from effekt.errors import DesignError, EstimationError
from effekt.result import to_jsonable

FIELDS = dict(estimator="difference_in_means", estimand="ate", term="z", n=120, n_treated=60, n_control=60,
              se_type="HC2", design="simple")


def test_from_t_uses_the_t_distribution():
    res = EffectResult.from_t(1.3, 0.5, 17.0, **FIELDS)
    q = stats.t.ppf(0.975, 17)
    assert res.conf_int == pytest.approx((1.3 - q * 0.5, 1.3 + q * 0.5), abs=1e-14)
    assert res.p_value == pytest.approx(2 * stats.t.sf(2.6, 17), rel=1e-12)
    assert res.statistic == pytest.approx(2.6)


def test_from_z_uses_the_normal():
    res = EffectResult.from_z(-0.4, 0.2, alpha=0.1, **FIELDS)
    assert res.df is None and res.conf_level == pytest.approx(0.9)
    assert res.conf_int[0] == pytest.approx(-0.4 - stats.norm.ppf(0.95) * 0.2)
    assert res.p_value == pytest.approx(2 * stats.norm.sf(2.0))


def test_frozen_and_new_level_gives_new_object():
    res = EffectResult.from_t(1.0, 0.25, 40, **FIELDS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.estimate = 2.0  # type: ignore[misc]
    res90 = res.with_conf_level(0.9)
    assert res90 is not res and res.conf_level == 0.95
    assert res90.conf_int[1] == pytest.approx(1.0 + stats.t.ppf(0.95, 40) * 0.25)


def test_wald_log_interval_rescales_on_the_log_scale():
    res = EffectResult(estimator="cox", estimand="hr", term="z", estimate=1.74, std_error=0.327,
                       conf_int=(0.0, 0.0), conf_level=0.95, p_value=0.09, df=None, n=218, ci_method="wald-log")
    ci = res.with_conf_level(0.95).conf_int
    assert ci == pytest.approx((1.74 * math.exp(-1.959964 * 0.327), 1.74 * math.exp(1.959964 * 0.327)), rel=1e-6)


def test_other_interval_methods_refuse_to_rescale():
    res = EffectResult(estimator="risk_difference", estimand="rd", term="z", estimate=-0.1, std_error=0.04,
                       conf_int=(-0.18, -0.03), conf_level=0.95, p_value=0.005, df=None, n=218, ci_method="newcombe")
    with pytest.raises(EstimationError, match="'newcombe' method"):
        res.with_conf_level(0.9)


def test_to_dict_is_json_safe():
    res = EffectResult.from_t(np.float64(1.0), np.float32(0.5), np.int64(10), warnings=["few clusters"],
                              extra={"nan": np.nan, "arr": np.arange(3), "frame": pd.DataFrame({"a": [1.5]}),
                                     "inf": np.inf, "flag": np.bool_(True)}, **FIELDS)
    out = res.to_dict()
    text = json.dumps(out, allow_nan=False)
    back = json.loads(text)
    assert back["extra"] == {"nan": None, "arr": [0, 1, 2], "frame": [{"a": 1.5}], "inf": None, "flag": True}
    assert back["conf_int"] == list(res.conf_int) and back["warnings"] == ["few clusters"]
    assert type(out["n"]) is int and type(out["estimate"]) is float


def test_tidy_has_broom_columns_and_summary_reads():
    res = EffectResult.from_t(1.0, 0.5, 10, outcome="hours", **FIELDS)
    tidy = res.tidy()
    assert list(tidy.columns[:8]) == ["term", "estimate", "std.error", "statistic", "p.value", "conf.low", "conf.high", "df"]
    text = res.summary()
    assert "design: simple" in text and "se_type: HC2" in text and "60 treated" in text
    assert repr(res).startswith("EffectResult(difference_in_means: estimate=1")


@pytest.mark.parametrize("se", [0.0, float("nan"), -1.0])
def test_unusable_standard_error_is_an_error(se):
    with pytest.raises(EstimationError, match="standard error"):
        EffectResult.from_t(1.0, se, 10, **FIELDS)


@pytest.mark.parametrize("alpha", [0, 1, -0.1, "a"])
def test_alpha_out_of_range(alpha):
    with pytest.raises(DesignError, match="alpha"):
        EffectResult.from_t(1.0, 0.5, 10, alpha=alpha, **FIELDS)


def test_effect_table_indexing_and_output():
    rows = tuple(EffectResult.from_t(float(k), 0.5, 20, **{**FIELDS, "term": f"lag{k}"}) for k in range(3))
    table = EffectTable(estimator="event_study", rows=rows, extra={"pretrend_p": 0.4}, headline_term="lag1")
    assert len(table) == 3 and table["lag1"].estimate == 1.0 and table[2].term == "lag2"
    assert table.tidy()["term"].tolist() == ["lag0", "lag1", "lag2"]
    assert table.tidy()["headline"].tolist() == [False, True, False]
    assert json.loads(json.dumps(table.to_dict(), allow_nan=False))["extra"]["pretrend_p"] == 0.4
    with pytest.raises(KeyError, match="no term 'lag9'"):
        table.term("lag9")


def test_power_result():
    res = PowerResult(calculator="two_proportions", solved="p2", value=np.float64(0.2496), inputs={"p1": 0.1, "n": 100},
                      method="fleiss")
    assert isinstance(res.value, float) and float(res) == pytest.approx(0.2496)
    assert res.to_dict()["inputs"] == {"p1": 0.1, "n": 100}
    with pytest.raises(EstimationError, match="no power curve"):
        res.plot()


def test_to_jsonable_scalars():
    assert to_jsonable(np.int32(3)) == 3 and to_jsonable(float("-inf")) is None and to_jsonable((1, "a")) == [1, "a"]


def test_power_result_summary_prints_grids_readably():
    res = PowerResult(calculator="schoenfeld", solved="events", value=np.array([102.3357122, 732.5992291]),
                      inputs={"hr": np.array([1.74, 1.23])}, method="schoenfeld")
    text = res.summary()
    assert "events = [102.335712, 732.599229]" in text and "hr=[1.74, 1.23]" in text


def test_new_level_drops_stale_level_dependent_extras():
    res = EffectResult.from_z(0.5, 0.2, extra={"conf_int_profile": (0.1, 0.9), "events": 40}, **FIELDS)
    new = res.with_conf_level(0.9)
    assert "conf_int_profile" not in new.extra and new.extra["events"] == 40
    assert "conf_int_profile dropped" in new.warnings[-1]
    assert res.extra["conf_int_profile"] == (0.1, 0.9)


def test_effect_table_needs_an_explicit_headline_and_hands_it_the_scalar_fields():
    rows = tuple(EffectResult.from_t(float(k), 0.5, 20, **{**FIELDS, "term": f"e={k}"}) for k in range(3))
    with pytest.raises(EstimationError, match="needs headline_term="):
        EffectTable(estimator="event_study", rows=rows)
    with pytest.raises(EstimationError, match="headline_term='post' is not a term"):
        EffectTable(estimator="event_study", rows=rows, headline_term="post")
    table = EffectTable(estimator="event_study", rows=rows, headline_term="e=2")
    head = table.headline
    assert head.term == "e=2"
    for name in ("estimate", "std_error", "conf_int", "p_value", "df", "n", "n_treated", "n_control",
                 "se_type", "design", "estimand", "outcome", "ci_method", "statistic"):
        assert getattr(table, name) == getattr(head, name), name
    assert json.loads(table.to_json())["headline"] == "e=2"


def test_results_are_immutable_in_fact():
    arr = np.arange(3.0)
    res = EffectResult.from_z(0.5, 0.2, extra={"curve": arr, "nested": {"a": [1, 2]}}, **FIELDS)
    with pytest.raises(TypeError):
        res.extra["new"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        res.extra["nested"]["a"] = 3  # type: ignore[index]
    with pytest.raises(ValueError, match="read-only"):
        res.extra["curve"][0] = 9.0
    with pytest.raises(AttributeError):
        res.extra["nested"]["a"].append(3)  # a read-only list has no append
    assert res.extra["nested"]["a"] == [1, 2]  # ...but compares equal to the list it was made from
    arr[0] = 5.0  # the caller's own array stays theirs
    with pytest.raises(AttributeError):
        res.estimate = 1.0  # type: ignore[misc]
    import pickle

    assert pickle.loads(pickle.dumps(res)) == res


def test_monte_carlo_p_value_is_never_printed_as_zero():
    from effekt.result import monte_carlo_p_value

    p = monte_carlo_p_value(0, 9999)
    assert p == pytest.approx(1e-4)
    res = EffectResult.from_z(0.5, 0.1, **FIELDS)
    mc = EffectResult(**{**{f: getattr(res, f) for f in ("estimator", "estimand", "term", "estimate", "std_error",
                                                            "conf_int", "conf_level", "df", "n")},
                         "p_value": p, "extra": {"sims": 9999}})
    assert "p-value    <= 0.0001" in mc.summary()
    tiny = EffectResult.from_z(5.0, 0.1, **FIELDS)
    assert "p-value    < 0.0001" in tiny.summary() and "e-" not in tiny.summary().split("p-value")[1].split()[0]


def test_a_result_without_a_picture_says_so():
    res = EffectResult.from_z(0.5, 0.2, **FIELDS)
    with pytest.raises(EstimationError, match="has no picture"):
        res.plot()


def test_warnings_point_at_the_users_line():
    import warnings

    import pandas as pd

    import effekt as ef
    from effekt.errors import EffektWarning

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"y": rng.normal(size=60), "z": np.tile([0, 1], 30), "m": rng.normal(size=60)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ef.estimate("mediation", data=df, outcome="y", treatment="z", mediator="m", sims=20, seed=1)  # few sims
    ours = [w for w in caught if issubclass(w.category, EffektWarning)]
    assert ours, "expected the few-draws warning"
    assert all(w.filename == __file__ for w in ours), [w.filename for w in ours]
