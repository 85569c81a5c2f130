"""effekt.simulate: declared designs, their diagnosis, backends, TOML files, redesign and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from effekt.errors import DesignError, EffektError
from effekt.simulate import (
    Assign,
    Design,
    Estimand,
    Estimator,
    Outcomes,
    Population,
    diagnose,
    redesign,
)

DIM = {"outcome": "y", "treatment": "z", "blocks": "block"}


def blocked(n: int = 40, effect: float = 0.5) -> Design:
    return Design(
        population=Population(n=n, blocks=4, block_sd=1.0),
        outcomes=Outcomes(effect=effect),
        assignment=Assign(kind="block"),
        estimands=(Estimand("ate"),),
        estimators=(Estimator("dim", "difference_in_means", "ate", DIM),),
        name="small blocked trial",
    )


# --------------------------------------------------------------------------- must show
def test_blocked_difference_in_means_is_unbiased_and_covers():
    # a blocked two-arm trial with a known constant effect: the blocked difference in
    # means is unbiased and its Neyman (HC2) interval covers at about 95%
    # (Gerber & Green 2012, eq. 3.10; conservative only with heterogeneous effects)
    diag = diagnose(blocked(), sims=500, seed=20)
    bias, bias_se = diag.value("bias"), diag.std_error("bias")
    cov, cov_se = diag.value("coverage"), diag.std_error("coverage")
    assert bias_se > 0 and cov_se > 0
    assert abs(bias) < 3 * bias_se
    assert abs(cov - 0.95) < 3 * cov_se
    assert diag.value("mean_estimand") == pytest.approx(0.5)
    assert len(diag.simulations) == 500


def test_a_design_written_to_toml_and_read_back_diagnoses_identically(tmp_path):
    design = Design.example()
    path = tmp_path / "design.toml"
    design.to_toml(path)
    again = Design.from_toml(path)
    assert again == design
    a = diagnose(design, sims=30, seed=4, bootstrap_sims=20)
    b = diagnose(again, sims=30, seed=4, bootstrap_sims=20)
    pd.testing.assert_frame_equal(a.diagnosands, b.diagnosands)
    pd.testing.assert_frame_equal(a.simulations, b.simulations)


def test_staggered_adoption_twfe_is_biased_and_callaway_santanna_is_not():
    # effects that grow with time since adoption: the TWFE coefficient weights
    # already-treated units as controls (Goodman-Bacon 2021), Callaway & Sant'Anna's
    # simple ATT targets the mean effect on the treated unit-weeks
    diag = diagnose(Design.example("staggered"), sims=300, seed=11)
    twfe, cs = (diag.value("bias", e) for e in ("twfe", "callaway_santanna"))
    assert abs(twfe) > 5 * diag.std_error("bias", "twfe")
    assert abs(cs) < 3 * diag.std_error("bias", "callaway_santanna")


def test_backends_give_identical_diagnosands():
    distributed = pytest.importorskip("distributed")
    design = Design.example()
    ref = diagnose(design, sims=24, seed=9, bootstrap_sims=20)
    results = [diagnose(design, sims=24, seed=9, bootstrap_sims=20, backend="processes", workers=2)]
    for workers in (1, 2):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            results.append(diagnose(design, sims=24, seed=9, bootstrap_sims=20, backend="dask", client=client))
    for res in results:
        pd.testing.assert_frame_equal(res.diagnosands, ref.diagnosands)
        pd.testing.assert_frame_equal(res.simulations, ref.simulations)


# --------------------------------------------------------------------------- the engine
def test_common_random_numbers_and_one_stream_per_simulation():
    design = Design.example()
    diag = diagnose(design, sims=6, seed=2, bootstrap_sims=0)
    sims = diag.simulations
    # every estimator saw the same draw: the same estimand value in each simulation
    wide = sims.pivot(index="sim", columns="estimator", values="estimand_value")
    assert (wide["difference_in_means"] == wide["lin"]).all()
    # simulation s is the draw of SeedSequence(seed).spawn(sims)[s]
    child = np.random.SeedSequence(2).spawn(6)[3]
    frame = design.draw(np.random.default_rng(child))
    assert sims.query("sim == 3")["estimand_value"].iloc[0] == pytest.approx(frame["y1"].mean() - frame["y0"].mean())
    # the first simulations do not depend on how many are run
    longer = diagnose(design, sims=9, seed=2, bootstrap_sims=0).simulations
    pd.testing.assert_frame_equal(longer.iloc[: len(sims)], sims)


def test_user_diagnosands_and_the_result_protocol():
    from effekt.result import Result

    diag = diagnose(blocked(), sims=20, seed=1, bootstrap_sims=10,
                    diagnosands={"median_estimate": lambda s, alpha: float(s["estimate"].median())})
    assert isinstance(diag, Result)
    assert diag.value("median_estimate") == pytest.approx(diag.simulations["estimate"].median())
    assert np.isfinite(diag.std_error("median_estimate"))
    data = json.loads(diag.to_json())
    assert data["sims"] == 20 and data["design"]["name"] == "small blocked trial"
    assert "coverage" in diag.summary() and set(diag.wide().columns) >= {"bias", "rmse", "power"}
    fig = diag.plot()
    assert len(fig.axes) == 4


def test_type_s_and_exaggeration_follow_their_definitions():
    diag = diagnose(blocked(effect=0.2), sims=40, seed=3, bootstrap_sims=0)
    s = diag.simulations
    sig = s["p_value"] <= 0.05
    assert diag.value("exaggeration_ratio") == pytest.approx((s["estimate"].abs() / s["estimand_value"].abs())[sig].mean())
    assert diag.value("type_s_rate") == pytest.approx((np.sign(s["estimate"]) != np.sign(s["estimand_value"]))[sig].mean())


def test_binary_and_clustered_designs_draw_and_diagnose():
    design = Design(
        population=Population(n=60, clusters=12, icc=0.2),
        outcomes=Outcomes(kind="binary", baseline=0.3, effect=0.2),
        assignment=Assign(kind="cluster"),
        estimands=(Estimand("ate"), Estimand("att")),
        estimators=(
            Estimator("dim", "difference_in_means", "ate", {"outcome": "y", "treatment": "z", "clusters": "cluster"}),
            Estimator("dim_att", "difference_in_means", "att", {"outcome": "y", "treatment": "z", "clusters": "cluster"}),
        ),
    )
    frame = design.draw(np.random.default_rng(0))
    assert set(frame["y"].unique()) <= {0.0, 1.0}
    # whole clusters are assigned
    assert (frame.groupby("cluster")["z"].nunique() == 1).all()
    assert ((frame["y1"] - frame["y0"]) >= 0).all()  # monotone effect
    diag = diagnose(design, sims=10, seed=1, bootstrap_sims=0)
    assert set(diag.tidy()["estimand"]) == {"ate", "att"}


def count_design(n: int = 60, effect: float = 0.3) -> Design:
    return Design(
        population=Population(n=n, blocks=4, block_sd=0.3),
        outcomes=Outcomes(kind="count", baseline=2.0, effect=effect),
        assignment=Assign(kind="block"),
        estimands=(Estimand("ate"),),
        estimators=(Estimator("dim", "difference_in_means", "ate", DIM),),
        name="count outcome",
    )


def test_count_outcome_difference_in_means_is_unbiased_and_covers():
    # the blocked difference in means is unbiased for the sample ATE whatever the
    # outcome's distribution (Gerber & Green 2012, ch. 3); here the ATE is the
    # difference in mean counts, mean(y1 - y0)
    design = count_design()
    frame = design.draw(np.random.default_rng(3))
    assert (frame["y0"] == frame["y0"].round()).all() and (frame["y0"] >= 0).all()
    assert (frame["y1"] >= frame["y0"]).all()  # one uniform through both inverse CDFs
    diag = diagnose(design, sims=300, seed=20)
    bias, bias_se = diag.value("bias"), diag.std_error("bias")
    cov, cov_se = diag.value("coverage"), diag.std_error("coverage")
    assert bias_se > 0 and cov_se > 0
    assert abs(bias) < 3 * bias_se
    assert abs(cov - 0.95) < 3 * cov_se
    # E[y1 - y0] = E[mu0] * (exp(effect) - 1), mu0 = 2 * exp(block effect), block_sd 0.3
    assert diag.value("mean_estimand") == pytest.approx(2.0 * np.exp(0.3**2 / 2) * (np.exp(0.3) - 1), rel=0.1)


def test_count_outcome_with_attrition_and_compliance_draws():
    design = count_design().replace(**{"outcomes.attrition": 0.2, "outcomes.compliance": 0.7})
    frame = design.draw(np.random.default_rng(1))
    assert {"observed", "complier", "received"} <= set(frame.columns)
    assert frame["y"].isna().sum() == (frame["observed"] == 0).sum()
    with pytest.raises(DesignError, match="outcomes.baseline"):
        Outcomes(kind="count", baseline=0.0)


def test_count_and_cohort_effects_round_trip_through_toml():
    for design in (count_design(), Design.example("staggered").replace(**{"outcomes.cohort_effects": (0.5, 2.0)})):
        again = Design.from_toml(design.to_toml())
        assert again == design
    assert "cohort_effects = [0.5, 2.0]" in again.to_toml()


def test_panel_cohort_effects_callaway_santanna_recovers_the_att():
    # the simple aggregation of Callaway & Sant'Anna (2021) weights the group-time
    # ATTs by their treated unit-weeks, the target of the att estimand, whatever
    # the cohorts' effects
    design = Design(
        population=Population(n=60),
        outcomes=Outcomes(kind="panel", cohort_effects=(0.5, 2.5), periods=8, cohorts=(3, 6),
                          cohort_shares=(0.4, 0.4), sd=0.5),
        estimands=(Estimand("att"), Estimand("e0", kind="att_event_time", event_time=0)),
        estimators=(Estimator("callaway_santanna", "callaway_santanna", "att",
                              {"outcome": "y", "unit": "unit", "period": "period",
                               "first_treated": "first_treated", "est_method": "reg"}),),
    )
    frame = design.draw(np.random.default_rng(2))
    tau = (frame["y1"] - frame["y0"])[frame["d"] == 1]
    assert set(tau.round(12)) == {0.5, 2.5}
    # 24 units adopt in week 3 (6 treated weeks), 24 in week 6 (3 treated weeks)
    assert design.estimand_values(frame) == pytest.approx({"att": (6 * 0.5 + 3 * 2.5) / 9, "e0": 1.5})
    diag = diagnose(design, sims=200, seed=7)
    assert diag.value("mean_estimand") == pytest.approx((6 * 0.5 + 3 * 2.5) / 9)
    assert abs(diag.value("bias")) < 3 * diag.std_error("bias")
    with pytest.raises(DesignError, match="outcomes.cohort_effects"):
        Outcomes(kind="panel", cohorts=(3, 6), cohort_shares=(0.4, 0.4), cohort_effects=(1.0,))
    with pytest.raises(DesignError, match="outcomes.cohort_effects"):
        Outcomes(cohort_effects=(1.0, 2.0))


def test_panel_draw_has_the_staggered_columns():
    frame = Design.example("staggered").draw(np.random.default_rng(1))
    assert set(frame.columns) >= {"unit", "period", "first_treated", "treated", "d", "post", "y"}
    late = frame[(frame["first_treated"] == 6)]
    assert (late["d"] == (late["period"] >= 6)).all()


# --------------------------------------------------------------------------- errors
def test_unknown_toml_keys_are_named():
    text = Design.example().to_toml()
    with pytest.raises(DesignError, match="'colour'"):
        Design.from_toml(text.replace("[population]\n", "[population]\ncolour = 1\n"))
    with pytest.raises(DesignError, match="'extras'"):
        Design.from_toml("extras = 1\n" + text)
    with pytest.raises(DesignError, match="not valid TOML"):
        Design.from_toml("[population\n")


def test_reading_a_design_never_runs_code(tmp_path):
    # TOML holds data only: a string that looks like code stays a string
    text = Design.example().to_toml().replace('name = "blocked trial"', 'name = "__import__(\'os\').system(\'false\')"')
    assert Design.from_toml(text).name.startswith("__import__")


def test_design_errors_name_what_is_wrong():
    with pytest.raises(DesignError, match="'nope'"):
        Design(estimands=(Estimand("ate"),), estimators=(Estimator("a", "difference_in_means", "nope"),))
    with pytest.raises(DesignError, match="population.blocks"):
        Design(assignment=Assign(kind="block"), estimands=(Estimand("ate"),),
               estimators=(Estimator("a", "difference_in_means", "ate", DIM),))
    with pytest.raises(DesignError, match="population.icc"):
        Population(icc=0.1)
    with pytest.raises(DesignError, match="outcomes.kind"):
        Outcomes(kind="poisson")
    with pytest.raises(DesignError, match="no parameter 'size'"):
        blocked().replace(size=3)


def test_bad_options_fail_before_anything_is_simulated():
    design = Design(population=Population(n=20), estimands=(Estimand("ate"),),
                    estimators=(Estimator("a", "difference_in_means", "ate", {"outcome": "y", "treatment": "z", "colour": 1}),))
    with pytest.raises(DesignError, match="colour"):
        diagnose(design, sims=5, seed=1)
    for bad in ({"sims": 2.5}, {"backend": "gpu"}, {"seed": "abc"}, {"alpha": 1.5}):
        with pytest.raises(DesignError, match=next(iter(bad))):
            diagnose(blocked(), **{"sims": 5, "seed": 1, **bad})


def test_dask_missing_names_the_extra(monkeypatch):
    import builtins

    real = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name.startswith("distributed"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    with pytest.raises(EffektError, match=r"effekt\[dask\]"):
        diagnose(blocked(), sims=4, seed=1, backend="dask")


# --------------------------------------------------------------------------- redesign and CLI
def test_redesign_power_grows_with_n_and_plots():
    grid = redesign(blocked(), sims=40, seed=5, bootstrap_sims=10, n=[16, 80])
    power = grid.tidy().query("diagnosand == 'power'").set_index("n")["value"]
    assert power[80] > power[16]
    fig = grid.plot()
    assert fig.axes[0].get_xlabel() == "n"
    assert "power" in grid.summary()
    effects = redesign(blocked(n=80), sims=40, seed=5, bootstrap_sims=0, effect=[0.0, 1.5])
    assert effects.minimal_detectable("dim", power=0.8) == 1.5


def test_cli_diagnose(tmp_path, capsys):
    from effekt.cli import main

    path = tmp_path / "d.toml"
    blocked().to_toml(path)
    assert main(["diagnose", str(path), "--sims", "10", "--seed", "1", "--json", "--out", str(tmp_path / "out")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sims"] == 10 and any(r["diagnosand"] == "bias" for r in data["diagnosands"])
    assert (tmp_path / "out" / "simulations.csv").exists()
    assert main(["diagnose", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _draw_normal(index, rng):
    return index, float(rng.standard_normal())


def test_map_simulations_is_the_same_on_every_backend():
    from effekt.simulate.diagnosis import map_simulations

    streams = np.random.SeedSequence(7).spawn(10)
    serial = map_simulations(_draw_normal, streams)
    assert serial == map_simulations(_draw_normal, streams, backend="processes", workers=2)
    assert [i for i, _ in serial] == list(range(10))
    assert serial[4][1] == np.random.default_rng(streams[4]).standard_normal()


def test_survival_outcomes_and_their_estimands():
    # exponential weekly hazards with a hazard ratio exp(0.4), no covariates: Cox's HR and
    # the RMST difference at 26 weeks are close to their estimands (Cox 1972; Royston &
    # Parmar 2013), checked within 4 bootstrap SEs
    design = Design(
        population=Population(n=200),
        outcomes=Outcomes(kind="survival", baseline=0.05, effect=0.4, periods=52, censoring=0.01),
        estimands=(Estimand("rmst", kind="rmst_difference", horizon=26), Estimand("hr", kind="hazard_ratio")),
        estimators=(
            Estimator("rmst", "rmst", "rmst", {"time": "time", "event": "event", "treatment": "z", "horizon": 26}),
            Estimator("cox", "cox", "hr", {"time": "time", "event": "event", "treatment": "z"}),
        ),
    )
    frame = design.draw(np.random.default_rng(3))
    assert (frame["time"] <= 52).all() and set(frame["event"]) <= {0, 1}
    assert (frame["y1"] <= frame["y0"]).all()  # a hazard ratio above 1 shortens every spell
    diag = diagnose(design, sims=60, seed=8, bootstrap_sims=30)
    for name in ("rmst", "cox"):
        assert abs(diag.value("bias", name)) < 4 * diag.std_error("bias", name)
        assert diag.value("n_failed", name) == 0
    assert diag.value("mean_estimand", "cox") == pytest.approx(np.exp(0.4))
    assert Design.from_toml(design.to_toml()) == design


def test_compare_puts_designs_side_by_side():
    from effekt.simulate import compare

    a = diagnose(blocked(), sims=20, seed=2, bootstrap_sims=5)
    b = diagnose(blocked().replace(**{"assignment.kind": "complete"}), sims=20, seed=2, bootstrap_sims=5)
    both = compare(blocked=a, complete=b)
    assert list(both.tidy()["design"].unique()) == ["blocked", "complete"]
    assert both.plot(diagnosand="rmse").axes[0].get_xlabel() == "design"
    with pytest.raises(DesignError, match="Diagnosis"):
        compare(a=1)


def test_non_compliance_cace_targets_the_compliers():
    # one-sided non-compliance, 60% compliers: the Wald/IV estimator targets the CACE and
    # the difference in means the ITT = 0.6 * CACE here (Angrist, Imbens & Rubin 1996)
    design = Design(
        population=Population(n=200),
        outcomes=Outcomes(effect=1.0, compliance=0.6),
        estimands=(Estimand("itt"), Estimand("cace")),
        estimators=(
            Estimator("dim", "difference_in_means", "itt", {"outcome": "y", "treatment": "z"}),
            Estimator("cace", "cace", "cace", {"outcome": "y", "treatment": "z", "received": "received"}),
        ),
    )
    frame = design.draw(np.random.default_rng(2))
    assert (frame.loc[frame["z"] == 0, "received"] == 0).all()
    diag = diagnose(design, sims=60, seed=6, bootstrap_sims=30)
    assert diag.value("mean_estimand", "cace") == pytest.approx(1.0)
    assert diag.value("mean_estimand", "dim") == pytest.approx(0.6, abs=0.05)
    for name in ("dim", "cace"):
        assert abs(diag.value("bias", name)) < 4 * diag.std_error("bias", name)


def test_from_toml_reads_a_path_given_as_text(tmp_path):
    path = tmp_path / "trial.design"
    blocked().to_toml(path)
    assert Design.from_toml(str(path)) == blocked()
    with pytest.raises(DesignError, match="does not exist"):
        Design.from_toml(str(tmp_path / "missing.toml"))


# --------------------------------------------------------------------------- competing exits
SURV = {"time": "time", "event": "event", "treatment": "z"}


def competing(n: int = 400) -> Design:
    # two exits (a job, cause 1, and another exit, cause 2) with their own weekly hazards and
    # effects; staggered entry over 20 weeks and an administrative cut-off in week 40
    return Design(
        population=Population(n=n, entry=20),
        outcomes=Outcomes(kind="survival", baseline=0.06, effect=0.5, exits=(0.04,), exit_effects=(-0.3,),
                          cutoff=40),
        estimands=(Estimand("csh", kind="cause_specific_hazard_ratio"),
                   Estimand("csh2", kind="cause_specific_hazard_ratio", cause=2),
                   Estimand("cif", kind="cumulative_incidence_difference", horizon=12)),
        estimators=(Estimator("csc", "cause_specific_cox", "csh", {**SURV, "cause": 1}),
                    Estimator("csc2", "cause_specific_cox", "csh2", {**SURV, "cause": 2}),
                    Estimator("aj", "aalen_johansen", "cif", {**SURV, "cause": 1, "horizon": 12})),
    )


def test_competing_exits_with_staggered_entry_and_a_cut_off_are_drawn_as_declared():
    design = competing()
    frame = design.draw(np.random.default_rng(3))
    assert set(frame["event"]) <= {0, 1, 2} and {1, 2} <= set(frame["event"])
    assert frame["arrival"].between(0, 19).all()
    assert (frame["follow_up"] == 40 - frame["arrival"]).all()
    assert (frame["time"] <= frame["follow_up"]).all()
    censored = frame["event"] == 0
    assert (frame.loc[censored, "time"] == frame.loc[censored, "follow_up"]).all()  # no random censoring
    exited = ~censored
    cause = np.where(frame["z"] == 1, frame["cause1"], frame["cause0"])
    assert (frame.loc[exited, "event"].to_numpy() == cause[exited.to_numpy()]).all()
    values = design.estimand_values(frame)
    assert values["csh"] == pytest.approx(np.exp(0.5)) and values["csh2"] == pytest.approx(np.exp(-0.3))
    assert Design.from_toml(design.to_toml()) == design


def test_cause_specific_cox_and_aalen_johansen_recover_their_estimands():
    # cause-specific Cox targets each cause's hazard ratio (Prentice et al. 1978); the
    # Aalen-Johansen difference at 12 weeks the difference in cumulative incidence
    # (Aalen & Johansen 1978), both under independent administrative censoring
    diag = diagnose(competing(), sims=150, seed=3, bootstrap_sims=50)
    for name in ("csc", "csc2", "aj"):
        assert abs(diag.value("bias", name)) < 3 * diag.std_error("bias", name), name
    assert diag.value("mean_estimand", "aj") > 0.1
    assert (diag.simulations["error"] == "").all()


def test_competing_exit_declarations_are_checked():
    with pytest.raises(DesignError, match="exit_effects"):
        Outcomes(kind="survival", exits=(0.02, 0.03), exit_effects=(0.1,))
    with pytest.raises(DesignError, match="survival"):
        Outcomes(exits=(0.02,))
    with pytest.raises(DesignError, match="cutoff"):
        Design(population=Population(n=20, entry=10), outcomes=Outcomes(kind="survival", cutoff=9),
               estimands=(Estimand("hazard_ratio"),), estimators=(Estimator("cox", "cox", "hazard_ratio", SURV),))
    with pytest.raises(DesignError, match="cause_specific_hazard_ratio"):
        Design(outcomes=Outcomes(kind="survival", effect=0.5, exits=(0.02,), exit_effects=(0.0,)),
               estimands=(Estimand("hazard_ratio"),), estimators=(Estimator("cox", "cox", "hazard_ratio", SURV),))
    design = competing().replace(**{"outcomes.exits": ()}, **{"outcomes.exit_effects": None})
    with pytest.raises(DesignError, match="cause 2 is not declared"):
        design.estimand_values(design.draw(np.random.default_rng(1)))


# --------------------------------------------------------------------------- batches, capacity, attrition
def batch_trial(**outcomes: float) -> Design:
    # the Copenhagen batch-lottery design in small: units arrive in 6 fortnightly batches,
    # each drawn 1:1 by effekt.design.BatchLottery until the 40 programme places are taken
    return Design(
        population=Population(n=120, batches=6),
        outcomes=Outcomes(effect=0.5, **outcomes),
        assignment=Assign(kind="batch", capacity=40),
        estimands=(Estimand("ate"),),
        estimators=(Estimator("dim", "difference_in_means", "ate",
                              {"outcome": "y", "treatment": "z", "blocks": "batch"}),),
    )


def test_a_batch_lottery_with_a_capacity_cap_stops_when_the_places_are_taken():
    design = batch_trial()
    frame = design.draw(np.random.default_rng(5))
    assert int(frame["z"].sum()) == 40 and len(frame) == 80  # batches 5 and 6 find no place left
    assert sorted(frame["batch"].unique()) == [1, 2, 3, 4]
    assert (frame["arrival"] == (frame["batch"] - 1) * 2).all()
    assert (frame.groupby("batch")["z"].mean() == 0.5).all()  # 1:1 within each batch
    again = design.draw(np.random.default_rng(5))
    pd.testing.assert_frame_equal(frame, again)  # the lottery's seed comes from the simulation's stream
    assert Design.from_toml(design.to_toml()) == design
    with pytest.raises(DesignError, match="population.batches"):
        Design(outcomes=Outcomes(), assignment=Assign(kind="batch"), estimands=(Estimand("ate"),),
               estimators=(Estimator("dim", "difference_in_means", "ate", DIM),))
    with pytest.raises(DesignError, match="kind='batch'"):
        Assign(capacity=10)


def test_attrition_by_arm_leaves_the_blocked_difference_in_means_unbiased():
    # outcomes missing completely at random within arm (10% control, 30% programme):
    # dropping them leaves the difference in means unbiased for the ATE (Gerber & Green 2012, ch. 7)
    design = batch_trial(attrition=0.1, attrition_treated=0.3)
    frame = design.draw(np.random.default_rng(2))
    assert frame["y"].isna().sum() == (frame["observed"] == 0).sum() > 0
    diag = diagnose(design, sims=150, seed=8, bootstrap_sims=50)
    assert (diag.simulations["error"] == "").all()  # run with missing="drop"
    assert abs(diag.value("bias")) < 3 * diag.std_error("bias")
    assert abs(diag.value("coverage") - 0.95) < 3 * diag.std_error("coverage") + 0.01
    assert Design.from_toml(design.to_toml()) == design
    strict = Design(population=design.population, outcomes=design.outcomes, assignment=design.assignment,
                    estimands=design.estimands,
                    estimators=(Estimator("dim", "difference_in_means", "ate",
                                          {"outcome": "y", "treatment": "z", "missing": "error"}),))
    with pytest.raises(DesignError, match="missing values"):  # the design's declared handling wins
        diagnose(strict, sims=3, seed=1, bootstrap_sims=10)
    with pytest.raises(DesignError, match="censoring"):
        Outcomes(kind="survival", attrition=0.1)


# --------------------------------------------------------------------------- ATT by event time
PANEL = {"outcome": "y", "unit": "unit", "period": "period", "first_treated": "first_treated"}


def test_event_study_rows_recover_the_att_by_event_time():
    # effects 1 + 0.5 e, the same in both cohorts: the saturated event study (with never
    # treated units) is unbiased for each ATT(e) and its "post" row for their equally weighted
    # average (Sun & Abraham 2021), as is Callaway & Sant'Anna's dynamic aggregation
    design = Design(
        population=Population(n=60),
        outcomes=Outcomes(kind="panel", effect=1.0, growth=0.5, periods=8, cohorts=(3, 6),
                          cohort_shares=(0.4, 0.4), sd=0.5),
        estimands=(Estimand("post", kind="att_event_time"), Estimand("e2", kind="att_event_time", event_time=2),
                   Estimand("post2", kind="att_event_time", horizon=2)),
        estimators=(Estimator("es", "event_study", "post", PANEL),
                    Estimator("es_e2", "event_study", "e2", PANEL, term="e=2"),
                    Estimator("cs", "callaway_santanna", "post", {**PANEL, "aggregation": "dynamic"})),
    )
    values = design.estimand_values(design.draw(np.random.default_rng(1)))
    assert values == pytest.approx({"post": 1 + 0.5 * 2.5, "e2": 2.0, "post2": 1.5})  # e = 0..5; e = 0..2
    diag = diagnose(design, sims=80, seed=3, bootstrap_sims=50)
    for name in ("es", "es_e2", "cs"):
        assert abs(diag.value("bias", name)) < 3 * diag.std_error("bias", name), name
    assert Design.from_toml(design.to_toml()) == design
    missing_row = Design(population=design.population, outcomes=design.outcomes, estimands=design.estimands[:1],
                         estimators=(Estimator("es", "event_study", "post", PANEL, term="e=99"),))
    with pytest.raises(DesignError, match="no row 'e=99'"):
        diagnose(missing_row, sims=2, seed=1, bootstrap_sims=10)
    with pytest.raises(DesignError, match="needs outcomes.kind='panel'"):
        Estimand("e", kind="att_event_time").value(pd.DataFrame(), Outcomes())


# --------------------------------------------------------------------------- bundled examples
@pytest.mark.parametrize("kind", ["blocked", "batch_lottery", "staggered", "survival"])
def test_each_bundled_example_recovers_its_estimands(kind):
    # the difference in means, Lin and lm_robust with block (batch) fixed effects are unbiased
    # for the ATE of a blocked trial (Lin 2013: at worst O(1/n)); Callaway & Sant'Anna and the
    # event study for the ATT and the ATT by event time, TWFE not (Goodman-Bacon 2021); with
    # proportional hazards and the same effect on both exits, log-rank and Cox for the all-cause
    # hazard ratio and the RMST difference at 26 weeks (Royston & Parmar 2013)
    design = Design.example(kind)
    assert Design.from_toml(design.to_toml()) == design
    diag = diagnose(design, sims=40, seed=1, bootstrap_sims=50)
    assert (diag.simulations["error"] == "").all()
    for spec in design.estimators:
        bias, se = diag.value("bias", spec.label), diag.std_error("bias", spec.label)
        if spec.label == "twfe":
            assert abs(bias) > 5 * se
        else:
            assert abs(bias) < 3 * se, spec.label
    with pytest.raises(DesignError, match="'survival'"):
        Design.example("nothing")


def test_top_ups_fill_the_places_freed_by_units_who_decline():
    # the resource-course lottery topped up freed places with later batches (VIVE 2019):
    # with top-ups the places taken up reach the capacity and never exceed it; without
    # them a declined offer keeps its place
    base = batch_trial().replace(n=200, batches=10, **{"outcomes.compliance": 0.7})  # enough batches to fill up
    topped = base.replace(**{"assignment.top_up": True})
    for seed in range(5):
        frame = topped.draw(np.random.default_rng(seed))
        taken = int(((frame["z"] == 1) & (frame["complier"] == 1)).sum())
        assert taken == 40, seed
        assert int(frame["z"].sum()) > 40  # decliners stay in the trial as assigned
        assert (frame["received"] == frame["z"] * frame["complier"]).all()
        plain = base.draw(np.random.default_rng(seed))
        assert int(plain["z"].sum()) == 40 and int(plain["received"].sum()) < 40
    assert Design.from_toml(topped.to_toml()) == topped
    one = topped.draw(np.random.default_rng(1))
    pd.testing.assert_frame_equal(one, topped.draw(np.random.default_rng(1)))
    with pytest.raises(DesignError, match="compliance < 1"):
        batch_trial().replace(**{"assignment.top_up": True})
    with pytest.raises(DesignError, match="assignment.capacity"):
        Assign(kind="batch", top_up=True)
