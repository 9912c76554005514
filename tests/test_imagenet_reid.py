"""ImageNet MobileNetV2 pooled features as a re-ID embedder, and `search --reid imagenet`."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from personsearch import cli
from personsearch.baselines.imagenet import ImageNetCropEmbedder
from personsearch.data.scene_dataset import image_to_tensor

VTEST = Path(__file__).resolve().parents[1] / "data" / "real" / "vtest.avi"


def _textured_person(seed: int) -> np.ndarray:
    """A 96x40 'person': a random blocky texture, distinct per seed."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(12, 5, 3), dtype=np.uint8)
    return np.kron(blocks, np.ones((8, 8, 1), dtype=np.uint8))


def _scene(people: list[tuple[int, int, int]], size=(200, 160), background=90) -> tuple[Image.Image, np.ndarray]:
    pixels = np.full((size[1], size[0], 3), background, np.uint8)
    boxes = []
    for seed, x, y in people:
        pixels[y : y + 96, x : x + 40] = _textured_person(seed)
        boxes.append([x, y, x + 40, y + 96])
    return Image.fromarray(pixels), np.asarray(boxes, np.float32)


@pytest.fixture(scope="module")
def embedder():
    torch.manual_seed(0)
    return ImageNetCropEmbedder()


def test_same_person_elsewhere_is_closer_than_another_person(embedder):
    first, first_boxes = _scene([(1, 10, 20), (2, 120, 40)])
    second, second_boxes = _scene([(2, 20, 50), (1, 150, 10)], background=140)
    a = embedder.extract_query_features([image_to_tensor(first)], [torch.as_tensor(first_boxes)])
    b = embedder.extract_query_features([image_to_tensor(second)], [torch.as_tensor(second_boxes)])
    assert a.shape == (2, 1280) and torch.allclose(a.norm(dim=1), torch.ones(2), atol=1e-5)
    similarity = a @ b.T  # rows: person 1, 2 of the first scene; columns: person 2, 1 of the second
    # generic features see two textured blocks as alike; the same texture elsewhere is still closer
    assert similarity[0, 1] > similarity[0, 0] + 0.01 and similarity[1, 0] > similarity[1, 1] + 0.01


def test_no_boxes_gives_no_features(embedder):
    image, _ = _scene([])
    out = embedder.extract_query_features([image_to_tensor(image)], [torch.zeros((0, 4))])
    assert out.shape == (0, 1280)


def test_random_weights_differ_from_the_offline_ones():
    torch.manual_seed(0)
    offline, random = ImageNetCropEmbedder(), ImageNetCropEmbedder(weights="none")
    assert not torch.equal(offline.features[0][0].weight, random.features[0][0].weight)
    with pytest.raises(ValueError, match="offline"):
        ImageNetCropEmbedder(weights="imagenet")


class _BoxesDetector(torch.nn.Module):
    """Stands in for SSDLite on painted scenes: the painted people's boxes, as a detector returns them."""

    def __init__(self, boxes_by_width: dict[int, np.ndarray]) -> None:
        super().__init__()
        self.boxes_by_width = boxes_by_width

    def forward(self, images):
        out = []
        for image in images:
            boxes = torch.as_tensor(self.boxes_by_width[int(image.shape[-1])])
            out.append({"boxes": boxes, "scores": torch.full((len(boxes),), 0.9)})
        return out


