import math

import pytest
import torch

from personsearch.text.losses import CTLGLoss, infonce_loss, list_contrastive_losses, sdm_loss, target_matrix
from personsearch.text.training_model import soft_identity_labels


def test_infonce_matches_hand_computed_two_pair_case():
    sim = torch.tensor([[0.9, 0.1], [0.3, 0.8]])
    tau = 0.1
    # i2t row 0: -log(e^9 / (e^9 + e^1)), row 1: -log(e^8 / (e^3 + e^8)); t2i uses the columns.
    i2t = (math.log(1 + math.exp(1 - 9)) + math.log(1 + math.exp(3 - 8))) / 2
    t2i = (math.log(1 + math.exp(3 - 9)) + math.log(1 + math.exp(1 - 8))) / 2
    got = infonce_loss(sim, torch.eye(2), tau=tau)
    assert got.item() == pytest.approx(0.5 * (i2t + t2i), rel=1e-5)


def test_sdm_matches_hand_computed_kl():
    sim = torch.tensor([[0.5, 0.2], [0.1, 0.4]])
    targets = torch.tensor([[0.5, 0.5], [0.5, 0.5]])  # one identity: both texts are positives
    tau = 0.1
    total = 0.0
    for logits in (sim / tau, sim.t() / tau):
        p = torch.softmax(logits, dim=1)
        total += float((p * (p.log() - torch.log(targets + 1e-8))).sum(1).mean())
    assert sdm_loss(sim, targets, tau=tau).item() == pytest.approx(0.5 * total, rel=1e-5)
    # When the predicted distribution equals the target the KL is zero.
    assert sdm_loss(torch.zeros(2, 2), targets, tau=tau).item() == pytest.approx(0.0, abs=1e-6)


def _hardest_negative_share(tau: float) -> float:
    sim = torch.tensor([[0.7, 0.69, 0.68, 0.66, 0.6]], dtype=torch.float64, requires_grad=True)  # positive at 0, hardest negative at 1
    targets = torch.zeros(1, 5, dtype=torch.float64)
    targets[0, 0] = 1
    loss = -(targets * torch.log_softmax(sim / tau, dim=1)).sum()
    loss.backward()
    grad = sim.grad[0, 1:]
    return float(grad[0] / grad.sum())


def test_smaller_temperature_puts_more_gradient_on_the_hardest_negative():
    shares = [_hardest_negative_share(tau) for tau in (0.5, 0.1, 0.02, 0.005)]
    assert all(a < b for a, b in zip(shares, shares[1:])), shares
    assert shares[-1] > 0.8 and shares[0] < 0.3


def test_identity_aware_loss_does_not_push_same_identity_pairs_apart():
    # Samples 0 and 1 show the same person; sample 2 another one.
    img = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.3], [0.0, 1.0]]), dim=1)
    txt = torch.nn.functional.normalize(torch.tensor([[1.0, 0.1], [0.8, 0.4], [0.1, 1.0]]), dim=1)
    pids = torch.tensor([[5, 5], [5, 5], [7, 7]])
    identity = soft_identity_labels(pids, torch.tensor([[1.0, 0.0]] * 3))
    for name in list_contrastive_losses():
        grads = {}
        for aware in (False, True):
            sim = (img @ txt.t()).clone().requires_grad_(True)
            targets = target_matrix(identity if aware else torch.eye(3))
            CTLGLoss(contrastive=name, tau=0.5).contrastive(sim, targets, tau=0.5).backward()
            grads[aware] = sim.grad.clone()
        # Plain: the same-identity off-diagonal pair (0, 1) is a negative -> positive gradient (pushed down).
        assert grads[False][0, 1] > 0, name
        # Identity-aware: it is a positive -> never pushed down.
        assert grads[True][0, 1] <= 0, name
        # A different-identity pair stays a negative in both.
        assert grads[True][0, 2] > 0 and grads[False][0, 2] > 0, name


def test_identity_loss_is_added_with_its_weight_and_needs_logits():
    feats = torch.randn(4, 8)
    labels = torch.eye(4)
    loss = CTLGLoss(tau=0.1, id_weight=0.5)
    logits = torch.zeros(4, 4)
    out = loss(feats, feats, instance_labels=labels, identity_labels=labels, image_logits=logits, text_logits=logits)
    assert out["identity"].item() == pytest.approx(0.5 * math.log(4), rel=1e-5)
    assert out["total"].item() == pytest.approx(out["contrastive"].item() + out["identity"].item(), rel=1e-6)
    with pytest.raises(ValueError, match="classifier"):
        loss(feats, feats, instance_labels=labels, identity_labels=labels)


def test_unknown_loss_and_bad_temperature_are_rejected():
    with pytest.raises(KeyError, match="infonce"):
        CTLGLoss(contrastive="nope")
    with pytest.raises(ValueError, match="temperature"):
        CTLGLoss(tau=0.0)
