import math

import pytest
import torch

from personsearch.models import build_search_model
from personsearch.models.heads import NormAwareEmbedding

LOSS_KEYS = {
    "loss_objectness", "loss_rpn_box_reg", "loss_box_cls", "loss_box_reg",
    "loss_box_cls_s2", "loss_box_reg_s2", "loss_oim",
}
TINY = dict(
    backbone="resnet18", num_pids=4, queue_size=10, min_size=96, max_size=128,
    rpn_pre_nms_top_n_train=300, rpn_post_nms_top_n_train=60, rpn_pre_nms_top_n_test=300,
    rpn_post_nms_top_n_test=40, box_batch_size_per_image=8, roi_output_size=8,
)


def _model(**overrides):
    torch.manual_seed(0)
    return build_search_model("seqnet", **{**TINY, **overrides})


def _images(n=2, seed=0, size=(96, 128)):
    generator = torch.Generator().manual_seed(seed)
    return [torch.rand(3, *size, generator=generator) for _ in range(n)]


def _targets():
    return [
        {"boxes": torch.tensor([[10.0, 8.0, 40.0, 80.0], [70.0, 20.0, 100.0, 90.0]]), "pids": torch.tensor([1, -1])},
        {"boxes": torch.tensor([[30.0, 10.0, 60.0, 85.0]]), "pids": torch.tensor([3])},
    ]


def _empty_target():
    return {"boxes": torch.zeros(0, 4), "pids": torch.zeros(0, dtype=torch.int64)}


@pytest.fixture(scope="module")
def model():
    return _model()


def test_training_returns_finite_losses_with_the_seqnet_keys_and_gradients(model):
    model.train()
    losses = model(_images(), _targets())
    assert set(losses) == LOSS_KEYS
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    assert losses["loss_oim"] > 0 and losses["loss_box_cls_s2"] > 0
    model.zero_grad()
    sum(losses.values()).backward()
    heads = model.roi_heads
    for module in (model.rpn, heads.box_head, heads.box_predictor, heads.reid_head,
                   heads.reid_box_regressor, heads.embedding_head, model.backbone.layer3):
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads), type(module).__name__
    assert any(g.abs().sum() > 0 for g in (p.grad for p in heads.embedding_head.parameters()))


def test_training_updates_the_oim_tables_with_labelled_and_unlabelled_people(model):
    model.train()
    oim = model.roi_heads.reid_loss
    oim.lut.zero_()
    oim.queue.zero_()
    oim.queue_ptr.zero_()
    model(_images(), _targets())
    touched = oim.lut.norm(dim=1) > 0
    assert touched[1] and touched[3] and not touched[0] and not touched[2]
    assert int(oim.queue_ptr) >= 1  # the unlabelled person, via its gt box at least
    assert torch.allclose(oim.queue[: int(oim.queue_ptr)].norm(dim=1), torch.ones(int(oim.queue_ptr)))


def test_training_with_images_without_people(model):
    model.train()
    losses = model(_images(), [_empty_target(), _empty_target()])
    assert set(losses) == LOSS_KEYS and all(torch.isfinite(v) for v in losses.values())
    assert losses["loss_oim"] == 0 and losses["loss_box_reg"] == 0 and losses["loss_rpn_box_reg"] == 0
    sum(losses.values()).backward()
    mixed = model(_images(), [_targets()[0], _empty_target()])
    assert all(torch.isfinite(v) for v in mixed.values())


def test_eval_returns_boxes_in_input_pixels_scores_and_unit_embeddings():
    model = _model(box_score_thresh=0.0, min_size=192, max_size=256).eval()
    images = _images(2, size=(96, 128)) + _images(1, seed=3, size=(80, 60))
    with torch.no_grad():
        detections = model(images)
    assert len(detections) == 3
    for image, det in zip(images, detections):
        k = det["boxes"].shape[0]
        assert k > 0
        assert det["scores"].shape == (k,) and det["embeddings"].shape == (k, 256)
        assert torch.allclose(det["embeddings"].norm(dim=1), torch.ones(k), atol=1e-5)
        assert ((det["scores"] >= 0) & (det["scores"] <= 1)).all()
        height, width = image.shape[-2:]
        boxes = det["boxes"]
        # the model ran at twice the input size; boxes come back in the caller's pixels
        assert boxes[:, 0].min() >= 0 and boxes[:, 2].max() <= width + 1e-3
        assert boxes[:, 1].min() >= 0 and boxes[:, 3].max() <= height + 1e-3
        assert torch.all(det["scores"][:-1] >= det["scores"][1:])  # sorted by NMS


def test_eval_with_nothing_detected_gives_empty_outputs():
    model = _model(box_score_thresh=1.0).eval()
    with torch.no_grad():
        detections = model(_images())
    for det in detections:
        assert det["boxes"].shape == (0, 4) and det["scores"].shape == (0,) and det["embeddings"].shape == (0, 256)


