import re

import numpy as np
import pytest

from personsearch.data.synth.captions import describe
from personsearch.data.synth.identity import build_identities
from personsearch.data.synth.visibility import visible_attributes
from personsearch.data.synth.world import SynthWorld


def _words(text):
    return re.findall(r"[a-z][a-z'-]*", text.lower())


@pytest.fixture(scope="module")
def crops():
    world = SynthWorld(size="tiny", seed=0)
    return [world.crop(i) for i in range(world.num_crops)]


def test_two_different_captions_of_bounded_length(crops):
    for crop in crops:
        a, b = crop.captions
        assert a != b
        for caption in crop.captions:
            assert 15 <= len(caption.split()) <= 60


def test_vocabulary_size(crops):
    vocab = {w for crop in crops for caption in crop.captions for w in _words(caption)}
    assert len(vocab) >= 300


def test_captions_follow_viewpoint():
    identity = next(i for i in build_identities(200, 0.0, np.random.default_rng(0))
                    if i.attributes["bag"] == "backpack" and i.attributes["glasses"] == "sunglasses")
    attrs = identity.attributes
    rng = np.random.default_rng(0)
    front = " ".join(describe(visible_attributes(attrs, "front"), "front", "street", rng))
    back = " ".join(describe(visible_attributes(attrs, "back"), "back", "street", rng))
    assert "backpack" not in front and "rucksack" not in front and "strap" in front
    assert ("backpack" in back or "rucksack" in back) and attrs["bag_color"] in _words(back)
    assert not {"sunglasses", "shades"} & set(_words(back))
    assert {"sunglasses", "shades"} & set(_words(front))


def test_print_only_from_front():
    identity = next(i for i in build_identities(300, 0.0, np.random.default_rng(3)) if i.attributes["upper_pattern"] == "print")
    assert "pattern_color" in visible_attributes(identity.attributes, "front")
    for view in ("back", "left", "right"):
        assert "upper_pattern" not in visible_attributes(identity.attributes, view)
