"""The search CLI on a real (randomly initialised, tiny) SeqNet checkpoint."""

import json

import pytest
import torch

from personsearch import cli
from personsearch.index import GalleryIndex
from test_index_fake_model import paint_scene

MODEL_KWARGS = dict(name="seqnet", backbone="resnet18", num_pids=4, queue_size=8, min_size=96, max_size=160)


@pytest.mark.slow
def test_cli_search_with_a_real_checkpoint(tmp_path, capsys):
    from personsearch.models.search_model import build_search_model

    torch.manual_seed(0)
    model = build_search_model(**MODEL_KWARGS)
    checkpoint = tmp_path / "seqnet.pth"
    torch.save({"model_kwargs": MODEL_KWARGS, "model": model.state_dict()}, checkpoint)
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    paint_scene(gallery / "a.png", [(200, 30, 30), (30, 200, 30)], size=(80, 60))
    paint_scene(gallery / "b.png", [(30, 30, 200), (200, 200, 30)], size=(80, 60))
    out = tmp_path / "out"
    argv = [
        "search", "--gallery", str(gallery), "--query", str(gallery / "a.png"), "--box", "5,5,35,55",
        "--checkpoint", str(checkpoint), "--out", str(out), "--score-threshold", "0", "--top-k", "5",
    ]
    assert cli.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert len(results["hits"]) == 5
    assert all(-1.0 - 1e-3 <= hit["score"] <= 1.0 + 1e-3 for hit in results["hits"])
    index = GalleryIndex.load(gallery / ".personsearch_index.npz", model_id=results["model_id"])
    assert index.num_detections > 0 and index.feature_dim > 0
    assert cli.main(argv) == 0
    assert "0 processed, 2 reused" in capsys.readouterr().out
