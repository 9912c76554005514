import numpy as np
import pytest
from PIL import Image, ImageDraw

from personsearch.baselines.handcrafted import colour_histogram_features, colour_hog_features, hog_features


def _person_image(shirt, trousers):
    image = Image.new("RGB", (120, 160), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 20, 80, 80), fill=shirt)
    draw.rectangle((40, 80, 80, 150), fill=trousers)
    return image


BOX = np.array([[30, 10, 90, 155]], dtype=np.float32)


def test_colour_histogram_separates_garment_layout():
    red_blue = colour_histogram_features(_person_image((200, 0, 0), (0, 0, 200)), BOX)
    red_blue_again = colour_histogram_features(_person_image((200, 0, 0), (0, 0, 200)), BOX)
    blue_red = colour_histogram_features(_person_image((0, 0, 200), (200, 0, 0)), BOX)
    assert red_blue.shape == (1, 6 * 8 * 4 * 4)
    assert np.allclose(np.linalg.norm(red_blue, axis=1), 1.0, atol=1e-6)
    assert float((red_blue @ red_blue_again.T)[0, 0]) == pytest.approx(1.0, abs=1e-6)
    # Same colours, swapped between torso and legs: the striped histogram must tell them apart.
    assert float((red_blue @ blue_red.T)[0, 0]) < 0.8


def test_hog_and_combined_features_are_unit_vectors():
    image = _person_image((200, 0, 0), (0, 0, 200))
    assert hog_features(image, BOX).shape == (1, 3780)
    combined = colour_hog_features(image, np.concatenate([BOX, BOX + 5]))
    assert combined.shape == (2, 768 + 3780)
    assert np.allclose(np.linalg.norm(combined, axis=1), 1.0, atol=1e-5)


def test_empty_box_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        colour_histogram_features(_person_image((0, 0, 0), (0, 0, 0)), np.array([[200, 10, 250, 50]]))
