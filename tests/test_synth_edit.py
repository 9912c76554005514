import re

import numpy as np
import pytest

from personsearch.data.synth.palette import COLOURS
from personsearch.data.synth.world import SynthWorld


def _tokens(text):
    return re.findall(r"[A-Za-z'-]+", text)


@pytest.fixture(scope="module")
def world():
    return SynthWorld(size="tiny", seed=0)


@pytest.mark.parametrize("attribute", ["upper_color", "lower_color", "shoes_color"])
def test_edit_changes_one_colour_word_and_a_limited_region(world, attribute):
    index = 5
    crop = world.crop(index)
    editable = world.editable_attributes(index)
    old = editable[attribute]
    new = next(c for c in COLOURS if c != old and c not in ("black", "navy", "grey"))
    edit = world.proximity_edit(index, attribute, new)
    assert (edit.attribute, edit.old_value, edit.new_value) == (attribute, old, new)
    for before, after in zip(crop.captions, edit.captions):
        a, b = _tokens(before), _tokens(after)
        assert len(a) == len(b)
        diff = [(x, y) for x, y in zip(a, b) if x != y]
        assert diff == [(old, new)]
    before = np.asarray(crop.image, dtype=np.int16)
    after = np.asarray(edit.image, dtype=np.int16)
    changed = np.abs(before - after).max(axis=2) > 12
    assert changed.any()
    assert changed.mean() < 0.4
    # The rest of the world did not move: the unedited crop still renders the same.
    assert world.crop(index).image.tobytes() == crop.image.tobytes()


def test_editable_attributes_follow_visibility(world):
    for index in range(world.num_crops):
        editable = world.editable_attributes(index)
        crop = world.crop(index)
        assert {"upper_color", "lower_color", "shoes_color"} <= set(editable)
        if "bag_color" in editable:
            assert crop.attributes["bag"] in ("backpack", "handbag", "shoulder bag")
        assert all(crop.attributes[k] == v for k, v in editable.items())


def test_edit_rejects_bad_requests(world):
    with pytest.raises(ValueError):
        world.proximity_edit(0, "hair_style", "red")
    with pytest.raises(ValueError):
        world.proximity_edit(0, "upper_color", "turquoise")
    with pytest.raises(ValueError):
        world.proximity_edit(0, "upper_color", world.editable_attributes(0)["upper_color"])
