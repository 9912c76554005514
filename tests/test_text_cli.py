"""Tiny end-to-end runs through the CLI: train, resume, eval, eval-results, proximity, search."""

import json
import shutil

import numpy as np
import pytest
import torch

from personsearch.cli import main
from personsearch.commands.search import default_checkpoint
from personsearch.data.catalog import load_dataset, write_dataset
from personsearch.data.synth.world import SynthWorld


@pytest.fixture(scope="module")
def world_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("text") / "cuhk"
    write_dataset("cuhk-pedes", SynthWorld(size="tiny", seed=0), root, workers=1, show_progress=False)
    return root


def _json(capsys):
    """The JSON object a command prints last (training also prints one line per epoch)."""
    out = capsys.readouterr().out
    return json.loads(out if out.startswith("{") else out[out.index("\n{") + 1:])


def test_train_eval_search_end_to_end(world_root, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["text", "train", "--config", "preset:ctlg_tiny", f"data.root={world_root}", f"output_dir={run}",
            "train.epochs=2", "model.feature_mixup_p=0.5", "data.pixel_mixup_p=0.3"]
    assert main(args) == 0
    out = _json(capsys)
    assert out["epochs"] == 2 and np.isfinite(out["last"]["loss"])
    for name in ("last.pth", "epoch_2.pth", "metrics.csv", "curves.png", "config.yaml"):
        assert (run / name).is_file(), name
    ckpt = torch.load(run / "last.pth", map_location="cpu", weights_only=True)
    assert {"model", "model_kwargs", "config"} <= set(ckpt)

    # Resume from epoch 1 to 2 reproduces the uninterrupted run's weights exactly.
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copy(run / "epoch_1.pth", resumed / "last.pth")
    assert main(args[:-3] + [f"output_dir={resumed}", "train.epochs=2", "model.feature_mixup_p=0.5",
                             "data.pixel_mixup_p=0.3", "--resume"]) == 0
    capsys.readouterr()
    again = torch.load(resumed / "last.pth", map_location="cpu", weights_only=True)
    assert again["epoch"] == 2
    for key, value in ckpt["model"].items():
        assert torch.allclose(value.float(), again["model"][key].float(), atol=1e-6), key

    results = tmp_path / "res.npz"
    assert main(["text", "eval", "--config", str(run / "config.yaml"), "--checkpoint", str(run / "last.pth"),
                 "--save-results", str(results)]) == 0
    metrics = _json(capsys)
    data = load_dataset("cuhk-pedes", world_root)
    assert metrics["num_queries"] == sum(len(r.captions) for r in data.test)
    for key in ("R1", "R5", "R10", "mAP", "mINP"):
        assert 0.0 <= metrics[key] <= 100.0
    with np.load(results) as z:
        assert z["sim"].shape == (metrics["num_queries"], len({r.image_path for r in data.test}))
    assert main(["text", "eval-results", str(results)]) == 0
    assert _json(capsys)["mAP"] == pytest.approx(metrics["mAP"])

    gallery = tmp_path / "gallery"
    gallery.mkdir()
    for record in data.test[:6]:
        shutil.copy(record.image_path, gallery)
    report = tmp_path / "report"
    search = ["text", "search", "a person in a blue top", "--gallery", str(gallery), "--top-k", "4",
              "--checkpoint", str(run / "last.pth"), "--device", "cpu"]
    assert main(search + ["--out", str(report)]) == 0
    found = _json(capsys)
    assert found["num_crops"] == 6 and found["embedded_now"] == 6
    scores = [h["score"] for h in found["hits"]]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True)
    page = (report / "report.html").read_text()
    assert "a person in a blue top" in page and page.count("<figure>") == 4
    assert (report / "ranked.png").is_file()
    assert main(search) == 0  # unchanged gallery: the saved index is reused
    assert _json(capsys)["embedded_now"] == 0


def test_proximity_command_writes_a_loadable_dataset(world_root, tmp_path, capsys):
    out = tmp_path / "prox"
    assert main(["text", "proximity", "--format", "cuhk-pedes", "--root", str(world_root), "--out", str(out),
                 "--editor", "synthetic", "--per-image", "1"]) == 0
    result = _json(capsys)
    source = load_dataset("cuhk-pedes", world_root)
    data = load_dataset("cuhk-pedes", out)
    assert result["num_generated"] == len(source.train) - result["num_skipped"] > 0
    assert len(data.train) == len(source.train) + result["num_generated"]
    assert len(data.test) == len(source.test)
    assert data.num_train_pids == source.num_train_pids + result["num_generated"]
    log = json.loads((out / "proximity_pairs.json").read_text())
    assert all(entry["old_value"] != entry["new_value"] for entry in log)


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_search_over_scene_images_detects_people_first(world_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["text", "train", "--config", "preset:ctlg_tiny", f"data.root={world_root}", f"output_dir={run}",
                 "train.epochs=1"]) == 0
    capsys.readouterr()
    gallery = tmp_path / "scenes"
    gallery.mkdir()
    world = SynthWorld(size="demo", seed=5)
    people, sizes = {}, {}
    for index in (3, 4):  # street scenes with several people near the camera
        scene = world.scene(index)
        name = f"scene{index}.jpg"
        scene.image.save(gallery / name, quality=95)
        people[name] = [box for person in scene.people for box in (person.box, person.visible_box)]
        sizes[name] = scene.image.size
    # the detector is the one-step model shipped for the demo
    assert main(["text", "search", "a man in a red jacket", "--gallery", str(gallery), "--top-k", "100",
                 "--checkpoint", str(run / "last.pth"), "--detector", str(default_checkpoint()),
                 "--device", "cpu", "--out", str(tmp_path / "report")]) == 0
    found = _json(capsys)
    hits = found["hits"]
    assert 0 < found["num_crops"] == len(hits) and found["embedded_now"] == 2  # pictures
    overlaps = []
    for hit in hits:
        name = hit["image"].rsplit("/", 1)[-1]
        width, height = sizes[name]
        x1, y1, x2, y2 = hit["box"]
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        overlaps.append(max(_iou(hit["box"], box) for box in people[name]))
    # crops are people found by the detector, not whole pictures
    assert np.mean(np.asarray(overlaps) >= 0.3) >= 0.5
    assert (tmp_path / "report" / "report.html").is_file()

    # or with the SSDLite person detector (trained on real photographs)
    assert main(["text", "search", "a man in a red jacket", "--gallery", str(gallery), "--top-k", "100",
                 "--checkpoint", str(run / "last.pth"), "--detector", "ssdlite", "--device", "cpu"]) == 0
    found = _json(capsys)
    assert found["embedded_now"] == 2  # a different detector: the saved index is not reused
    assert found["num_crops"] == len(found["hits"]) > 0
    assert all(max(_iou(h["box"], box) for box in people[h["image"].rsplit("/", 1)[-1]]) >= 0.3
               for h in found["hits"])


def test_input_errors_are_reported_plainly(tmp_path, capsys):
    assert main(["text", "eval-results", str(tmp_path / "missing.npz")]) == 1
    assert "not found" in capsys.readouterr().err
    assert main(["text", "search", "x", "--gallery", str(tmp_path), "--checkpoint", str(tmp_path / "no.pth")]) == 1
    assert "personsearch text train" in capsys.readouterr().err
