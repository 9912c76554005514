"""Two Gloo ranks, each with half a batch: the gathered contrastive loss and the DDP-averaged
gradients equal those of one process holding the whole batch."""

from pathlib import Path

import pytest
import torch
from torch.nn.parallel import DistributedDataParallel

from gloo_ranks import run_in_gloo_ranks
from personsearch.config import load_config
from personsearch.text.gather import gather_rows
from personsearch.text.training_model import build_text_training_model

HALF = 3


def _model():
    cfg = load_config("preset:ctlg_tiny")["model"]
    cfg["encoder"]["text_encoder"]["dropout"] = 0.0
    cfg["feature_mixup_p"] = 0.0
    cfg["loss"] = {"tau": 0.05, "identity_aware": True}
    torch.manual_seed(0)
    return build_text_training_model(**cfg).train()


def _batch(n=2 * HALF):
    gen = torch.Generator().manual_seed(5)
    images = [torch.randn(3, 64, 32, generator=gen) for _ in range(n)]
    # identities 0 and 1 appear on both ranks: identity-aware targets must link rows across processes
    targets = [{"token_ids": torch.randint(1000, 2000, (24,), generator=gen),
                "attention_mask": (torch.arange(24) < 10 + i).long(),
                "pids": torch.tensor([i % 2 + (i == 2) * 5] * 2), "pid_weights": torch.tensor([1.0, 0.0])}
               for i in range(n)]
    return images, targets


def _worker(rank, out_dir):
    x = torch.arange(4.0).view(2, 2) + 10 * rank
    x.requires_grad_(True)
    gathered = gather_rows(x, with_grad=True)
    (gathered * torch.arange(8.0).view(4, 2)).sum().backward()
    model = _model()
    ddp = DistributedDataParallel(model, find_unused_parameters=True)
    images, targets = _batch()
    part = slice(rank * HALF, (rank + 1) * HALF)
    losses = ddp(images[part], targets[part])
    sum(losses.values()).backward()
    torch.save({"gathered": gathered.detach(), "x_grad": x.grad, "loss": losses["contrastive"].detach(),
                "grads": {n: p.grad for n, p in model.named_parameters() if p.grad is not None}},
               Path(out_dir) / f"rank{rank}.pt")


def test_gathered_loss_and_gradients_equal_the_single_process_big_batch(tmp_path):
    run_in_gloo_ranks(_worker, str(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    # rows in rank order; the local rows' gradient is scaled by the world size (DDP then averages)
    want = torch.cat([torch.arange(4.0).view(2, 2), torch.arange(4.0).view(2, 2) + 10])
    for r in range(2):
        assert torch.equal(ranks[r]["gathered"], want)
        assert torch.equal(ranks[r]["x_grad"], 2 * torch.arange(8.0).view(4, 2)[2 * r:2 * r + 2])

    model = _model()
    images, targets = _batch()
    loss = model(images, targets)["contrastive"]
    loss.backward()
    for r in range(2):
        assert ranks[r]["loss"].item() == pytest.approx(loss.item(), rel=1e-5)
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert grads.keys() == ranks[0]["grads"].keys()
    for name, grad in grads.items():
        assert torch.allclose(ranks[0]["grads"][name], grad, atol=1e-6, rtol=1e-4), name
        assert torch.allclose(ranks[1]["grads"][name], grad, atol=1e-6, rtol=1e-4), name
