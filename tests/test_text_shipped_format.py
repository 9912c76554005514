"""The shipped text-model format: only the tensors that differ from the base weights, large ones
in float16, overlaid on the rebuilt encoders with checked names, shapes and base checksum."""

import pytest
import torch

from personsearch.config import load_config
from personsearch.text.evaluate import load_text_model
from personsearch.text.shipped import base_digest, difference_from_base, unstored_base_keys
from personsearch.text.training_model import build_text_training_model

# tiny model without weight files: its "base weights" are the random start of seed 0
KWARGS = load_config("preset:ctlg_tiny")["model"]
CHANGED = ("encoder.text_encoder.encoder.layer.1.output.dense.weight", "encoder.image_encoder.norm.bias")


def _base_model(seed=0):
    torch.manual_seed(seed)
    return build_text_training_model(**KWARGS)


def _trained():
    base = _base_model().state_dict()
    trained = {k: v.clone() for k, v in base.items()}
    for key in CHANGED:
        trained[key] += 0.5
    trained["encoder.text_proj.weight"] += 0.5
    return base, trained


def _write(path, stored, base):
    torch.save({"model_kwargs": KWARGS, "model": stored, "base_weights": "offline",
                "base_sha256": base_digest(base, unstored_base_keys(base, stored))}, path)


def test_only_changed_encoder_tensors_and_own_modules_are_kept_large_ones_in_half():
    base, trained = _trained()
    stored = difference_from_base(trained, base, half_above=1000)
    own = {k for k in base if not k.startswith(("encoder.image_encoder.", "encoder.text_encoder."))}
    assert set(stored) == set(CHANGED) | own
    assert stored["encoder.text_encoder.encoder.layer.1.output.dense.weight"].dtype == torch.float16  # 32 x 128
    assert stored["encoder.image_encoder.norm.bias"].dtype == torch.float32
    with pytest.raises(ValueError, match="different tensors"):
        difference_from_base({**trained, "extra": torch.zeros(1)}, base)


def test_loader_rebuilds_the_base_and_overlays_the_stored_tensors(tmp_path):
    base, trained = _trained()
    path = tmp_path / "text.pth"
    _write(path, difference_from_base(trained, base, half_above=1000), base)
    torch.manual_seed(0)
    model, _ = load_text_model(path)
    loaded = {f"encoder.{k}": v for k, v in model.state_dict().items()}
    for key, value in loaded.items():
        assert torch.allclose(value, trained[key], atol=1e-3), key  # float16 rounding only
    assert torch.equal(loaded["encoder.image_encoder.norm.bias"], trained["encoder.image_encoder.norm.bias"])
    torch.manual_seed(1)  # other "offline weights" than the file was made against
    with pytest.raises(ValueError, match="text.pth.*checksum"):
        load_text_model(path)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update({"encoder.text_proj.extra": torch.zeros(2)}), "'encoder.text_proj.extra' is not part"),
    (lambda s: s.update({"encoder.image_encoder.norm.bias": torch.zeros(3)}), "'encoder.image_encoder.norm.bias' has shape"),
    (lambda s: s.pop("encoder.text_proj.bias"), "'encoder.text_proj.bias' is missing"),
])
def test_loader_names_the_file_and_the_tensor_that_does_not_fit(tmp_path, change, message):
    base, trained = _trained()
    stored = difference_from_base(trained, base)
    change(stored)
    path = tmp_path / "bad.pth"
    _write(path, stored, base)
    torch.manual_seed(0)
    with pytest.raises(ValueError, match=f"bad.pth.*{message}"):
        load_text_model(path)
