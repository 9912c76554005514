"""text_encoder.trainable_layers: MiniLM's embeddings and first layers stay at their offline
weights through training, so the shipped text model need not store them."""

import pytest
import torch

from personsearch.config import load_config
from personsearch.text.optim import build_optimizer
from personsearch.text.text_encoders import BertTextEncoder
from personsearch.text.tokenizer import offline_model_folder
from personsearch.text.training_model import build_text_training_model
from personsearch.text.weights import read_state_dict


def _batch(n, size=(64, 32), length=16):
    gen = torch.Generator().manual_seed(0)
    images = [torch.randn(3, *size, generator=gen) for _ in range(n)]
    targets = [{"token_ids": torch.randint(1000, 2000, (length,), generator=gen),
                "attention_mask": torch.ones(length, dtype=torch.long),
                "pids": torch.tensor([i, i]), "pid_weights": torch.tensor([1.0, 0.0])} for i in range(n)]
    return images, targets


def test_frozen_embeddings_and_layers_get_no_gradient_and_keep_their_base_weights():
    full = load_config("preset:ctlg_synth_shipped", ["model.encoder.text_encoder.trainable_layers=2",
                                                       "model.encoder.image_size=[64, 32]"])
    cfg = full["model"]
    assert cfg["encoder"]["text_encoder"]["name"] == "minilm-l6"
    cfg["encoder"]["image_encoder"] = {"name": "mobilenet-v2", "weights": None}
    model = build_text_training_model(**cfg).train()
    base = {f"encoder.text_encoder.{k.removeprefix('bert.')}": v
            for k, v in read_state_dict(offline_model_folder() / "model.safetensors").items()}
    optimizer = build_optimizer(model, full["solver"], lr=1e-3, weight_decay=1e-4)
    losses = model(*_batch(4))
    sum(losses.values()).backward()
    optimizer.step()

    params = dict(model.named_parameters())
    frozen = [n for n in params if n.startswith(("encoder.text_encoder.embeddings.",
                                                 *(f"encoder.text_encoder.encoder.layer.{i}." for i in range(4))))]
    trained = [n for n in params if n.startswith(("encoder.text_encoder.encoder.layer.4.",
                                                  "encoder.text_encoder.encoder.layer.5."))]
    assert len(frozen) == 5 + 4 * 16 and len(trained) == 2 * 16
    for name in frozen:
        assert not params[name].requires_grad and params[name].grad is None, name
        assert torch.equal(params[name].detach(), base[name]), name
    for name in trained:
        assert params[name].grad is not None and not torch.equal(params[name].detach(), base[name]), name
    frozen_ids = {id(params[n]) for n in frozen}
    assert not any(id(p) in frozen_ids for group in optimizer.param_groups for p in group["params"])


def _small(trainable_layers):
    return BertTextEncoder(hidden=16, layers=3, heads=2, inner=32, vocab_size=50, max_positions=8,
                           trainable_layers=trainable_layers)


def test_trainable_layers_counts_from_the_top_and_is_checked():
    enc = _small(0)
    assert not any(p.requires_grad for n, p in enc.named_parameters() if not n.startswith("pooler."))
    enc = _small(3)
    assert not any(p.requires_grad for p in enc.embeddings.parameters())
    assert all(p.requires_grad for p in enc.encoder.parameters())
    enc = _small(1)
    assert [all(p.requires_grad for p in layer.parameters()) for layer in enc.encoder.layer] == [False, False, True]
    assert all(p.requires_grad for p in _small(None).parameters())
    with pytest.raises(ValueError, match="between 0 and 3"):
        _small(4)
