"""NAE: SeqNet without its second stage, selected by model name; its training forward hands
intermediate features to training wrappers."""

import pytest
import torch

from personsearch.models.nae import NAE
from personsearch.models.search_model import build_search_model

KWARGS = dict(num_pids=4, queue_size=6, backbone="shufflenet_v2_x1_0", backbone_weights="none", freeze_bn=False,
              min_size=96, max_size=128, embedding_dim=16, rpn_pre_nms_top_n_train=100, rpn_post_nms_top_n_train=30,
              rpn_pre_nms_top_n_test=50, rpn_post_nms_top_n_test=20, box_batch_size_per_image=16,
              box_score_thresh=0.0, roi_output_size=7)


def _batch():
    images = [torch.rand(3, 100, 120), torch.rand(3, 90, 110)]
    targets = [{"boxes": torch.tensor([[10.0, 10, 50, 90], [60, 20, 100, 85]]), "pids": torch.tensor([0, -1])},
               {"boxes": torch.zeros(0, 4), "pids": torch.zeros(0, dtype=torch.long)}]
    return images, targets


def test_nae_trains_and_detects():
    torch.manual_seed(0)
    model = build_search_model(name="nae", **KWARGS)
    assert isinstance(model, NAE) and not hasattr(model.roi_heads, "reid_head")
    images, targets = _batch()
    losses, captured = model.forward_with_features(images, targets)
    assert set(losses) == {"loss_objectness", "loss_rpn_box_reg", "loss_box_cls", "loss_box_reg", "loss_oim"}
    sum(losses.values()).backward()
    assert model.roi_heads.embedding_head.projectors["feat_res5"][0].weight.grad is not None
    foreground = captured["reid_embeddings"].shape[0]
    assert captured["reid_maps"].shape[0] == foreground == captured["reid_image_index"].shape[0] > 0
    assert captured["box_features"].shape[0] == sum(captured["box_counts"])
    model.eval()
    with torch.no_grad():
        detections = model(images)
        query = model.extract_query_features(images[:1], [targets[0]["boxes"]])
    assert len(detections) == 2 and detections[0]["embeddings"].shape[1] == 16
    assert torch.allclose(query.norm(dim=1), torch.ones(2), atol=1e-5)


def test_nae_refuses_stage_two_loss_weights():
    with pytest.raises(ValueError, match="unknown loss weights"):
        build_search_model(name="nae", loss_weights={"loss_box_reg_s2": 1.0}, **KWARGS)