def test_cli_search_with_imagenet_features(tmp_path, monkeypatch, capsys):
    gallery = tmp_path / "photos"
    gallery.mkdir()
    scenes = {200: [(2, 20, 30), (1, 140, 40)], 210: [(3, 30, 20), (4, 120, 50)]}
    boxes = {}
    for width, people in scenes.items():
        image, boxes[width] = _scene(people, size=(width, 160))
        image.save(gallery / f"w{width}.png")
    query, query_boxes = _scene([(1, 60, 30)], size=(180, 160), background=170)
    query.save(tmp_path / "query.png")
    boxes[180] = query_boxes
    import personsearch.models.ssdlite_person as ssdlite

    monkeypatch.setattr(ssdlite, "load_ssdlite_person_detector", lambda **_: _BoxesDetector(boxes))
    out = tmp_path / "out"
    box = ",".join(str(int(v)) for v in query_boxes[0])
    argv = ["search", "--gallery", str(gallery), "--query", str(tmp_path / "query.png"), "--box", box,
            "--reid", "imagenet", "--top-k", "4", "--out", str(out)]
    assert cli.main(argv) == 0
    hits = json.loads((out / "results.json").read_text())["hits"]
    assert len(hits) == 4
    assert hits[0]["image"].endswith("w200.png") and hits[0]["box"] == [140.0, 40.0, 180.0, 136.0]
    assert json.loads((out / "results.json").read_text())["model_id"].startswith("imagenet-mobilenet_v2-")
    capsys.readouterr()
    with pytest.raises(SystemExit, match="ssdlite detector"):
        cli.main([*argv, "--detector", "model"])

    # both a person search checkpoint and the ImageNet features (a tiny untrained SeqNet here)
    from personsearch.models.search_model import build_search_model
    from test_demo import TINY_MODEL

    checkpoint = tmp_path / "seqnet.pth"
    torch.save({"model_kwargs": TINY_MODEL, "model": build_search_model(**TINY_MODEL).state_dict()}, checkpoint)
    fused = [*argv[:-6], "--top-k", "4", "--reid", "model+imagenet", "--checkpoint", str(checkpoint),
             "--out", str(tmp_path / "fused")]
    assert cli.main(fused) == 0
    results = json.loads((tmp_path / "fused" / "results.json").read_text())
    assert len(results["hits"]) == 4 and "+imagenet-mobilenet_v2-" in results["model_id"]

    # no checkpoint, no --reid: the pipeline shipped for real pictures (SSDLite + shipped model + ImageNet)
    shipped = [*argv[:-6], "--top-k", "4", "--out", str(tmp_path / "shipped")]
    assert cli.main(shipped) == 0
    model_id = json.loads((tmp_path / "shipped" / "results.json").read_text())["model_id"]
    assert model_id.startswith("sha256:") and "+imagenet-mobilenet_v2-" in model_id and model_id.endswith("+ssdlite")


def test_default_pipeline_depends_on_whose_model_it_is():
    from personsearch.detectors import FUSED_REID, OWN_DETECTOR, OWN_REID, SSDLITE, resolve_pipeline

    assert resolve_pipeline(shipped=True, detector=None, reid=None, pytorch=True) == (SSDLITE, FUSED_REID)
    assert resolve_pipeline(shipped=True, detector=None, reid=None, pytorch=False) == (SSDLITE, OWN_REID)
    assert resolve_pipeline(shipped=False, detector=None, reid=None, pytorch=True) == (OWN_DETECTOR, OWN_REID)
    assert resolve_pipeline(shipped=False, detector=None, reid=FUSED_REID, pytorch=True) == (SSDLITE, FUSED_REID)
    assert resolve_pipeline(shipped=True, detector=OWN_DETECTOR, reid=OWN_REID, pytorch=True) == (OWN_DETECTOR,
                                                                                                   OWN_REID)


@pytest.mark.skipif(not VTEST.is_file(), reason="data/real/vtest.avi is absent (scripts/fetch_vtest.sh)")
def test_real_frames_same_person_after_leaving_and_coming_back(tmp_path):
    """Real frames: the man in the red and navy jacket (pid 1) at frame 60, then after he left the
    scene and came back (frame 600): found among the people annotated there."""
    from personsearch.data.real.vtest import load_annotation, video_frames

    annotation = load_annotation()
    frames = dict(video_frames(VTEST, {60, 600}))
    embedder = ImageNetCropEmbedder()
    features = []
    for frame in (60, 600):
        rows = annotation.frames[frame]
        xyxy = np.concatenate([rows[:, 1:3], rows[:, 1:3] + rows[:, 3:5]], axis=1).astype(np.float32)
        features.append(embedder.extract_query_features([image_to_tensor(frames[frame])], [torch.as_tensor(xyxy)]).numpy())
    query = features[0][list(annotation.frames[60][:, 0]).index(1)]
    assert annotation.frames[600][int(np.argmax(features[1] @ query)), 0] == 1


def test_fused_embedding_averages_the_two_similarities(embedder):
    from personsearch.models.fused_embedding import FusedEmbedding
    from test_index_fake_model import FakeSearchModel

    fake = FakeSearchModel()
    fake.embedding_dim = 3
    fused = FusedEmbedding(first=fake, second=embedder)
    first, first_boxes = _scene([(1, 10, 20), (2, 120, 40)])
    second, second_boxes = _scene([(2, 20, 50)], background=140)
    args = [([image_to_tensor(first)], [torch.as_tensor(first_boxes)]),
            ([image_to_tensor(second)], [torch.as_tensor(second_boxes)])]
    a, b = (fused.extract_query_features(*x) for x in args)
    assert fused.embedding_dim == 1283 and a.shape == (2, 1283)
    assert torch.allclose(a.norm(dim=1), torch.ones(2), atol=1e-5)
    expected = 0.5 * (fake.extract_query_features(*args[0]) @ fake.extract_query_features(*args[1]).T
                      + embedder.extract_query_features(*args[0]) @ embedder.extract_query_features(*args[1]).T)
    assert torch.allclose(a @ b.T, expected, atol=1e-5)
