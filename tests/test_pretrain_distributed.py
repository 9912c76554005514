"""Pre-training under torch.distributed (two Gloo processes on this machine).

- One DDP step of the pre-training model where the two processes' batches differ in what they
  hold (one has a detection image and an unlabelled crop pair, the other one labelled crop):
  no unused-parameter error, the same averaged gradients and OIM table on both, the table kept
  equal by its gathered updates rather than re-sent by DDP.
- (slow) `pretrain_tiny` through the recipe for a few iterations: both processes end with the
  same weights and OIM table, every loss term logged and finite, only rank 0 writes.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from gloo_ranks import run_in_gloo_ranks
from personsearch.engine import HookBase
from personsearch.engine import distributed as du

SOURCES = ("crowdhuman", "ecp", "msmt17", "cuhk03", "luperson")


def _tiny_pretraining_model():
    """pretrain_tiny's NAE and pre-training wrapper over five hand-described sources."""
    from personsearch.config import load_config
    from personsearch.data.unify import SourceInfo, UnifiedSources
    from personsearch.methods.pretrain import PretrainSettings, build_pretraining_model
    from personsearch.models.search_model import build_search_model

    cfg = load_config("preset:pretrain_tiny")
    tasks = {"crowdhuman": ("detection", False), "ecp": ("detection", False), "msmt17": ("reid", True),
             "cuhk03": ("reid", True), "luperson": ("reid", False)}
    unified = UnifiedSources(sources=[SourceInfo(name=n, format=n, task=t, real_ids=r, num_images=1, num_boxes=1,
                                                 num_identities=2) for n, (t, r) in tasks.items()],
                             samples=[], num_pids=10)
    kwargs = {k: v for k, v in cfg["model"].items() if k not in ("init_from", "init_parts")}
    torch.manual_seed(0)
    search_model = build_search_model(**dict(kwargs, num_pids=10, queue_size=8))
    settings = PretrainSettings.from_section(cfg["method"])
    return build_pretraining_model(search_model, unified, settings, embedding_dim=kwargs["embedding_dim"])


def _views(source, sample, boxes, pids, seed):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.rand(3, 128, 96, generator=generator),
             {"boxes": torch.tensor(boxes, dtype=torch.float32), "pids": torch.tensor(pids), "source": source,
              "sample": sample, "view": view}) for view in (0, 1)]


def _step_worker(rank, out_dir):
    model = _tiny_pretraining_model()
    oim = model.model.roi_heads.reid_loss
    oim.lut[9] = float(rank)  # a row no batch updates: DDP must not send rank 0's table to rank 1
    ddp = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
    if rank == 0:  # a crowdhuman image (detection IAM, contrast) and a luperson crop (re-ID IAM, contrast)
        views = _views(0, 0, [[10, 10, 40, 100], [50, 20, 85, 110]], [0, 1], seed=1)
        views += _views(4, 1, [[20, 15, 70, 115]], [8], seed=2)
    else:  # one msmt17 crop: no detection image, no sample for the contrast
        views = _views(2, 2, [[20, 15, 70, 115]], [4], seed=3)
    images, targets = [v[0] for v in views], [v[1] for v in views]
    losses = ddp(images, targets)
    sum(losses.values()).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    torch.save({"losses": {k: v.detach() for k, v in losses.items()}, "grads": grads, "lut": oim.lut.clone(),
                "queue": oim.queue.clone()}, Path(out_dir) / f"step{rank}.pt")


def test_a_ddp_step_with_different_tasks_per_process(tmp_path):
    run_in_gloo_ranks(_step_worker, str(tmp_path))
    first, second = (torch.load(tmp_path / f"step{r}.pt", weights_only=True) for r in (0, 1))
    assert set(first["losses"]) == set(second["losses"])  # every process logs the same terms
    assert first["losses"]["loss_contrast"] != 0 and second["losses"]["loss_contrast"] == 0
    assert first["losses"]["loss_det_domain_image"] > 0 and second["losses"]["loss_det_domain_image"] == 0
    assert set(first["grads"]) == set(second["grads"])
    for name, grad in first["grads"].items():
        assert torch.allclose(grad, second["grads"][name], atol=1e-7), name  # averaged over both processes
    # modules one process did not use still got the other's gradient
    assert first["grads"]["predictor.layers.0.weight"].abs().sum() > 0
    assert first["grads"]["detection_alignment.image_classifier.layers.0.weight"].abs().sum() > 0
    # the OIM table is updated from both processes' boxes alike, and never broadcast by DDP
    assert torch.equal(first["lut"][:9], second["lut"][:9]) and torch.equal(first["queue"], second["queue"])
    assert first["lut"][4].abs().sum() > 0 and first["lut"][8].abs().sum() > 0  # rows of both processes' crops
    assert (first["lut"][9] == 0).all() and (second["lut"][9] == 1).all()


class _KeepFinalState(HookBase):
    """Saves this process's parameters, OIM table and history when training ends."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def after_train(self, trainer) -> None:
        model = du.unwrap_model(trainer.model)
        oim = model.model.roi_heads.reid_loss
        torch.save({"params": {n: p.detach().clone() for n, p in model.named_parameters()},
                    "lut": oim.lut.clone(), "queue": oim.queue.clone(), "iteration": trainer.iteration,
                    "history": trainer.history}, self.path)


def _overrides(folder: Path) -> list[str]:
    roots = [f"data.sources.{s}.root={folder / 'sources' / s}" for s in SOURCES]
    return roots + [f"output_dir={folder / 'run'}", "method.iterations_per_epoch=3", "train.epochs=2",
                    "train.milestones=[1]", "data.source_weights={luperson: 2.0}"]


def _pretrain_worker(rank, folder):
    from personsearch.config import load_config
    from personsearch.methods import pretrain

    folder = Path(folder)
    cfg = load_config("preset:pretrain_tiny", _overrides(folder))
    pretrain.train_from_config(cfg, extra_hooks=[_KeepFinalState(folder / f"rank{rank}.pt")])


@pytest.mark.slow
def test_pretrain_tiny_in_two_processes_ends_with_the_same_weights(tmp_path):
    from personsearch.config import load_config
    from personsearch.methods import pretrain

    pretrain.ensure_sources(load_config("preset:pretrain_tiny", _overrides(tmp_path))["data"], show_progress=False)
    run_in_gloo_ranks(_pretrain_worker, str(tmp_path))
    first, second = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert first["iteration"] == second["iteration"] == 6
    for name, value in first["params"].items():
        assert torch.equal(value, second["params"][name]), name
    assert torch.equal(first["lut"], second["lut"]) and torch.equal(first["queue"], second["queue"])
    assert (first["lut"].abs().sum(dim=1) > 0).sum() > 12  # both processes' boxes filled table rows
    row = first["history"][-1]
    for term in ("loss_oim", "loss_contrast", "loss_det_domain_image", "loss_det_domain_instance",
                 "loss_reid_domain_image", "loss_reid_domain_instance", "loss_reid_domain_consistency"):
        assert np.isfinite(row[term]), term
    for mine, other in zip(first["history"], second["history"]):  # losses are averaged over the processes
        assert {k: v for k, v in mine.items() if k.startswith("loss")} == \
            {k: v for k, v in other.items() if k.startswith("loss")}
    run = tmp_path / "run"
    assert (run / "last.pth").is_file() and (run / "pretrained.pth").is_file()
    assert torch.load(run / "pretrained.pth", weights_only=True)["pretrain"]["steps"] == 6
