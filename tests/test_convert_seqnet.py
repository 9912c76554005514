"""`personsearch convert seqnet`: a state dict in SeqNet's layout (made from our model through the
reverse mapping, saved as SeqNet's train.py saves it) becomes a checkpoint whose model gives
the same outputs as the original."""

import json

import pytest
import torch

from personsearch.cli import main
from personsearch.models.search_model import build_search_model, load_search_model
from personsearch.models.seqnet_checkpoint import ours_to_seqnet, seqnet_to_ours

# SeqNet's names for the parts we name differently (models/seqnet.py and models/oim.py there)
SEQNET_KEYS = (
    "roi_heads.faster_rcnn_predictor.cls_score.weight",
    "roi_heads.faster_rcnn_predictor.bbox_pred.bias",
    "roi_heads.box_predictor.bbox_pred.0.weight",
    "roi_heads.box_predictor.bbox_pred.1.running_var",
    "roi_heads.box_head.layer4.2.conv3.weight",
    "roi_heads.reid_head.layer4.0.downsample.1.running_mean",
    "roi_heads.embedding_head.projectors.feat_res5.0.weight",
    "roi_heads.embedding_head.rescaler.weight",
    "roi_heads.reid_loss.lut",
    "roi_heads.reid_loss.cq",
    "backbone.layer3.5.bn3.weight",
    "rpn.head.cls_logits.weight",
)
SMALL_INPUT = {"min_size": 160, "max_size": 240, "box_score_thresh": 0.0}


@pytest.fixture(scope="module")
def original():
    """A ResNet-50 SeqNet as the PRW preset builds it, every weight and buffer randomised."""
    torch.manual_seed(0)
    model = build_search_model(name="seqnet", backbone="resnet50", freeze_bn=False, num_pids=7, queue_size=11,
                               score_source="fcs", **SMALL_INPUT)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and tensor.dim() == 1:  # norm layers: make each one distinct
                tensor.add_(0.1 * (torch.rand_like(tensor) if name.endswith("running_var") else torch.randn_like(tensor)))
        oim = model.roi_heads.reid_loss
        oim.lut.copy_(torch.nn.functional.normalize(torch.randn_like(oim.lut), dim=1))
        oim.queue.copy_(torch.nn.functional.normalize(torch.randn_like(oim.queue), dim=1))
        queue = model.roi_heads.reid_loss.queue
        queue[8:] = 0  # SeqNet's queue filled up to row 8
        model.roi_heads.reid_loss.queue_ptr.fill_(8)
    return model.eval()


def _seqnet_file(model, path):
    state = ours_to_seqnet(model.state_dict())
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.003, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[16], gamma=0.1)
    torch.save({"model": state, "optimizer": optimizer.state_dict(), "lr_scheduler": scheduler.state_dict(),
                "epoch": 17}, path)
    return state


def test_reverse_mapping_uses_seqnet_names(original):
    state = ours_to_seqnet(original.state_dict())
    assert set(SEQNET_KEYS) <= set(state)
    assert not any(k.startswith(("roi_heads.reid_box_regressor", "roi_heads.reid_loss.queue")) for k in state)
    assert not any(".layers.layer4." in k for k in state)
    back = seqnet_to_ours(state)
    assert set(back) == set(original.state_dict())
    assert int(back["roi_heads.reid_loss.queue_ptr"]) == 8  # the first empty queue row


def test_old_torchvision_rpn_names_and_foreign_keys():
    state = {"rpn.head.conv.weight": torch.zeros(1), "rpn.head.conv.bias": torch.zeros(1),
             "roi_heads.reid_loss.lut": torch.zeros(3, 4), "roi_heads.reid_loss.cq": torch.ones(5, 4)}
    out = seqnet_to_ours({f"module.{k}": v for k, v in state.items()})
    assert {"rpn.head.conv.0.0.weight", "rpn.head.conv.0.0.bias", "roi_heads.reid_loss.queue"} <= set(out)
    assert int(out["roi_heads.reid_loss.queue_ptr"]) == 0  # a full queue: the pointer was not saved
    with pytest.raises(ValueError, match="not SeqNet's.*classifier.weight"):
        seqnet_to_ours({**state, "classifier.weight": torch.zeros(1)})


def test_convert_command_round_trip(original, tmp_path, capsys):
    source, output = tmp_path / "epoch_17.pth", tmp_path / "ours.pth"
    _seqnet_file(original, source)
    assert main(["convert", "seqnet", str(source), str(output), "--dataset", "prw"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["num_pids"], summary["queue_size"], summary["epoch"]) == (7, 11, 18)

    ckpt = torch.load(output, map_location="cpu", weights_only=True)
    assert ckpt["config"]["data"]["name"] == "prw" and ckpt["config"]["eval"]["weight_by_score"] is True
    assert ckpt["model_kwargs"]["score_source"] == "fcs" and ckpt["model_kwargs"]["min_size"] == 900
    converted = load_search_model(ckpt, inference_overrides=SMALL_INPUT)
    for name, tensor in original.state_dict().items():
        assert torch.equal(converted.state_dict()[name], tensor), name

    torch.manual_seed(1)
    images = [torch.rand(3, 120, 90)]
    boxes = [torch.tensor([[10.0, 20.0, 60.0, 110.0]])]
    with torch.no_grad():
        ours, theirs = original(images)[0], converted(images)[0]
        assert len(ours["boxes"]) > 0
        for key in ("boxes", "scores", "embeddings"):
            torch.testing.assert_close(theirs[key], ours[key])
        torch.testing.assert_close(converted.extract_query_features(images, boxes),
                                   original.extract_query_features(images, boxes))


@pytest.mark.slow  # a ResNet-50 over a tiny world: ~40 CPU seconds
def test_converted_checkpoint_evaluates(original, tmp_path, capsys):
    from personsearch.data.catalog import write_dataset
    from personsearch.data.synth.world import SynthWorld

    root = tmp_path / "prw"
    write_dataset("prw", SynthWorld(size="tiny", seed=0), root, workers=1, show_progress=False)
    _seqnet_file(original, tmp_path / "seqnet.pth")
    assert main(["convert", "seqnet", str(tmp_path / "seqnet.pth"), str(tmp_path / "ours.pth"), "--dataset", "prw"]) == 0
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(tmp_path / "ours.pth"), f"data.root={root}", "train.device=cpu",
                 "eval.progress=false", "model.min_size=160", "model.max_size=240"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["dataset"] == "prw" and report["epoch"] == 18 and report["num_queries"] > 0
    assert report["model_overrides"] == {"min_size": 160, "max_size": 240}


def test_convert_command_errors(tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    torch.save({"model": {"classifier.weight": torch.zeros(2)}}, bad)
    assert main(["convert", "seqnet", str(bad), str(tmp_path / "out.pth"), "--dataset", "cuhk-sysu"]) == 1
    assert "bad.pth" in capsys.readouterr().err and not (tmp_path / "out.pth").exists()
