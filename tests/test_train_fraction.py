"""`data.train_fraction`: a seeded share of the training frames, nested across fractions, the
gallery and queries untouched, and a clear error for a fraction outside (0, 1]."""

import pytest

from personsearch.config import ConfigError
from personsearch.data.train_subset import train_fraction_subset
from personsearch.methods.supervised import load_scene_data
from tests.fixtures.real_formats import make_prw


def test_subsets_are_seeded_nested_and_keep_the_split_order():
    frames = [f"frame{i:02d}" for i in range(10)]
    fifth, two_fifths = (train_fraction_subset(frames, f, seed=3) for f in (0.2, 0.4))
    assert len(fifth) == 2 and len(two_fifths) == 4
    assert set(fifth) < set(two_fifths)
    assert two_fifths == sorted(two_fifths)
    assert train_fraction_subset(frames, 0.4, seed=3) == two_fifths
    assert any(train_fraction_subset(frames, 0.4, seed=s) != two_fifths for s in range(4, 10))
    assert train_fraction_subset(frames, 1.0) == frames
    assert train_fraction_subset(frames, 0.01) != []


def test_the_config_key_subsets_training_frames_only(tmp_path):
    make_prw(tmp_path)
    whole = load_scene_data({"name": "prw", "root": str(tmp_path)})
    half = load_scene_data({"name": "prw", "root": str(tmp_path), "train_fraction": 0.5, "train_fraction_seed": 1})
    assert len(whole.train) == 2 and len(half.train) == 1
    assert half.train[0].name in {record.name for record in whole.train}
    assert [r.name for r in half.gallery] == [r.name for r in whole.gallery]
    assert len(half.queries) == len(whole.queries) == 1


@pytest.mark.parametrize("fraction", [0, 1.5, -0.2, "most"])
def test_a_fraction_outside_the_unit_interval_is_refused(tmp_path, fraction):
    make_prw(tmp_path)
    with pytest.raises(ConfigError, match=r"data\.train_fraction"):
        load_scene_data({"name": "prw", "root": str(tmp_path), "train_fraction": fraction})
