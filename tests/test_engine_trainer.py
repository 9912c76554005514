"""Trainer, hooks, checkpoints and exact resume on a tiny model with random choices in its
forward pass (like proposal sampling) and flip augmentation in the data."""

import csv
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from personsearch.data.records import UNLABELLED, SceneRecord
from personsearch.data.scene_dataset import SceneDataset, collate_scenes
from personsearch.engine import NonFiniteLossError, TrainSettings, build_trainer, load_checkpoint, prepare_run
from personsearch.engine.checkpoint import epoch_checkpoints
from personsearch.engine.trainer import OWN_CLIP, Trainer


class ToySearchModel(nn.Module):
    def __init__(self, *, num_pids: int = 3, dim: int = 6) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, dim, 3, stride=2, padding=1), nn.ReLU())
        self.drop = nn.Dropout(0.3)
        self.id_head = nn.Linear(dim, num_pids)
        self.box_head = nn.Linear(dim, 4)
        self.register_buffer("seen", torch.zeros(()))  # a stateful buffer, like an OIM table

    def forward(self, images, targets=None):
        pooled = self.drop(torch.stack([self.body(image[None]).mean((2, 3))[0] for image in images]))
        picks = [torch.randint(len(t["pids"]), ()) for t in targets]
        pids = torch.stack([t["pids"][i] for t, i in zip(targets, picks)])
        boxes = torch.stack([t["boxes"][i] / 64.0 for t, i in zip(targets, picks)])
        self.seen += len(images)
        return {
            "loss_id": F.cross_entropy(self.id_head(pooled), pids.clamp(min=0)),
            "loss_box": F.smooth_l1_loss(self.box_head(pooled), boxes),
        }


def write_scenes(folder: Path, count: int = 6, seed: int = 0) -> list[SceneRecord]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(count):
        path = folder / f"s{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(path, quality=90)
        boxes = np.array([[2, 3, 20, 30], [25, 1, 46, 31]], dtype=np.float32)
        pids = np.array([i % 3, UNLABELLED], dtype=np.int64)
        records.append(SceneRecord(name=path.name, image_path=str(path), boxes=boxes, pids=pids))
    return records


def run(output_dir: Path, records, *, epochs: int, resume=None, scramble: bool = False, **overrides):
    settings = TrainSettings(
        device="cpu", seed=3, epochs=epochs, batch_size=2, workers=0, lr=0.05, warmup_epochs=0.5,
        milestones=[1], log_period=1, tensorboard=False, progress=False, keep_last=2, **overrides,
    )
    device = prepare_run(settings)
    model = ToySearchModel(num_pids=3)
    if scramble:  # a resumed process starts from other generator states than the checkpoint's
        torch.manual_seed(12345)
        np.random.seed(7)
    trainer = build_trainer(
        settings=settings, model=model, model_kwargs={"num_pids": 3}, train_dataset=SceneDataset(records, flip_prob=0.5),
        collate_fn=collate_scenes, device=device, output_dir=output_dir, config={"train": {"epochs": epochs}},
        resume=resume,
    )
    trainer.train()
    return trainer


def iteration_losses(folder: Path) -> list[tuple[str, str, str]]:
    with open(folder / "iterations.csv", newline="") as handle:
        return [(row["iteration"], row["loss"], row["lr"]) for row in csv.DictReader(handle)]


def test_resume_after_an_epoch_repeats_the_uninterrupted_run(tmp_path):
    records = write_scenes(tmp_path / "images", count=6)
    straight = run(tmp_path / "a", records, epochs=2)
    run(tmp_path / "b", records, epochs=1)
    shutil.copytree(tmp_path / "b", tmp_path / "c")
    resumed = run(tmp_path / "b", records, epochs=2, resume="auto", scramble=True)
    assert resumed.resumed_from == str(tmp_path / "b" / "last.pth")
    reference = iteration_losses(tmp_path / "a")
    assert len(reference) == 6  # 6 images / batch 2 = 3 iterations per epoch; LR decays after epoch 1
    assert iteration_losses(tmp_path / "b") == reference
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    # An explicit epoch file works the same way, and iterations.csv rows after it are replaced.
    with open(tmp_path / "c" / "iterations.csv", "a") as handle:
        handle.write("4,2,99.0,99.0,99.0,0.1\n")  # a row of a run cut short during epoch 2
    run(tmp_path / "c", records, epochs=2, resume=str(tmp_path / "c" / "epoch_1.pth"), scramble=True)
    assert iteration_losses(tmp_path / "c") == reference


def test_checkpoint_contents_load_weights_only_and_keep_last(tmp_path):
    records = write_scenes(tmp_path / "images", count=4)
    run(tmp_path / "out", records, epochs=3)
    out = tmp_path / "out"
    assert [p.name for p in epoch_checkpoints(out)] == ["epoch_2.pth", "epoch_3.pth"]  # keep_last=2
    ckpt = torch.load(out / "last.pth", map_location="cpu", weights_only=True)
    assert set(ckpt) >= {"model", "model_kwargs", "optimizer", "scheduler", "scaler", "epoch", "iteration",
                         "config", "rng", "history"}
    assert (ckpt["epoch"], ckpt["iteration"], ckpt["model_kwargs"]) == (3, 6, {"num_pids": 3})
    assert ckpt["config"] == {"train": {"epochs": 3}}
    assert ckpt["model"]["seen"].item() == 12  # buffers are saved with the weights
    assert not list(out.glob(".*tmp"))  # no temporary files left behind
    assert (out / "config.yaml").is_file()


