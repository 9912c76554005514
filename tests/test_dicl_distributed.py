"""Two Gloo ranks with different boxes: the DICL cluster memory stays identical on both ranks,
holds both ranks' updates, and clustering results broadcast from rank 0 reach every rank."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gloo_ranks import run_in_gloo_ranks
from personsearch.methods.dicl.hooks import broadcast_from_main
from personsearch.models.losses.cluster_memory import ClusterMemory

SLOTS, DIM = 6, 4


def _worker(rank, out_dir):
    memory = ClusterMemory(num_slots=SLOTS, num_features=DIM, momentum=0.5)
    memory.initialise(F.normalize(torch.ones(SLOTS, DIM), dim=1))
    labels = torch.tensor([0, 0, 1, 1, 2, 3]) if rank == 0 else torch.zeros(SLOTS, dtype=torch.int64)
    memory.set_labels(broadcast_from_main(labels))
    generator = torch.Generator().manual_seed(rank)
    features = F.normalize(torch.randn(2 + rank, DIM, generator=generator), dim=1)  # uneven row counts
    slots = torch.tensor([[0, 2], [3, 4, 5]][rank])
    loss = memory(features, slots)
    memory.update(features, slots)
    torch.save({"features": memory.features, "labels": memory.labels, "loss": loss.detach()},
               Path(out_dir) / f"rank{rank}.pt")


def test_memory_updates_and_cluster_labels_agree_across_ranks(tmp_path):
    run_in_gloo_ranks(_worker, str(tmp_path))
    first, second = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert torch.equal(first["features"], second["features"])
    assert first["labels"].tolist() == second["labels"].tolist() == [0, 0, 1, 1, 2, 3]
    start = F.normalize(torch.ones(DIM), dim=0)
    assert not torch.allclose(first["features"][2], start) and not torch.allclose(first["features"][5], start)
    assert torch.allclose(first["features"][1], start)  # slot 1 was in no batch
    assert torch.isfinite(first["loss"]) and torch.isfinite(second["loss"])


def _ddp_worker(rank, out_dir):
    from personsearch.config import load_config
    from personsearch.methods.dicl import recipe
    from personsearch.methods.dicl.siamese import DICLTrainingModel
    from personsearch.models.search_model import build_search_model

    cfg = load_config("preset:dicl_tiny")
    torch.manual_seed(0)
    model = DICLTrainingModel(search_model=build_search_model(**recipe.search_model_kwargs(cfg["model"])),
                              num_slots=4, **recipe.DICLSettings.from_section(cfg["method"]).training_model_kwargs())
    model.memory.initialise(F.normalize(torch.ones(4, model.memory.features.shape[1]), dim=1))
    ddp = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
    torch.manual_seed(1 + rank)
    images = [torch.rand(3, 96, 128)]
    targets = [{"boxes": torch.tensor([[10.0 + 30 * rank, 8.0, 40.0 + 30 * rank, 80.0]]),
                "slots": torch.tensor([rank])}]
    sum(ddp(images, targets).values()).backward()
    torch.save({"features": model.memory.features}, Path(out_dir) / f"ddp{rank}.pt")


@pytest.mark.slow
def test_a_ddp_step_of_the_whole_method_keeps_the_memories_equal(tmp_path):
    run_in_gloo_ranks(_ddp_worker, str(tmp_path))
    first, second = (torch.load(tmp_path / f"ddp{r}.pt", weights_only=True)["features"] for r in (0, 1))
    assert torch.equal(first, second)
    assert not torch.equal(first[0], first[2]) and not torch.equal(first[1], first[2])  # both ranks' boxes updated
    assert torch.equal(first[2], first[3])  # slots no rank saw
