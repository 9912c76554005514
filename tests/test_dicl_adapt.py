"""`personsearch adapt` end to end on a few frames (a folder and a video), tracklet must-links,
and must-link merging in the clustering."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from personsearch.cli import main
from personsearch.config import load_config
from personsearch.data.catalog import load_dataset, write_dataset
from personsearch.data.synth.world import SynthWorld
from personsearch.engine.checkpoint import load_checkpoint
from personsearch.methods.dicl.adapt import BOXES_FILE, FootageScene, footage_input_size, tracklet_groups
from personsearch.methods.dicl.clustering import apply_must_links
from personsearch.methods.dicl.recipe import search_model_kwargs
from personsearch.models.search_model import build_search_model, load_search_model


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A tiny search model that always detects something (score threshold 0), saved as a checkpoint."""
    folder = tmp_path_factory.mktemp("adapt")
    torch.manual_seed(0)
    kwargs = search_model_kwargs(load_config("preset:dicl_tiny")["model"])
    path = folder / "tiny.pth"
    torch.save({"model_kwargs": kwargs, "model": build_search_model(**kwargs).state_dict()}, path)
    root = folder / "prw"
    write_dataset("prw", SynthWorld(size="tiny", seed=1), root, workers=1, show_progress=False)
    frames = folder / "frames"
    frames.mkdir()
    for record in load_dataset("prw", root).train[:4]:
        Image.open(record.image_path).save(frames / record.name)
    return path, frames


def test_adapt_a_folder_end_to_end(tiny_checkpoint, tmp_path, capsys):
    checkpoint, frames = tiny_checkpoint
    out = tmp_path / "run"
    args = ["adapt", "--gallery", str(frames), "--detector", "model", "--checkpoint", str(checkpoint), "--out",
            str(out), "--epochs", "1", "--score-threshold", "0", "--min-box-height", "0", "--device", "cpu"]
    assert main(args) == 0
    assert "search_model.pth" in capsys.readouterr().out
    weak = json.loads((out / BOXES_FILE).read_text())
    assert len(weak["scenes"]) == 4 and all("pids" not in scene for scene in weak["scenes"])
    adapted = load_search_model(load_checkpoint(out / "search_model.pth"))
    before = load_checkpoint(checkpoint)["model"]
    after = adapted.state_dict()
    # the re-ID part moved, the detector did not
    assert not torch.equal(before["roi_heads.embedding_head.projectors.feat_res5.0.weight"],
                           after["roi_heads.embedding_head.projectors.feat_res5.0.weight"])
    assert torch.equal(before["rpn.head.conv.0.0.weight"], after["rpn.head.conv.0.0.weight"])
    assert torch.equal(before["roi_heads.box_predictor.cls_score.weight"], after["roi_heads.box_predictor.cls_score.weight"])
    assert load_checkpoint(out / "last.pth")["config"]["method"]["memory_singletons"] == "ignore"  # adapt's default


def test_footage_input_size_brings_the_median_person_to_the_trained_height(tmp_path):
    path = tmp_path / "frame.jpg"
    Image.new("RGB", (200, 100)).save(path)
    scenes = [FootageScene(name="a.jpg", image_path=str(path), boxes=np.array([[0, 0, 10, 40], [0, 0, 10, 60]], np.float32)),
              FootageScene(name="b.jpg", image_path=str(path), boxes=np.array([[0, 0, 10, 50]], np.float32))]
    assert footage_input_size(scenes, 100.0) == (200, 401)  # median height 50 -> twice the picture


def test_adapt_trains_and_exports_at_the_checkpoints_person_scale(tiny_checkpoint, tmp_path):
    checkpoint, frames = tiny_checkpoint
    scaled = tmp_path / "scaled.pth"
    torch.save({**torch.load(checkpoint, weights_only=True), "person_height": 30.0}, scaled)
    out = tmp_path / "run"
    assert main(["adapt", "--gallery", str(frames), "--detector", "model", "--checkpoint", str(scaled), "--out",
                 str(out), "--epochs", "1", "--score-threshold", "0", "--min-box-height", "0", "--device", "cpu"]) == 0
    scenes = [FootageScene(name=s["name"], image_path=s["image"], boxes=np.asarray(s["boxes"], np.float32).reshape(-1, 4))
              for s in json.loads((out / BOXES_FILE).read_text())["scenes"]]
    exported = load_checkpoint(out / "search_model.pth")
    assert exported["person_height"] == 30.0
    trained = (exported["model_kwargs"]["min_size"], exported["model_kwargs"]["max_size"])
    assert trained == footage_input_size(scenes, 30.0) != (128, 192)  # not the tiny preset's own input size
    assert load_checkpoint(out / "last.pth")["config"]["model"]["min_size"] == trained[0]


def test_adapt_a_video_with_tracklets_and_dicls_singletons(tiny_checkpoint, tmp_path):
    cv2 = pytest.importorskip("cv2")
    checkpoint, frames = tiny_checkpoint
    video = tmp_path / "clip.avi"
    first = np.asarray(Image.open(sorted(frames.iterdir())[0]).convert("RGB"))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (first.shape[1], first.shape[0]))
    for shift in range(4):  # the same scene drifting by a few pixels: consecutive boxes overlap
        writer.write(np.roll(first, 2 * shift, axis=1)[:, :, ::-1].copy())
    writer.release()
    out = tmp_path / "run"
    assert main(["adapt", "--gallery", str(video), "--detector", "model", "--checkpoint", str(checkpoint),
                 "--out", str(out), "--epochs", "1", "--frame-stride", "1", "--tracklets", "--score-threshold", "0",
                 "--min-box-height", "0", "--singletons", "train", "--device", "cpu"]) == 0
    assert len(list((out / "frames").glob("*.jpg"))) == 4
    assert (out / "search_model.pth").is_file()
    assert load_checkpoint(out / "last.pth")["config"]["method"]["memory_singletons"] == "train"


def test_tracklets_link_overlapping_boxes_of_consecutive_frames():
    box = np.array([[10, 10, 50, 90]], np.float32)
    scenes = [FootageScene("a", "a", box), FootageScene("b", "b", np.concatenate([box + 2, box + 200])),
              FootageScene("c", "c", np.zeros((0, 4), np.float32)), FootageScene("d", "d", box)]
    groups = tracklet_groups(scenes, iou=0.5)
    assert [g.tolist() for g in groups] == [[0, 1]]  # the empty frame breaks the track; the far box stays alone


def test_must_links_join_the_groups_main_cluster():
    labels = np.array([0, 0, 1, 2, 3])  # clusters {0, 1}, singletons 2, 3, 4
    joined = apply_must_links(labels, [np.array([1, 2]), np.array([3, 4])])
    assert joined[1] == joined[2] == joined[0]
    assert joined[3] == joined[4] and joined[3] != joined[0]
