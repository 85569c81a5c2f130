"""Every register result keeps the result family's protocol and cannot be edited through tidy()."""

import json

import pandas as pd
import pytest

from effekt import registers as rg
from effekt.result import Result


def results():
    counts = pd.DataFrame({"kommune": ["A", "B", "C"], "k": [4, 19, 30], "n": [10, 46, 70]})
    n = pd.DataFrame({"I": [65, 44], "C": [55, 54]})
    pct = pd.DataFrame({"I": [59.6, 40.4], "C": [50.5, 50.5]})
    df = pd.DataFrame({"pnr": [1] * 4 + [2] * 4, "week": list(range(4)) * 2, "s": list("aabbabba")})
    panel = rg.StatePanel.from_long(df, person="pnr", period="week", state="s")
    w = rg.follow_up(panel, pd.Series({1: 0, 2: 1}))
    return {
        "small_area_rates": rg.small_area_rates(counts, area="kommune", count="k", total="n"),
        "percentage_check": rg.check_percentages(n, pct),
        "sum_check": rg.check_sums(pct),
        "attainment": rg.attainment(rg.run_length(panel, w, ["a", "b"], min_run=2), target=0.5),
        "monitoring": rg.monitor_shares(panel, w, ["a"]),
        "enrolment_projection": rg.project_enrolment(
            pd.DataFrame({"site": ["x"], "a": [1], "m": [2], "M": [4]}), site="site", enrolled="a",
            milestone="m", target="M"),
    }


@pytest.mark.parametrize("kind", list(results()))
def test_protocol(kind):
    res = results()[kind]
    assert isinstance(res, Result)
    assert res.kind == kind
    data = json.loads(res.to_json())
    assert data["kind"] == kind and len(data["table"]) == len(res.tidy())
    assert isinstance(res.summary(), str) and res.title in res.summary()
    t = res.tidy()
    first = t.columns[0]
    t[first] = "changed"
    assert (res.tidy()[first] != "changed").all()
    with pytest.raises(AttributeError):
        res.title = "x"  # type: ignore[misc]


def test_results_without_a_picture_say_so():
    with pytest.raises(TypeError, match="has no picture"):
        results()["sum_check"].plot()
