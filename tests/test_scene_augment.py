import pytest
import torch

from personsearch.config import ConfigError
from personsearch.data.scene_augment import SceneAugment, augment_scene, erase_in_boxes, jitter_colours


def _scene() -> tuple[torch.Tensor, torch.Tensor]:
    image = torch.full((3, 60, 80), 0.5)
    image[0, :, :40] = 0.9  # a red left half, so hue and saturation have something to change
    boxes = torch.tensor([[10.0, 10.0, 30.0, 50.0], [50.0, 5.0, 70.0, 45.0]])
    return image, boxes


def test_box_erasing_changes_pixels_only_inside_boxes():
    torch.manual_seed(0)
    image, boxes = _scene()
    out = erase_in_boxes(image.clone(), boxes, SceneAugment(box_erase_p=1.0))
    changed = (out != image).any(0)
    inside = torch.zeros_like(changed)
    for x1, y1, x2, y2 in boxes.long().tolist():
        inside[y1:y2, x1:x2] = True
    assert changed.any() and not (changed & ~inside).any()
    for x1, y1, x2, y2 in boxes.long().tolist():
        fraction = changed[y1:y2, x1:x2].float().mean().item()
        assert 0.02 < fraction <= 0.45  # erase_area (0.1, 0.4), rounded to whole pixels


def test_box_erasing_handles_boxes_partly_outside_and_slivers():
    torch.manual_seed(1)
    image, _ = _scene()
    boxes = torch.tensor([[-20.0, -10.0, 15.0, 30.0], [79.5, 0.0, 85.0, 60.0]])
    out = erase_in_boxes(image.clone(), boxes, SceneAugment(box_erase_p=1.0))
    changed = (out != image).any(0)
    assert changed[:30, :15].any() and not changed[30:, :].any() and not changed[:, 15:].any()


def test_colour_jitter_stays_in_range_and_is_reproducible_per_seed():
    image, boxes = _scene()
    settings = SceneAugment(jitter=0.4, hue=0.1)
    torch.manual_seed(3)
    first = jitter_colours(image.clone(), settings)
    torch.manual_seed(3)
    again = jitter_colours(image.clone(), settings)
    assert torch.equal(first, again)
    assert not torch.allclose(first, image) and first.min() >= 0.0 and first.max() <= 1.0


def test_inactive_settings_return_the_picture_unchanged():
    image, boxes = _scene()
    assert torch.equal(augment_scene(image.clone(), boxes, SceneAugment()), image)


def test_config_section_is_checked_by_key_and_range():
    assert SceneAugment.from_section({"box_erase_p": 0.5, "erase_area": [0.2, 0.3]}).erase_area == (0.2, 0.3)
    with pytest.raises(ConfigError, match="unknown keys"):
        SceneAugment.from_section({"erase_prob": 0.5})
    with pytest.raises(ConfigError, match="hue"):
        SceneAugment.from_section({"hue": 0.8})


def test_scene_dataset_applies_the_augmentation_to_training_items(tmp_path):
    import numpy as np
    from PIL import Image

    from personsearch.data.records import SceneRecord
    from personsearch.data.scene_dataset import SceneDataset

    Image.new("RGB", (80, 60), (128, 128, 128)).save(tmp_path / "s1.png")
    record = SceneRecord(name="s1.png", image_path=str(tmp_path / "s1.png"),
                         boxes=np.array([[10, 10, 30, 50]], np.float32), pids=np.array([3]))
    plain, _ = SceneDataset([record])[0]
    torch.manual_seed(0)
    erased, target = SceneDataset([record], augment=SceneAugment(box_erase_p=1.0))[0]
    changed = (erased != plain).any(0)
    assert changed[10:50, 10:30].any() and changed.sum() == changed[10:50, 10:30].sum()
    assert target["pids"].tolist() == [3]