def test_nae_score_is_a_monotonic_function_of_the_embedding_norm():
    torch.manual_seed(0)
    head = NormAwareEmbedding(featmap_names=("feat_res4", "feat_res5"), in_channels=(16, 32), dim=10)
    head.train()
    for _ in range(3):  # give the BatchNorm layers non-trivial running statistics
        head({"feat_res4": torch.randn(20, 16, 1, 1) * 3, "feat_res5": torch.randn(20, 32, 1, 1)})
    head.eval()
    featmaps = {"feat_res4": torch.randn(50, 16, 1, 1) * 2, "feat_res5": torch.randn(50, 32, 1, 1)}
    with torch.no_grad():
        embeddings, logits = head(featmaps)
        norms = head.project(featmaps).norm(dim=1)
    assert torch.allclose(embeddings.norm(dim=1), torch.ones(50), atol=1e-6)
    order = torch.argsort(norms)
    assert torch.all(torch.diff(logits[order]) > 0)
    bn = head.rescaler
    expected = (norms - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
    assert torch.allclose(logits, expected, atol=1e-5)


@pytest.mark.parametrize("score_source", ["nae", "fcs"])
def test_detection_scores_come_from_the_chosen_source(score_source):
    model = _model(box_score_thresh=0.0, score_source=score_source).eval()
    captured = {}
    model.roi_heads.embedding_head.register_forward_hook(lambda m, i, out: captured.update(out=out))
    with torch.no_grad():
        det = model(_images(1))[0]
    embeddings, logits = captured["out"]
    # each kept detection is one of the stage-2 rows: find it by its (unit) embedding
    rows = (det["embeddings"] @ embeddings.t()).argmax(dim=1)
    nae_scores = torch.sigmoid(logits[rows])
    if score_source == "nae":
        assert torch.allclose(det["scores"], nae_scores, atol=1e-6)
    else:
        assert not torch.allclose(det["scores"], nae_scores, atol=1e-3)


def test_query_features_are_unit_norm_ordered_and_independent_of_the_batch(model):
    model.eval()
    images = _images(2)
    boxes_a = torch.tensor([[10.0, 8.0, 40.0, 80.0], [70.0, 20.0, 100.0, 90.0]])
    boxes_b = torch.tensor([[30.0, 10.0, 60.0, 85.0]])
    with torch.no_grad():
        together = model.extract_query_features(images, [boxes_a, boxes_b])
        alone = model.extract_query_features(images[1:], [boxes_b])
        swapped = model.extract_query_features(images[:1], [boxes_a.flip(0)])
    assert together.shape == (3, 256)
    assert torch.allclose(together.norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.allclose(together[2], alone[0], atol=1e-5)
    assert torch.allclose(together[:2], swapped.flip(0), atol=1e-5)
    assert not torch.allclose(together[0], together[1], atol=1e-3)


def test_loss_weights_scale_their_losses():
    plain = _model(loss_weights={"loss_box_reg": 1.0, "loss_oim": 2.0}).train()
    default = _model().train()
    torch.manual_seed(5)
    a = plain(_images(), _targets())
    torch.manual_seed(5)
    b = default(_images(), _targets())
    assert math.isclose(b["loss_box_reg"].item(), 10 * a["loss_box_reg"].item(), rel_tol=1e-4)
    assert math.isclose(a["loss_oim"].item(), 2 * b["loss_oim"].item(), rel_tol=1e-4)
    assert math.isclose(a["loss_box_cls"].item(), b["loss_box_cls"].item(), rel_tol=1e-5)
    with pytest.raises(ValueError, match="loss_oim"):
        _model(loss_weights={"loss_reid": 1.0})


def test_stage1_box_deltas_start_near_zero_so_first_boxes_are_the_proposals():
    # with nn.Linear's default init the deltas were O(1): a 10x-weighted regression loss of several
    # units whose gradient swamped the clipping norm in the first iterations
    model = _model().eval()
    heads = model.roi_heads
    features = torch.rand(64, heads.box_predictor.bbox_pred.in_features) * 6.0  # ReLU6-range pooled features
    with torch.no_grad():
        class_logits, deltas = heads.box_predictor(features)
    assert deltas.abs().max() < 0.3 and class_logits.abs().max() < 2.0
    proposals = [torch.tensor([[10.0, 10.0, 40.0, 90.0]]).repeat(64, 1)]
    boxes = heads.regressed_boxes(deltas, proposals, [(96, 128)])[0]
    assert torch.allclose(boxes, proposals[0], atol=4.0)  # within a few pixels of an 80-pixel box


def test_bad_targets_are_rejected_with_clear_errors(model):
    model.train()
    with pytest.raises(ValueError, match="0..3"):
        model(_images(1), [{"boxes": torch.tensor([[1.0, 1.0, 20.0, 30.0]]), "pids": torch.tensor([4])}])
    with pytest.raises(ValueError, match="boxes"):
        model(_images(1), [{"boxes": torch.tensor([1.0, 1.0, 20.0, 30.0]), "pids": torch.tensor([0])}])
    with pytest.raises(ValueError, match="targets"):
        model(_images(1))
    with pytest.raises(ValueError, match="score_source"):
        _model(score_source="max")
