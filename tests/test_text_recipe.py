"""The CTLG training recipe: parameter groups, float32 loss under autocast, frozen BatchNorm,
activation checkpointing, CTLG's preset and its weight loading (no downloads)."""

import numpy as np
import pytest
import torch
from PIL import Image

from personsearch.config import load_config
from personsearch.text.data import load_image
from personsearch.text.image_encoders import build_image_encoder
from personsearch.text.losses import CTLGLoss
from personsearch.text.optim import build_optimizer, parameter_groups
from personsearch.text.text_encoders import build_text_encoder, load_bert_weights
from personsearch.text.training_model import build_text_training_model
from personsearch.text.weights import unwrap_state_dict

TINY = load_config("preset:ctlg_tiny")["model"]


def _tiny_model(**changes):
    kwargs = {**TINY, **changes}
    return build_text_training_model(**kwargs)


def test_parameter_groups_split_encoders_from_new_modules_and_exempt_biases_and_norms():
    model = _tiny_model()
    groups = {g["name"]: g for g in parameter_groups(model, lr=1e-4, weight_decay=0.01, new_module_lr_factor=5.0)}
    assert sorted(groups) == ["encoders/decay", "encoders/no_decay", "new/decay", "new/no_decay"]
    assert groups["encoders/decay"]["lr"] == 1e-4 and groups["new/decay"]["lr"] == pytest.approx(5e-4)
    assert groups["encoders/no_decay"]["weight_decay"] == 0.0 and groups["new/no_decay"]["weight_decay"] == 0.0
    assert groups["encoders/decay"]["weight_decay"] == 0.01
    names = {id(p): n for n, p in model.named_parameters()}
    members = {g: {names[id(p)] for p in groups[g]["params"]} for g in groups}
    assert "encoder.image_proj.weight" in members["new/decay"] and "encoder.text_proj.bias" in members["new/no_decay"]
    assert "encoder.image_encoder.pos_embed" in members["encoders/no_decay"]
    assert "encoder.image_encoder.blocks.0.norm1.weight" in members["encoders/no_decay"]
    assert "encoder.text_encoder.encoder.layer.0.attention.self.query.weight" in members["encoders/decay"]
    assert sum(len(m) for m in members.values()) == len(names)  # every parameter exactly once


