"""SeqNet's and NAE's RoI heads against outputs saved from an earlier version of their code.

Two pairs of models run on fixed images: tiny ones with seeded random weights, and the shipped
demo checkpoint's weights (SeqNet on MobileNetV2; NAE takes them without its stage-2-only
parts). Detections with both score sources, query embeddings, training losses and the features
handed to training wrappers must equal the values in tests/fixtures/roi_heads_reference.pt, and
the state_dict keys must be the same in the same order (the order optimizer states follow), so
existing checkpoints keep loading, resuming and giving the same outputs.
The reference was written by the code from before the two heads shared their code (commit
f310207): `python tests/test_model_heads_parity.py` rewrites it, which only makes sense after a
deliberate change of the models' numerics. The demo part is skipped once the shipped checkpoint
is another one than the reference was written with.
"""

import hashlib
from importlib import resources
from pathlib import Path

import pytest
import torch

from personsearch.models.search_model import build_search_model

REFERENCE = Path(__file__).parent / "fixtures" / "roi_heads_reference.pt"
INFERENCE = dict(box_score_thresh=0.05, box_detections_per_img=12, rpn_post_nms_top_n_test=60)
STAGE_TWO_ONLY = ("roi_heads.box_predictor.", "roi_heads.reid_head.")
SEEDED = dict(num_pids=20, queue_size=8, backbone="shufflenet_v2_x1_0", backbone_weights="none", freeze_bn=False,
              freeze_stem=False, min_size=128, max_size=192, embedding_dim=32, rpn_pre_nms_top_n_train=200,
              rpn_post_nms_top_n_train=50, rpn_pre_nms_top_n_test=100, rpn_batch_size_per_image=64,
              box_batch_size_per_image=16, roi_output_size=7, bn_neck=True, **INFERENCE)


def _demo_path() -> Path:
    return Path(str(resources.files("personsearch") / "assets" / "demo_seqnet.pth"))


def _demo_sha256() -> str:
    """Of the weights (names and values), not the file: other records in the file may change."""
    digest = hashlib.sha256()
    for name, value in sorted(torch.load(_demo_path(), map_location="cpu", weights_only=True)["model"].items()):
        digest.update(name.encode())
        digest.update(value.cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _models(case: str) -> dict[str, torch.nn.Module]:
    """case "seeded": tiny models with seeded random weights; "demo": the demo checkpoint's weights."""
    models = {}
    for seed, name in enumerate(("seqnet", "nae")):
        torch.manual_seed(seed)
        if case == "seeded":
            models[name] = build_search_model(**dict(SEEDED, name=name))
            continue
        checkpoint = torch.load(_demo_path(), map_location="cpu", weights_only=True)
        kwargs = {**checkpoint["model_kwargs"], **INFERENCE, "backbone_weights": "none"}
        model = build_search_model(**dict(kwargs, name=name, bn_neck=True))  # NAE's default is False
        weights = {k: v for k, v in checkpoint["model"].items() if name == "seqnet" or not k.startswith(STAGE_TWO_ONLY)}
        model.load_state_dict(weights, strict=True)
        models[name] = model
    return models


def _inputs():
    generator = torch.Generator().manual_seed(7)
    images = [torch.rand(3, 180, 320, generator=generator), torch.rand(3, 200, 150, generator=generator)]
    for image in images:  # two bright person-shaped blocks so the detector has something to find
        image[:, 40:150, 30:70] = torch.tensor([0.8, 0.2, 0.2])[:, None, None]
    targets = [{"boxes": torch.tensor([[30.0, 40.0, 70.0, 150.0], [100.0, 20.0, 140.0, 120.0]]),
                "pids": torch.tensor([3, -1])},
               {"boxes": torch.tensor([[30.0, 40.0, 70.0, 150.0]]), "pids": torch.tensor([17])}]
    return images, targets


def _outputs(case: str) -> dict[str, dict[str, torch.Tensor]]:
    images, targets = _inputs()
    outputs = {}
    for name, model in _models(case).items():
        out: dict[str, torch.Tensor] = {}
        model.eval()
        with torch.no_grad():
            for source in ("nae", "fcs"):
                model.roi_heads.score_source = source  # read by SeqNet's heads only
                for index, detections in enumerate(model(images)):
                    for key, value in detections.items():
                        out[f"eval_{source}_{index}_{key}"] = value
            out["query"] = model.extract_query_features(images, [t["boxes"] for t in targets])
        model.train()
        torch.manual_seed(1)
        losses, captured = model.forward_with_features(images, targets)
        out.update({f"train_{key}": value.detach() for key, value in losses.items()})
        for key in ("box_features", "reid_maps"):  # per-row sums keep the fixture small
            out[f"captured_{key}"] = captured[key].detach().flatten(1).sum(dim=1)
        for key in ("reid_embeddings", "reid_image_index"):
            out[f"captured_{key}"] = captured[key].detach()
        out["captured_box_counts"] = torch.tensor(captured["box_counts"])
        outputs[name] = out
    return outputs


def _state_keys(case: str) -> dict[str, list[str]]:
    return {name: list(model.state_dict()) for name, model in _models(case).items()}


def _check(case: str) -> None:
    reference = torch.load(REFERENCE, weights_only=True)[case]
    assert _state_keys(case) == reference["state_keys"]
    outputs = _outputs(case)
    for name, expected in reference["outputs"].items():
        got = outputs[name]
        assert set(got) == set(expected), name
        for key, value in expected.items():
            assert got[key].shape == value.shape, (name, key)
            assert torch.allclose(got[key].float(), value.float(), rtol=1e-4, atol=1e-5), (name, key)
    # the reference is not trivial: both models detect something and their heads differ
    assert reference["outputs"]["seqnet"]["eval_nae_0_boxes"].shape[0] > 0
    assert reference["outputs"]["nae"]["eval_nae_0_boxes"].shape[0] > 0
    assert not torch.allclose(reference["outputs"]["seqnet"]["query"], reference["outputs"]["nae"]["query"])


def test_seeded_models_match_the_saved_reference():
    _check("seeded")


def test_demo_weights_match_the_saved_reference():
    if torch.load(REFERENCE, weights_only=True)["demo"]["sha256"] != _demo_sha256():
        pytest.skip("the shipped demo checkpoint is not the one the reference was written with")
    _check("demo")


if __name__ == "__main__":
    torch.set_num_threads(1)
    reference = {case: {"state_keys": _state_keys(case), "outputs": _outputs(case)} for case in ("seeded", "demo")}
    reference["demo"]["sha256"] = _demo_sha256()
    torch.save(reference, REFERENCE)
    print(f"wrote {REFERENCE}")