def test_failed_checkpoint_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    records = write_scenes(tmp_path / "images", count=4)
    run(tmp_path / "out", records, epochs=1)
    before = (tmp_path / "out" / "last.pth").read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        run(tmp_path / "out", records, epochs=2, resume="auto")
    assert (tmp_path / "out" / "last.pth").read_bytes() == before
    assert load_checkpoint(tmp_path / "out" / "last.pth")["epoch"] == 1
    assert not (tmp_path / "out" / "epoch_2.pth").exists()
    assert not list((tmp_path / "out").glob(".*tmp"))


class ExplodingModel(ToySearchModel):
    def __init__(self, *, at_call: int) -> None:
        super().__init__()
        self.at_call = at_call
        self.calls = 0

    def forward(self, images, targets=None):
        losses = super().forward(images, targets)
        self.calls += 1
        if self.calls == self.at_call:
            losses["loss_box"] = losses["loss_box"] * math.inf
        return losses


def test_non_finite_loss_names_iteration_and_term_and_writes_no_checkpoint(tmp_path):
    records = write_scenes(tmp_path / "images", count=4)
    settings = TrainSettings(device="cpu", epochs=3, batch_size=2, workers=0, tensorboard=False, progress=False)
    device = prepare_run(settings)
    model = ExplodingModel(at_call=4)  # iteration 4 = second iteration of epoch 2
    trainer = build_trainer(
        settings=settings, model=model, model_kwargs={}, train_dataset=SceneDataset(records),
        collate_fn=collate_scenes, device=device, output_dir=tmp_path / "out", config={},
    )
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(NonFiniteLossError, match=r"iteration 4 \(epoch 2\): loss_box=inf") as info:
        trainer.train()
    assert info.value.iteration == 4 and info.value.terms["loss_box"] == math.inf
    assert [p.name for p in epoch_checkpoints(tmp_path / "out")] == ["epoch_1.pth"]
    assert load_checkpoint(tmp_path / "out" / "last.pth")["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    assert not torch.equal(weights["id_head.weight"], model.state_dict()["id_head.weight"])  # it did train


def test_metrics_csv_curves_png_and_eval_hook(tmp_path):
    records = write_scenes(tmp_path / "images", count=4)
    settings = TrainSettings(device="cpu", epochs=3, batch_size=2, workers=0, log_period=1, tensorboard=True,
                             progress=False, loss_weights={"loss_box": 2.0})
    device = prepare_run(settings)
    calls = []

    def evaluator(model):
        assert not model.training
        calls.append(len(calls))
        return {"mAP": 10.0 * len(calls)}

    trainer = build_trainer(
        settings=settings, model=ToySearchModel(), model_kwargs={}, train_dataset=SceneDataset(records),
        collate_fn=collate_scenes, device=device, output_dir=tmp_path / "out", config={}, evaluator=evaluator,
        eval_period=2,
    )
    history = trainer.train()
    assert len(calls) == 2  # epoch 2 (period) and epoch 3 (last)
    out = tmp_path / "out"
    with open(out / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["eval/mAP"] == "" and float(rows[1]["eval/mAP"]) == 10.0 and float(rows[2]["eval/mAP"]) == 20.0
    assert {"loss", "loss_id", "loss_box", "lr", "images_per_s"} <= set(rows[0])
    assert float(rows[0]["loss"]) == pytest.approx(float(rows[0]["loss_id"]) + float(rows[0]["loss_box"]))
    assert history[-1]["eval/mAP"] == 20.0
    assert len(iteration_losses(out)) == 6
    png = (out / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


def test_unknown_loss_weight_and_unknown_train_setting_are_named(tmp_path):
    from personsearch.config import ConfigError

    with pytest.raises(ConfigError, match="unknown train setting.*'lr_rate'.*valid: device"):
        TrainSettings.from_section({"lr_rate": 0.1})
    records = write_scenes(tmp_path / "images", count=2)
    settings = TrainSettings(device="cpu", epochs=1, batch_size=2, workers=0, tensorboard=False, progress=False,
                             loss_weights={"loss_reid": 1.0})
    trainer = build_trainer(
        settings=settings, model=ToySearchModel(), model_kwargs={}, train_dataset=SceneDataset(records),
        collate_fn=collate_scenes, device=prepare_run(settings), output_dir=tmp_path / "out", config={},
    )
    with pytest.raises(ValueError, match=r"unknown loss terms \['loss_reid'\].*loss_box"):
        trainer.train()


class TwoParameters(nn.Module):
    """A parameter with a huge gradient and one with a small gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Parameter(torch.ones(1))
        self.head = nn.Parameter(torch.ones(1))

    def forward(self, images, targets):
        return {"loss_big": 1000.0 * self.body.sum(), "loss_small": 0.5 * self.head.sum()}


@pytest.mark.parametrize("own", [False, True])
def test_a_group_marked_own_clip_is_clipped_apart_from_the_others(own):
    model = TwoParameters()
    optimizer = torch.optim.SGD([{"params": [model.body]}, {"params": [model.head], OWN_CLIP: own}], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    trainer = Trainer(model=model, optimizer=optimizer, scheduler=scheduler, train_loader=[], device=torch.device("cpu"),
                      epochs=1, clip_grad_norm=10.0, show_progress=False)
    trainer.run_step([torch.zeros(3, 4, 4)], [{}])
    if own:  # the head keeps its own small gradient; the body alone is clipped to norm 10
        assert model.head.item() == pytest.approx(0.5) and model.body.item() == pytest.approx(-9.0)
    else:  # clipped together, the head's step shrinks with the body's gradient
        assert model.head.item() == pytest.approx(1.0 - 0.5 * 10.0 / math.hypot(1000.0, 0.5))
