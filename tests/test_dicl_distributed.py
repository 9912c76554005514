"""Two Gloo ranks with different boxes: the DICL cluster memory stays identical on both ranks,
holds both ranks' updates, and clustering results broadcast from rank 0 reach every rank."""

import socket
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from personsearch.methods.dicl.hooks import _broadcast
from personsearch.models.losses.cluster_memory import ClusterMemory

SLOTS, DIM = 6, 4


def _worker(rank, world_size, port, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        memory = ClusterMemory(num_slots=SLOTS, num_features=DIM, momentum=0.5)
        memory.initialise(F.normalize(torch.ones(SLOTS, DIM), dim=1))
        labels = torch.tensor([0, 0, 1, 1, 2, 3]) if rank == 0 else torch.zeros(SLOTS, dtype=torch.int64)
        memory.set_labels(_broadcast(labels))
        generator = torch.Generator().manual_seed(rank)
        features = F.normalize(torch.randn(2 + rank, DIM, generator=generator), dim=1)  # uneven row counts
        slots = torch.tensor([[0, 2], [3, 4, 5]][rank])
        loss = memory(features, slots)
        memory.update(features, slots)
        torch.save({"features": memory.features, "labels": memory.labels, "loss": loss.detach()},
                   Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_memory_updates_and_cluster_labels_agree_across_ranks(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    first, second = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert torch.equal(first["features"], second["features"])
    assert first["labels"].tolist() == second["labels"].tolist() == [0, 0, 1, 1, 2, 3]
    start = F.normalize(torch.ones(DIM), dim=0)
    assert not torch.allclose(first["features"][2], start) and not torch.allclose(first["features"][5], start)
    assert torch.allclose(first["features"][1], start)  # slot 1 was in no batch
    assert torch.isfinite(first["loss"]) and torch.isfinite(second["loss"])
