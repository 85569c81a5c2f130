"""Run-length outcomes and attainment against a target."""

import numpy as np
import pandas as pd
import pytest

from effekt.errors import DataError, DesignError
from effekt.registers import StatePanel, attainment, follow_up, run_length
from effekt.result import Result

TARGET_SET = ["ba", "oh", "ud", "fj"]  # seed 002 §2.4: activation, ordinary hours, education, flexjob


def slow_longest_run(states, start, stop, wanted):
    best = run = 0
    for t in range(start, stop):
        run = run + 1 if states[t] in wanted else 0
        best = max(best, run)
    return best


def test_matches_a_plain_loop():
    rng = np.random.default_rng(7)
    n, weeks = 200, 40
    codes = np.array(["kh", "ba", "oh", "fj"], dtype=object)[rng.choice(4, (n, weeks), p=[0.4, 0.3, 0.2, 0.1])]
    df = pd.DataFrame({"pnr": np.repeat(np.arange(n), weeks), "week": np.tile(np.arange(weeks), n),
                       "s": codes.ravel()})
    panel = StatePanel.from_long(df, person="pnr", period="week", state="s")
    index = pd.Series(rng.integers(0, 20, n), index=np.arange(n))
    w = follow_up(panel, index, cutoff=35)
    got = run_length(panel, w, ["ba", "oh", "fj"], min_run=4)
    ref = [slow_longest_run(codes[i], index[i], 36, {"ba", "oh", "fj"}) for i in range(n)]
    assert got["longest_run"].tolist() == ref
    assert (got["attained"] == (np.array(ref) >= 4)).all()
    # the period of attainment is where the first run of 4 completes
    for i in np.flatnonzero(got["attained"])[:20]:
        t = got["attained_period"].iloc[i]
        assert slow_longest_run(codes[i], index[i], t + 1, {"ba", "oh", "fj"}) == 4
        assert slow_longest_run(codes[i], index[i], t, {"ba", "oh", "fj"}) < 4


def test_runs_before_the_window_do_not_count():
    df = pd.DataFrame({"pnr": [1] * 8, "week": range(8), "s": list("aaaaxaax")})
    panel = StatePanel.from_long(df, person="pnr", period="week", state="s")
    got = run_length(panel, follow_up(panel, pd.Series({1: 2})), ["a"], min_run=3)
    assert got["longest_run"].tolist() == [2]  # weeks 2-3 only: the run from week 0 is cut at the index
    assert not got["attained"].iloc[0] and pd.isna(got["attained_period"].iloc[0])


def solrod_panel():
    # seed 002 §4.2: Solrød met the 40 % target with 4 of its 10 group-1 citizens,
    # 3 visited to flexjob + 1 in work placement or wage subsidy; 13 weeks = 3 months
    weeks = 30
    rows = []
    for pid in range(10):
        if pid < 3:
            seq = ["kh"] * 5 + ["fj"] * 25
        elif pid == 3:
            seq = ["kh"] * 2 + ["ba"] * 14 + ["kh"] * 14
        else:  # runs too short: 12 weeks of activation, or scattered ordinary hours
            seq = (["ba"] * 12 + ["kh"] * 18) if pid % 2 else (["oh", "kh"] * 15)
        rows += [{"pnr": pid, "week": t, "s": s, "kommune": "Solrød"} for t, s in enumerate(seq[:weeks])]
    for pid in range(10, 56):  # Køge, 46 group-1 citizens (§4.2); 19 = ceil(0.4 * 46) needed
        seq = ["oh"] * 20 + ["kh"] * 10 if pid < 10 + 18 else ["kh"] * 30
        rows += [{"pnr": pid, "week": t, "s": s, "kommune": "Køge"} for t, s in enumerate(seq)]
    return pd.DataFrame(rows)


def test_solrod_attains_the_target_with_three_flexjobs_and_one_placement():
    df = solrod_panel()
    panel = StatePanel.from_long(df, person="pnr", period="week", state="s", states=["kh", *TARGET_SET])
    runs = run_length(panel, follow_up(panel, pd.Series(0, index=range(56))), TARGET_SET, min_run=13)
    kommune = df.groupby("pnr")["kommune"].first()
    res = attainment(runs, by=kommune, target=0.40)
    assert isinstance(res, Result)
    t = res.tidy().set_index("group")
    assert (t.loc["Solrød", "attained"], t.loc["Solrød", "n"]) == (4, 10)  # seed 002 §4.2: 4/10 = 40 %
    assert t.loc["Solrød", "share"] == pytest.approx(0.40) and t.loc["Solrød", "met"]
    # seed 002 §4.14/§6 item 6: Wilson interval of 4/10 is [0.168, 0.687]
    assert (round(t.loc["Solrød", "ci_low"], 3), round(t.loc["Solrød", "ci_high"], 3)) == (0.168, 0.687)
    assert res.extra["composition"]["Solrød"] == {"fj": 3, "ba": 1}
    # Køge (§4.2): the target needs ceil(0.4 * 46) = 19; 18 falls one short
    assert t.loc["Køge", "attained"] == 18 and not t.loc["Køge", "met"] and t.loc["Køge", "short_by"] == 1
    assert res.to_dict()["extra"]["overall"] == {"attained": 22, "n": 56, "share": 22 / 56}
    assert res.extra["status_period"] == 29
    fig = res.plot()
    assert type(fig).__name__ == "Figure"


def test_bad_options():
    df = solrod_panel()
    panel = StatePanel.from_long(df, person="pnr", period="week", state="s", states=["kh", *TARGET_SET])
    w = follow_up(panel, pd.Series(0, index=range(56)))
    with pytest.raises(DesignError, match="min_run must be a positive whole number"):
        run_length(panel, w, TARGET_SET, min_run=0)
    runs = run_length(panel, w, TARGET_SET, min_run=13)
    with pytest.raises(DesignError, match="target must be a share between 0 and 1"):
        attainment(runs, target=40)
    with pytest.raises(DataError, match="by column 'kommune'"):
        attainment(runs, by="kommune", target=0.4)


def test_declared_states():
    df = pd.DataFrame({"pnr": [1], "week": [0], "s": ["zz"]})
    with pytest.raises(DataError, match="codes not in states=: \\['zz'\\]"):
        StatePanel.from_long(df, person="pnr", period="week", state="s", states=["kh"])
