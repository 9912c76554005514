import json

import torch

from personsearch.config import load_config, section
from personsearch.data.world_cache import WORLD_MARKER
from personsearch.data.synth.world import GENERATOR_VERSION, SynthWorld
from personsearch.demo import run_demo
from personsearch.models.search_model import build_search_model
from personsearch.text.train import resolve_model_kwargs
from personsearch.text.training_model import build_text_training_model

TINY_MODEL = dict(name="seqnet", backbone="shufflenet_v2_x1_0", backbone_weights="none", freeze_bn=False,
                  num_pids=8, queue_size=16, embedding_dim=32, min_size=128, max_size=192,
                  rpn_post_nms_top_n_test=20, box_batch_size_per_image=8, roi_output_size=7,
                  box_score_thresh=0.0)


def test_demo_runs_end_to_end_and_reuses_its_world(tmp_path):
    torch.manual_seed(0)
    model = build_search_model(**TINY_MODEL)
    checkpoint = tmp_path / "model.pth"
    torch.save({"model_kwargs": TINY_MODEL, "model": model.state_dict()}, checkpoint)

    outcome = run_demo(workdir=tmp_path / "demo", checkpoint=checkpoint, size="tiny", seed=3, workers=1, top_k=3)

    world = tmp_path / "demo" / "prw-tiny-seed3"
    marker = json.loads((world / WORLD_MARKER).read_text())
    assert {key: marker[key] for key in ("format", "size", "seed", "generator")} == {
        "format": "prw", "size": "tiny", "seed": 3, "generator": GENERATOR_VERSION}
    for key in ("mAP", "top1", "top5", "top10", "num_queries"):
        assert key in outcome.metrics
    assert outcome.metrics["num_queries"] > 0
    report = (tmp_path / "demo" / "search_report" / "report.html").read_text()
    assert "<img" in report
    assert (tmp_path / "demo" / "search_report" / "contact_sheet.png").stat().st_size > 0
    results = json.loads((tmp_path / "demo" / "search_report" / "results.json").read_text())
    assert len(results["hits"]) <= 3 and all("correct" in h for h in results["hits"])

    assert outcome.text_query is None

    # again, with a text model: the world is reused, and the query person is also searched by description
    text_kwargs = resolve_model_kwargs(section(load_config("preset:ctlg_tiny"), "model"), 4)
    text_checkpoint = tmp_path / "text.pth"
    torch.save({"model_kwargs": text_kwargs,
                "model": build_text_training_model(**text_kwargs, pretrained=False).state_dict()}, text_checkpoint)
    stamp = (world / "frame_test.mat").stat().st_mtime_ns
    outcome = run_demo(workdir=tmp_path / "demo", checkpoint=checkpoint, size="tiny", seed=3, workers=1, top_k=3,
                       text_checkpoint=text_checkpoint)
    assert (world / "frame_test.mat").stat().st_mtime_ns == stamp  # reused, not rewritten
    text = outcome.text_query
    assert text["pid"] == outcome.image_query["pid"] and len(text["correct"]) <= 3
    attributes = SynthWorld(size="tiny", seed=3).identity_attributes(text["pid"] - 1)
    assert attributes["upper_color"] in text["description"]  # the world's own description of that person
    assert (tmp_path / "demo" / "text_search_report" / "report.html").is_file()

