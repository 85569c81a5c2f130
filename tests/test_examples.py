"""The bundled synthetic trial."""

from importlib import resources

import pandas as pd
from pandas.testing import assert_frame_equal

from effekt.design.log import head_pin
from effekt.examples import BATCHES, EXITS, draw_lottery, load_trial, make_trial


def test_bundled_file_is_what_make_trial_draws():
    # the CSV in the package is regenerated from the seed: the stream must not change
    assert_frame_equal(load_trial(), make_trial(2017), check_dtype=False)


def test_batches_follow_the_seed_004_appendix_table():
    # seed 004 notes, section 4.2 (Bilag-table 1.1): per-batch I/C counts, 109/109 in all
    df = load_trial()
    counts = df.groupby("batch")["z"].agg(["sum", "size"])
    assert [(int(s), int(n - s)) for s, n in counts.to_numpy()] == [(t, c) for _, t, c in BATCHES]
    assert int(df.z.sum()) == 109 and len(df) == 218
    # the three swapped batches (13-2, 27-2, 13-3) hold 72 people, drawn arm inverted
    swapped = df[df.z != df.z_drawn]
    assert len(swapped) == 72 and sorted(swapped.batch.unique()) == [3, 4, 5]
    assert isinstance(df, pd.DataFrame)


def test_bundled_log_is_the_lottery_the_data_were_drawn_by():
    # the log in the package verifies, records the drawn arms of the data, and its head is the study file's pin
    folder = resources.files("effekt.examples")
    log = folder.joinpath("allocation.jsonl")
    pin = head_pin(str(log))
    assert f'pin = "{pin}"' in folder.joinpath("study.toml").read_text(encoding="utf-8")
    alloc = draw_lottery().allocations()
    df = load_trial()
    assert list(alloc["id"]) == list(df["id"])
    assert ((alloc["arm"] == "treatment").astype(int).to_numpy() == df["z_drawn"].to_numpy()).all()


def test_capacity_top_up_and_competing_exits():
    lot = draw_lottery()
    table = lot.allocation_table(total=False)
    assert table["top_up"].tolist() == [False] * 12 + [True]
    alloc = lot.allocations()
    active = alloc[~alloc["withdrawn"]]
    # capacity 100 in the programme arm: 111 drawn, 11 moved away and freed their places
    assert int((active["arm"] == "treatment").sum()) == 100 and int(alloc["withdrawn"].sum()) == 11
    df = load_trial()
    assert set(df["exit"].unique()) == {0, *EXITS}
    assert df.groupby("z")["complaint"].sum().to_dict() == {0: 14, 1: 3}