def test_optimizer_steps_each_group_at_its_rate():
    model = _tiny_model()
    optimizer = build_optimizer(model, {"name": "adam", "new_module_lr_factor": 10.0}, lr=1e-3, weight_decay=0.0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for _, p in model.named_parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    # Adam's first step moves every weight by about its LR
    enc = (model.encoder.image_encoder.blocks[0].mlp.fc1.weight - before["encoder.image_encoder.blocks.0.mlp.fc1.weight"])
    new = model.encoder.image_proj.weight - before["encoder.image_proj.weight"]
    assert torch.allclose(enc.abs(), torch.full_like(enc, 1e-3), rtol=1e-3)
    assert torch.allclose(new.abs(), torch.full_like(new, 1e-2), rtol=1e-3)
    with pytest.raises(Exception, match="unknown solver setting"):
        build_optimizer(model, {"lr_factor": 2}, lr=1e-3, weight_decay=0.0)


def test_similarities_and_loss_stay_float32_under_autocast():
    gen = torch.Generator().manual_seed(0)
    img, txt = torch.randn(16, 32, generator=gen), torch.randn(16, 32, generator=gen)
    loss = CTLGLoss(tau=0.005)
    labels = torch.eye(16)
    want = loss(img, txt, instance_labels=labels, identity_labels=labels)["contrastive"]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = loss(img, txt, instance_labels=labels, identity_labels=labels)["contrastive"]
        # what a half-precision similarity would give: visibly different at tau 0.005
        half = torch.nn.functional.normalize(img, dim=1) @ torch.nn.functional.normalize(txt, dim=1).t()
    assert half.dtype == torch.bfloat16 and got.dtype == torch.float32
    assert got.item() == pytest.approx(want.item(), rel=1e-6)


def test_batchnorm_stays_in_eval_mode_when_training_a_cnn_encoder():
    enc = build_image_encoder("mobilenet-v2", weights=None)
    enc.train()
    bns = [m for m in enc.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns) and enc.training
    stats = bns[0].running_mean.clone()
    enc(torch.randn(2, 3, 64, 32)).sum().backward()
    assert torch.equal(bns[0].running_mean, stats)
    assert bns[0].weight.grad is not None  # affine parameters still train
    free = build_image_encoder("mobilenet-v2", weights=None, bn_eval=False).train()
    assert all(m.training for m in free.modules() if isinstance(m, torch.nn.BatchNorm2d))


def _batch(n, seed=0, size=(64, 32), length=24):
    gen = torch.Generator().manual_seed(seed)
    images = [torch.randn(3, *size, generator=gen) for _ in range(n)]
    targets = [{"token_ids": torch.randint(1000, 2000, (length,), generator=gen),
                "attention_mask": torch.ones(length, dtype=torch.long),
                "pids": torch.tensor([i % 3, i % 3]), "pid_weights": torch.tensor([1.0, 0.0])} for i in range(n)]
    return images, targets


def _grads(model, images, targets):
    model.zero_grad()
    losses = model(images, targets)
    sum(losses.values()).backward()
    return losses, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("image_encoder", [None, {"name": "mobilenet-v2", "weights": None}])
def test_activation_checkpointing_gives_the_same_loss_and_gradients(image_encoder):
    encoder = {**TINY["encoder"], "text_encoder": {**TINY["encoder"]["text_encoder"], "dropout": 0.0}}
    if image_encoder is not None:
        encoder["image_encoder"] = image_encoder
    torch.manual_seed(0)
    plain = _tiny_model(encoder=encoder, feature_mixup_p=0.0).train()
    torch.manual_seed(0)
    recomputed = _tiny_model(encoder=encoder, feature_mixup_p=0.0, activation_checkpointing=True).train()
    images, targets = _batch(6)
    loss_a, grads_a = _grads(plain, images, targets)
    loss_b, grads_b = _grads(recomputed, images, targets)
    assert recomputed.encoder.image_encoder.checkpointing and recomputed.encoder.text_encoder.checkpointing
    assert loss_a["contrastive"].item() == pytest.approx(loss_b["contrastive"].item(), rel=1e-6)
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        assert torch.allclose(grads_a[name], grads_b[name], atol=1e-6, rtol=1e-4), name


def test_ctlg_preset_names_the_weights_ctlg_used_and_its_step_schedule():
    timm = pytest.importorskip("timm")
    cfg = load_config("preset:ctlg_cuhk_pedes")
    enc = cfg["model"]["encoder"]
    assert enc["image_encoder"] == {"name": "vit-b16-overlap", "weights": "timm:vit_base_patch16_384.orig_in21k_ft_in1k"}
    assert enc["text_encoder"]["name"] == "bert-base" and enc["text_encoder"]["weights"] == "hf:bert-base-uncased"
    assert "vit_base_patch16_384.orig_in21k_ft_in1k" in timm.list_pretrained("vit_base_patch16_384*")  # no download
    assert cfg["train"]["milestones"] == [20, 40, 60] and cfg["train"]["gamma"] == 0.1
    assert cfg["train"]["warmup_epochs"] == 10 and cfg["train"]["epochs"] == 70 and cfg["train"]["batch_size"] == 256
    assert cfg["model"]["loss"]["tau"] == 0.005
    assert cfg["train"]["scale_lr_with_world_size"] is False  # 4 x 64 under torchrun is CTLG's 256 at lr 1e-4


def _tiny_timm_vit(img_size=(64, 32)):
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    return VisionTransformer(img_size=img_size, patch_size=16, embed_dim=32, depth=2, num_heads=2,
                             num_classes=0).eval()


@pytest.mark.parametrize("wrap", ["bare", "model", "state_dict", "module"])
def test_timm_vit_weights_load_from_a_file_in_any_wrapping(tmp_path, wrap):
    pytest.importorskip("timm")
    ref = _tiny_timm_vit()
    state = ref.state_dict()
    stored = {"bare": state, "model": {"model": state, "epoch": 3},
              "state_dict": {"state_dict": state, "optimizer": {"lr": 0.1}},
              "module": {"state_dict": {f"module.{k}": v for k, v in state.items()}}}[wrap]
    torch.save(stored, tmp_path / "vit.pth")
    # stride 16 and the training image size: the same computation as timm's model
    ours = build_image_encoder("vit-small-overlap", image_size=(64, 32), stride=16, dim=32, depth=2, heads=2,
                               weights=str(tmp_path / "vit.pth")).eval()
    x = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        assert torch.allclose(ours(x), ref.forward_features(x)[:, 0], atol=1e-5)


def test_timm_name_is_fetched_through_timm_with_pretrained_weights(monkeypatch):
    timm = pytest.importorskip("timm")
    calls = []

    def fake_create_model(name, **kwargs):
        calls.append((name, kwargs))
        return _tiny_timm_vit(img_size=(64, 64))

    monkeypatch.setattr(timm, "create_model", fake_create_model)
    vit = build_image_encoder("vit-small-overlap", image_size=(64, 32), stride=12, dim=32, depth=2, heads=2,
                              weights="timm:vit_base_patch16_384.orig_in21k_ft_in1k")
    assert calls == [("vit_base_patch16_384.orig_in21k_ft_in1k", {"pretrained": True, "num_classes": 0})]
    assert vit.pos_embed.shape == (1, 1 + 5 * 2, 32)  # resized from timm's 4x4 grid to the overlapping 5x2


def test_bert_weights_unwrap_a_training_checkpoint(tmp_path):
    source = build_text_encoder("small-transformer", hidden=16, layers=1, heads=2)
    torch.save({"model": {f"bert.{k}": v for k, v in source.state_dict().items()}, "epoch": 1}, tmp_path / "t.pth")
    loaded = build_text_encoder("small-transformer", hidden=16, layers=1, heads=2, weights=str(tmp_path / "t.pth"))
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    with pytest.raises(ValueError, match="no model / state_dict entry"):
        unwrap_state_dict({"epoch": 3, "optimizer": {"lr": 1}}, source="x.pth")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_bert_weights(loaded, str(tmp_path / "missing.pth"))


def test_images_are_resized_bicubically(tmp_path):
    gen = torch.Generator().manual_seed(0)
    pixels = (torch.rand(40, 30, 3, generator=gen) * 255).to(torch.uint8).numpy()
    Image.fromarray(pixels).save(tmp_path / "p.png")
    got = load_image(str(tmp_path / "p.png"), (64, 32))
    want = Image.fromarray(pixels).resize((32, 64), Image.BICUBIC)
    bilinear = Image.fromarray(pixels).resize((32, 64), Image.BILINEAR)
    assert got.size == (32, 64) and np.array_equal(np.asarray(got), np.asarray(want))
    assert not np.array_equal(np.asarray(got), np.asarray(bilinear))
