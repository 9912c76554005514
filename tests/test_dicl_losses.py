"""DICL's losses on hand-made features, against values computed by hand."""

import math

import pytest
import torch

from personsearch.methods.dicl.siamese import occlude_boxes
from personsearch.models.losses.cluster_memory import ClusterMemory, hardest_negative_mask
from personsearch.models.losses.intra_image import dense_relation_kl, many_to_one_loss
from personsearch.models.losses.triplet import background_triplet, batch_hard_triplet


def _memory(mass: float) -> ClusterMemory:
    memory = ClusterMemory(num_slots=4, num_features=2, temperature=1.0, momentum=0.2, hard_negative_mass=mass)
    memory.initialise(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]))
    memory.set_labels(torch.tensor([0, 0, 1, 2]))  # clusters {0, 1}, {2}, {3}
    return memory


def test_cluster_memory_logit_is_the_mean_over_members_and_all_negatives_count_at_full_mass():
    loss = _memory(1.0)(torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
    # logits: cluster 0 mean(1, 0) = 0.5, cluster 1 = -1, cluster 2 = 0
    expected = -math.log(math.exp(0.5) / (math.exp(0.5) + math.exp(-1.0) + math.exp(0.0)))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_cluster_memory_keeps_only_the_hardest_negatives_covering_the_mass():
    # negatives' softmax: cluster 2 holds e^0 / (e^0 + e^-1) = 0.73 >= 0.6 alone, so cluster 1 drops out
    loss = _memory(0.6)(torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
    assert loss.item() == pytest.approx(-math.log(math.exp(0.5) / (math.exp(0.5) + 1.0)), rel=1e-6)


def test_ignored_singletons_are_neither_trained_nor_negatives():
    memory = ClusterMemory(num_slots=5, num_features=2, temperature=1.0, momentum=0.2, hard_negative_mass=1.0,
                           train_singletons=False)
    memory.initialise(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [0.6, 0.8]]))
    memory.set_labels(torch.tensor([0, 0, 1, 1, 2]))  # clusters {0, 1}, {2, 3}, singleton {4}
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    # row of slot 0: cluster 0 mean(1, 0) = 0.5, cluster 1 mean(-1, 0) = -0.5; the singleton's 0.6 left out;
    # the row of slot 4 (a singleton) adds nothing
    loss = memory(features, torch.tensor([0, 4]))
    assert loss.item() == pytest.approx(-math.log(math.exp(0.5) / (math.exp(0.5) + math.exp(-0.5))), rel=1e-6)
    alone = memory(features[1:], torch.tensor([4]))
    alone.backward()
    assert alone.item() == 0.0


def test_hardest_negative_mask_adds_negatives_until_the_mass_is_reached():
    logits = torch.log(torch.tensor([[1.0, 0.5, 0.3, 0.2]]))  # target 0; negatives' probabilities .5 .3 .2
    assert hardest_negative_mask(logits, torch.tensor([0]), 0.6).tolist() == [[True, True, True, False]]
    assert hardest_negative_mask(logits, torch.tensor([0]), 0.5).tolist() == [[True, True, False, False]]


def test_memory_update_is_a_normalised_momentum_average():
    memory = _memory(0.6)
    memory.update(torch.tensor([[0.0, 1.0]]), torch.tensor([0]))
    expected = torch.tensor([0.2, 0.8]) / math.hypot(0.2, 0.8)
    assert torch.allclose(memory.features[0], expected)
    assert torch.equal(memory.features[1:], torch.tensor([[0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]))


def test_many_to_one_is_the_mean_cosine_distance_to_the_instance_embedding():
    search = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    instance = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    assert many_to_one_loss(search, instance).item() == pytest.approx(0.5)


def test_dense_relation_kl_hand_value_and_reductions():
    search = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # relations I: rows softmax (e, 1) / (e + 1)
    instance = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # relations all ones: rows (1/2, 1/2)
    a = [math.e / (math.e + 1), 1 / (math.e + 1)]
    row = sum((x - 0.5) * (math.log(x) - math.log(0.5)) for x in a)  # KL(a||b) + KL(b||a)
    assert dense_relation_kl(search, instance).item() == pytest.approx(row, rel=1e-5)
    assert dense_relation_kl(search, instance, reduction="mean").item() == pytest.approx(row / 2, rel=1e-5)
    assert dense_relation_kl(search, search).item() == pytest.approx(0.0, abs=1e-7)


def test_batch_hard_triplet_hand_value():
    embeddings = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], requires_grad=True)
    loss = batch_hard_triplet(embeddings, torch.tensor([0, 0, 1]), margin=0.3)
    first = math.sqrt(2) - math.sqrt(0.8) + 0.3
    second = math.sqrt(2) - math.sqrt(0.4) + 0.3
    assert loss.item() == pytest.approx((first + second + 0.0) / 3, rel=1e-5)  # the lone third: no positive
    loss.backward()
    assert torch.isfinite(embeddings.grad).all()


def test_background_term_hand_value_and_no_background_gives_zero_with_a_gradient():
    embeddings = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    labels = torch.tensor([0, 0])
    background = torch.tensor([[0.6, 0.8]])
    value = background_triplet(embeddings, labels, background, margin=0.3).item()
    expected = (max(math.sqrt(2) - math.sqrt(0.8) + 0.3, 0) + max(math.sqrt(2) - math.sqrt(0.4) + 0.3, 0)) / 2
    assert value == pytest.approx(expected, rel=1e-5)
    empty = background_triplet(embeddings, labels, torch.zeros((0, 2)))
    empty.backward()
    assert empty.item() == 0.0 and embeddings.grad is not None


def test_occlusion_masks_large_boxes_even_after_a_box_smaller_than_a_cell():
    torch.manual_seed(0)
    image = torch.rand(1, 3, 100, 100)
    boxes = [torch.tensor([[0.0, 0.0, 2.0, 2.0], [10.0, 10.0, 70.0, 80.0]])]  # 2x2 first, then 60x70
    out = occlude_boxes(image, boxes, [(100, 100)], prob=1.0, grid=(14, 6), cells=2)
    changed = (out != image).any(dim=1)[0]
    assert changed[10:80, 10:70].sum().item() >= 2 * 5 * 10 - 20  # two cells of ~5 x 10 pixels
    assert changed[80:, :].sum().item() == 0 and changed[:, 70:].sum().item() == 0
    fill = image[0].mean(dim=(1, 2))
    ys, xs = torch.nonzero(changed[10:80, 10:70], as_tuple=True)
    assert torch.allclose(out[0, :, ys[0] + 10, xs[0] + 10], fill)


def test_occlusion_probability_zero_changes_nothing():
    image = torch.rand(1, 3, 50, 50)
    out = occlude_boxes(image, [torch.tensor([[5.0, 5.0, 45.0, 45.0]])], [(50, 50)], prob=0.0, grid=(14, 6), cells=2)
    assert torch.equal(out, image)
