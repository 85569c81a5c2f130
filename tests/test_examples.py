"""The bundled synthetic trial."""

import pandas as pd
from pandas.testing import assert_frame_equal

from effekt.examples import BATCHES, load_trial, make_trial


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
