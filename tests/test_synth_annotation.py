"""The world annotates people at the image border as real datasets do."""

import pytest

from personsearch.data.synth.annotation import border_verdict, in_frame
from personsearch.data.synth.world import SynthWorld


@pytest.mark.parametrize(
    ("box", "verdict"),
    [
        ((100, 50, 140, 150), "labelled"),          # inside
        ((-15, 50, 25, 150), "labelled"),           # 25 of 40 px inside
        ((-30, 50, 10, 150), "unlabelled"),         # a quarter inside, 10 px wide
        ((-37, 50, 3, 150), "left out"),            # a 3-px sliver at the left border
        ((290, 50, 330, 150), "unlabelled"),        # a quarter inside at the right border
        ((100, 170, 140, 270), "unlabelled"),       # 30 of 100 px above the bottom border
        ((100, 185, 140, 285), "left out"),         # only the head above the bottom border
    ],
)
def test_border_verdict(box, verdict):
    assert border_verdict(box, 300, 200) == verdict


def test_in_frame():
    assert in_frame((-10, 0, 10, 10), 100, 100) == (0.5, 10.0)
    assert in_frame((0, 0, 0, 10), 100, 100) == (0.0, 0.0)


def test_world_labels_no_border_slivers():
    world = SynthWorld(size="tiny", seed=3)
    labelled = unlabelled = 0
    for scene in world.scenes(workers=1):
        width, height = scene.image.size
        for person in scene.people:
            fraction, inner_width = in_frame(person.box, width, height)
            assert inner_width >= 4 and fraction >= 0.25
            if person.labelled:
                labelled += 1
                assert inner_width >= 10 and fraction >= 0.5
            else:
                unlabelled += 1
    assert labelled > 20 and unlabelled > 0
