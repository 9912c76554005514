"""Two Gloo ranks with different data: after DDP steps the OIM tables are identical on both ranks."""

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from gloo_ranks import run_in_gloo_ranks
from personsearch.models import OIMLoss, build_search_model

NUM_PIDS, QUEUE_SIZE, DIM = 6, 5, 8
COUNTS = (5, 3)  # rows per rank differ, so the gather must handle uneven sizes


class EmbedAndMatch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(4, DIM)
        self.oim = OIMLoss(num_features=DIM, num_pids=NUM_PIDS, queue_size=QUEUE_SIZE, momentum=0.5, scalar=10.0)

    def forward(self, x, labels):
        features = F.normalize(self.embed(x), dim=1)
        return self.oim(features, labels), features.detach()


def _rank_batch(rank):
    generator = torch.Generator().manual_seed(10 + rank)
    x = torch.randn(COUNTS[rank], 4, generator=generator)
    labels = torch.tensor([[0, -1, 3, 0, -1], [3, -1, 5]][rank])
    return x, labels


def _initial_tables():
    generator = torch.Generator().manual_seed(0)
    return (
        F.normalize(torch.randn(NUM_PIDS, DIM, generator=generator), dim=1),
        F.normalize(torch.randn(QUEUE_SIZE, DIM, generator=generator), dim=1),
    )


def _tiny_scene_batch(rank):
    generator = torch.Generator().manual_seed(rank)
    images = [torch.rand(3, 96, 128, generator=generator) for _ in range(2)]
    targets = [
        {"boxes": torch.tensor([[10.0, 8.0, 40.0, 80.0], [70.0, 20.0, 100.0, 90.0]]), "pids": torch.tensor([rank, -1])},
        {"boxes": torch.tensor([[30.0 + 20 * rank, 10.0, 60.0 + 20 * rank, 85.0]]), "pids": torch.tensor([2])},
    ]
    return images, targets


def _worker(rank, out_dir):
    torch.manual_seed(0)
    model = EmbedAndMatch()
    lut, queue = _initial_tables()
    model.oim.lut.copy_(lut)
    model.oim.queue.copy_(queue)
    # no buffer broadcast: each rank must reach the same tables on its own
    ddp = DistributedDataParallel(model, broadcast_buffers=False)
    x, labels = _rank_batch(rank)
    loss, features = ddp(x, labels)
    loss.backward()
    torch.save(
        {"features": features, "labels": labels, "lut": model.oim.lut, "queue": model.oim.queue,
         "ptr": model.oim.queue_ptr, "weight_grad": model.embed.weight.grad},
        Path(out_dir) / f"oim{rank}.pt",
    )

    torch.manual_seed(0)
    # empty rows filled from the batch: every rank must fill them from every rank's features
    search = build_search_model(
        "seqnet", backbone="resnet18", num_pids=4, queue_size=16, oim_unseen_rows="batch", min_size=96, max_size=128,
        rpn_pre_nms_top_n_train=200, rpn_post_nms_top_n_train=50, box_batch_size_per_image=8,
        roi_output_size=8,
    )
    ddp_search = DistributedDataParallel(search, broadcast_buffers=False)
    optimizer = torch.optim.SGD(ddp_search.parameters(), lr=1e-3)
    images, targets = _tiny_scene_batch(rank)
    for _ in range(2):  # a second step would fail if any parameter went without a gradient
        optimizer.zero_grad()
        sum(ddp_search(images, targets).values()).backward()
        optimizer.step()
    oim = search.roi_heads.reid_loss
    torch.save({"lut": oim.lut, "queue": oim.queue, "ptr": oim.queue_ptr}, Path(out_dir) / f"seqnet{rank}.pt")


def test_ddp_oim_tables_are_identical_and_equal_the_gathered_update(tmp_path):
    run_in_gloo_ranks(_worker, str(tmp_path))
    ranks = [torch.load(tmp_path / f"oim{r}.pt", weights_only=True) for r in range(2)]
    for key in ("lut", "queue", "ptr"):
        assert torch.equal(ranks[0][key], ranks[1][key]), key
    assert torch.allclose(ranks[0]["weight_grad"], ranks[1]["weight_grad"])

    reference = OIMLoss(num_features=DIM, num_pids=NUM_PIDS, queue_size=QUEUE_SIZE, momentum=0.5, scalar=10.0)
    lut, queue = _initial_tables()
    reference.lut.copy_(lut)
    reference.queue.copy_(queue)
    reference.update(
        torch.cat([ranks[0]["features"], ranks[1]["features"]]), torch.cat([ranks[0]["labels"], ranks[1]["labels"]])
    )
    assert torch.allclose(ranks[0]["lut"], reference.lut, atol=1e-6)
    assert torch.allclose(ranks[0]["queue"], reference.queue, atol=1e-6)
    assert int(ranks[0]["ptr"]) == int(reference.queue_ptr) == 3
    # pid 3 was seen on both ranks: rank 0's row first, then rank 1's
    assert not torch.allclose(ranks[0]["lut"][3], lut[3])

    search = [torch.load(tmp_path / f"seqnet{r}.pt", weights_only=True) for r in range(2)]
    for key in ("lut", "queue", "ptr"):
        assert torch.equal(search[0][key], search[1][key]), key
    assert torch.count_nonzero(search[0]["lut"].norm(dim=1)) >= 3  # pids 0, 1 (one per rank) and 2
