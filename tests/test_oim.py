import numpy as np
import pytest
import torch
import torch.nn.functional as F

from personsearch.models import OIMLoss


def _unit(*rows):
    array = np.asarray(rows, dtype=np.float64)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def _hand_loss_and_grad(features, labels, tables, scalar):
    """Cross-entropy over scalar * cosine logits, averaged over labelled rows, written out by hand."""
    logits = scalar * features @ tables.T
    labelled = [i for i, y in enumerate(labels) if y >= 0]
    loss, grad = 0.0, np.zeros_like(features)
    for i in labelled:
        z = logits[i] - logits[i].max()
        p = np.exp(z) / np.exp(z).sum()
        loss += -np.log(p[labels[i]])
        onehot = np.zeros_like(p)
        onehot[labels[i]] = 1.0
        grad[i] = scalar * (p - onehot) @ tables
    return loss / len(labelled), grad / len(labelled)


@pytest.fixture
def case():
    lut = _unit([1.0, 0.0], [0.0, 1.0], [1.0, 1.0])
    queue = _unit([-1.0, 0.0], [0.0, -1.0])
    features = _unit([3.0, 1.0], [1.0, -2.0], [1.0, 2.0], [-1.0, -1.0], [2.0, -1.0], [1.0, 3.0])
    labels = [0, -1, 2, -1, -1, 0]
    oim = OIMLoss(num_features=2, num_pids=3, queue_size=2, momentum=0.25, scalar=10.0).double()
    oim.lut.copy_(torch.from_numpy(lut))
    oim.queue.copy_(torch.from_numpy(queue))
    oim.queue_ptr.fill_(1)
    return oim, lut, queue, features, labels


def test_loss_and_gradient_match_a_hand_computation(case):
    oim, lut, queue, features, labels = case
    x = torch.from_numpy(features).requires_grad_(True)
    loss = oim(x, torch.tensor(labels))
    loss.backward()
    expected_loss, expected_grad = _hand_loss_and_grad(features, labels, np.concatenate([lut, queue]), 10.0)
    assert loss.item() == pytest.approx(expected_loss, rel=1e-9)
    # the gradient uses the tables as they were before this batch's update
    np.testing.assert_allclose(x.grad.numpy(), expected_grad, rtol=1e-9, atol=1e-12)


def test_lookup_table_momentum_update_and_renormalisation(case):
    oim, lut, queue, features, labels = case
    oim(torch.from_numpy(features), torch.tensor(labels))
    m = 0.25
    row0 = m * lut[0] + (1 - m) * features[0]
    row0 /= np.linalg.norm(row0)
    row0 = m * row0 + (1 - m) * features[5]  # pid 0 seen twice: updated twice, in order
    row0 /= np.linalg.norm(row0)
    row2 = m * lut[2] + (1 - m) * features[2]
    row2 /= np.linalg.norm(row2)
    np.testing.assert_allclose(oim.lut[0].numpy(), row0, rtol=1e-12)
    np.testing.assert_allclose(oim.lut[1].numpy(), lut[1])  # not in the batch
    np.testing.assert_allclose(oim.lut[2].numpy(), row2, rtol=1e-12)
    np.testing.assert_allclose(oim.lut.norm(dim=1).numpy(), 1.0)


def test_unlabelled_people_fill_the_circular_queue(case):
    oim, _, _, features, labels = case
    oim(torch.from_numpy(features), torch.tensor(labels))
    # three unlabelled rows (1, 3, 4) written from slot 1: slots 1, 0, 1 -> row 4 overwrote row 1
    np.testing.assert_allclose(oim.queue[0].numpy(), features[3])
    np.testing.assert_allclose(oim.queue[1].numpy(), features[4])
    assert int(oim.queue_ptr) == 0


def test_queue_pointer_wraps_around():
    oim = OIMLoss(num_features=3, num_pids=2, queue_size=4, momentum=0.5, scalar=30.0)
    for step in range(3):
        x = F.normalize(torch.randn(3, 3), dim=1)
        oim(x, torch.tensor([-1, -1, -1]))
        assert int(oim.queue_ptr) == (3 * (step + 1)) % 4
    assert torch.allclose(oim.queue.norm(dim=1), torch.ones(4))
    assert torch.count_nonzero(oim.lut) == 0  # unlabelled never touch the lookup table


def test_no_labelled_rows_gives_zero_loss_that_still_backpropagates():
    oim = OIMLoss(num_features=4, num_pids=3, queue_size=5)
    x = F.normalize(torch.randn(2, 4), dim=1).requires_grad_(True)
    loss = oim(x, torch.tensor([-1, -1]))
    loss.backward()
    assert loss.item() == 0.0 and x.grad is not None
    empty = oim(torch.zeros(0, 4, requires_grad=True), torch.zeros(0, dtype=torch.long))
    assert empty.item() == 0.0


