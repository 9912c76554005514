"""Linear LR scaling under torchrun: the world size is simulated (no process group is needed to
build a trainer), and the optimizer and schedule must see the scaled rate."""

import pytest
import torch

from personsearch.data.scene_dataset import SceneDataset, collate_scenes
from personsearch.engine import TrainSettings, build_trainer
from personsearch.engine import distributed as du
from personsearch.engine.solver import scale_learning_rates
from test_engine_trainer import ToySearchModel, write_scenes


def _trainer(tmp_path, world_size, monkeypatch, optimizer_factory=None, **overrides):
    monkeypatch.setattr(du, "get_world_size", lambda: world_size)
    settings = TrainSettings(device="cpu", epochs=1, batch_size=2, workers=0, lr=0.05, warmup_epochs=0,
                             tensorboard=False, progress=False, **overrides)
    records = write_scenes(tmp_path / "scenes", count=8 * world_size)
    return build_trainer(settings=settings, model=ToySearchModel(), model_kwargs={}, device=torch.device("cpu"),
                         train_dataset=SceneDataset(records), collate_fn=collate_scenes, output_dir=tmp_path / "run",
                         config={}, optimizer_factory=optimizer_factory)


@pytest.mark.parametrize("world_size,scale,expected", [(1, True, 0.05), (4, True, 0.2), (4, False, 0.05)])
def test_lr_follows_world_size(tmp_path, monkeypatch, capsys, world_size, scale, expected):
    trainer = _trainer(tmp_path, world_size, monkeypatch, scale_lr_with_world_size=scale)
    assert trainer.scheduler.base_lrs == [pytest.approx(expected)]
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(expected)  # no warm-up here
    logged = capsys.readouterr()
    line = logged.out + logged.err
    if world_size == 1:
        assert "global batch" not in line
    else:
        assert "4 processes x batch 2 = global batch 8" in line
        assert ("x4" in line) == scale and "scale_lr_with_world_size" in line


def test_every_parameter_group_is_scaled(tmp_path, monkeypatch):
    def two_groups(params):
        params = list(params)
        return torch.optim.SGD([{"params": params[:1], "lr": 0.01}, {"params": params[1:]}], lr=0.1)

    trainer = _trainer(tmp_path, 3, monkeypatch, optimizer_factory=two_groups)
    assert [g["lr"] for g in trainer.optimizer.param_groups] == [pytest.approx(0.03), pytest.approx(0.3)]


def test_scale_must_be_positive():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="positive"):
        scale_learning_rates(optimizer, 0)
