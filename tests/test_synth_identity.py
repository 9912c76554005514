import numpy as np

from personsearch.data.synth.identity import (
    ATTRIBUTE_NAMES,
    build_identities,
    differing_attributes,
)
from personsearch.data.synth.palette import COLOURS, shade
from personsearch.data.synth.world import SynthWorld

CTLG_COLOURS = {"red", "yellow", "green", "purple", "white", "brown", "blue", "orange", "pink", "grey"}


def test_attribute_dimensions_and_palette():
    world = SynthWorld(size="tiny", seed=0)
    attrs = world.identity_attributes(0)
    assert set(attrs) == set(ATTRIBUTE_NAMES) and len(attrs) >= 10
    assert len(COLOURS) >= 12 and CTLG_COLOURS | {"black", "navy", "beige"} <= set(COLOURS)
    for pid in range(world.num_identities):
        a = world.identity_attributes(pid)
        assert a["upper_color"] in COLOURS and a["lower_color"] in COLOURS
        assert (a["bag"] == "none") == (a["bag_color"] == "none")


def test_shade_jitter_keeps_names_inexact():
    identities = build_identities(300, 0.0, np.random.default_rng(0))
    blacks = {i.rgb("upper_color") for i in identities if i.attributes["upper_color"] == "black"}
    assert len(blacks) > 10 and shade(COLOURS["black"], (0, 0, 0, 0)) == COLOURS["black"]


def test_palette_is_skewed_to_neutrals():
    identities = build_identities(1000, 0.0, np.random.default_rng(1))
    uppers = [i.attributes["upper_color"] for i in identities]
    neutral = sum(c in ("black", "grey", "white", "navy") for c in uppers) / len(uppers)
    assert 0.4 < neutral < 0.7


def test_near_twin_share():
    identities = build_identities(400, 0.35, np.random.default_rng(2))
    twin = np.zeros(len(identities), dtype=bool)
    for i, a in enumerate(identities):
        for j in range(i):
            if 1 <= len(differing_attributes(a, identities[j])) <= 2:
                twin[i] = twin[j] = True
    assert 0.3 <= twin.mean() <= 0.75
    none = build_identities(200, 0.0, np.random.default_rng(2))
    assert not any(len(differing_attributes(a, b)) <= 2 for k, a in enumerate(none) for b in none[:k])