def test_eval_mode_leaves_the_tables_alone():
    oim = OIMLoss(num_features=4, num_pids=3, queue_size=5).eval()
    oim(F.normalize(torch.randn(3, 4), dim=1), torch.tensor([0, 1, -1]))
    assert torch.count_nonzero(oim.lut) == 0 and torch.count_nonzero(oim.queue) == 0


def test_zero_sized_queue_ignores_unlabelled():
    oim = OIMLoss(num_features=4, num_pids=3, queue_size=0)
    loss = oim(F.normalize(torch.randn(3, 4), dim=1), torch.tensor([0, -1, 2]))
    assert torch.isfinite(loss)
    assert oim.queue.shape == (0, 4)


def test_labels_outside_the_table_are_rejected():
    oim = OIMLoss(num_features=4, num_pids=3, queue_size=5)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        oim(F.normalize(torch.randn(1, 4), dim=1), torch.tensor([3]))
    with pytest.raises(ValueError):
        oim(F.normalize(torch.randn(1, 4), dim=1), torch.tensor([-2]))


def test_tables_are_checkpointed_buffers():
    oim = OIMLoss(num_features=4, num_pids=3, queue_size=5)
    oim(F.normalize(torch.randn(3, 4), dim=1), torch.tensor([0, -1, 2]))
    restored = OIMLoss(num_features=4, num_pids=3, queue_size=5)
    restored.load_state_dict(oim.state_dict())
    assert set(oim.state_dict()) == {"lut", "queue", "queue_ptr"}
    assert torch.equal(restored.lut, oim.lut) and torch.equal(restored.queue, oim.queue)
    assert int(restored.queue_ptr) == 1


def _unseen_case(unseen_rows):
    """pid 0 seen before (its row is set), pid 1 never: two views of pid 1 and one of pid 0."""
    oim = OIMLoss(num_features=2, num_pids=3, queue_size=0, momentum=0.5, scalar=10.0, unseen_rows=unseen_rows)
    oim = oim.double()
    lut = np.zeros((3, 2))
    lut[0] = _unit([1.0, 0.0])[0]
    oim.lut.copy_(torch.from_numpy(lut))
    features = _unit([0.0, 1.0], [1.0, 2.0], [2.0, 1.0])
    return oim, lut, features, [1, 1, 0]


def test_unseen_rows_zero_scores_a_new_identity_against_an_empty_row():
    oim, lut, features, labels = _unseen_case("zero")
    x = torch.from_numpy(features).requires_grad_(True)
    loss = oim(x, torch.tensor(labels))
    loss.backward()
    expected_loss, expected_grad = _hand_loss_and_grad(features, labels, lut, 10.0)
    assert loss.item() == pytest.approx(expected_loss, rel=1e-9)
    np.testing.assert_allclose(x.grad.numpy(), expected_grad, rtol=1e-9, atol=1e-12)


def test_unseen_rows_batch_fills_an_empty_row_from_the_batch_before_scoring():
    oim, lut, features, labels = _unseen_case("batch")
    x = torch.from_numpy(features).requires_grad_(True)
    loss = oim(x, torch.tensor(labels))
    loss.backward()
    filled = lut.copy()
    filled[1] = _unit(features[0] + features[1])[0]  # the mean of pid 1's two views; pid 0 keeps its row
    expected_loss, expected_grad = _hand_loss_and_grad(features, labels, filled, 10.0)
    assert loss.item() == pytest.approx(expected_loss, rel=1e-9)
    # the filled row is a constant: no gradient flows through it
    np.testing.assert_allclose(x.grad.numpy(), expected_grad, rtol=1e-9, atol=1e-12)
    # then the usual momentum update, twice for the two views
    row1 = filled[1]
    for view in (0, 1):
        row1 = _unit(0.5 * row1 + 0.5 * features[view])[0]
    np.testing.assert_allclose(oim.lut[1].numpy(), row1, rtol=1e-12)
    assert torch.count_nonzero(oim.lut[2]) == 0  # not in the batch


def test_unseen_rows_batch_leaves_the_tables_alone_in_eval_mode_and_rejects_unknown_policies():
    oim, lut, features, labels = _unseen_case("batch")
    oim.eval()(torch.from_numpy(features), torch.tensor(labels))
    np.testing.assert_array_equal(oim.lut.numpy(), lut)
    with pytest.raises(ValueError, match="unseen_rows"):
        OIMLoss(num_features=2, num_pids=3, queue_size=0, unseen_rows="mean")
