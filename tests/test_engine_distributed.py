"""Two Gloo processes (spawned directly, no torchrun) train a toy model for one short epoch."""

import os
import socket
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from PIL import Image
from torch import nn

from personsearch.data.records import SceneRecord
from personsearch.data.scene_dataset import SceneDataset, collate_scenes
from personsearch.engine import TrainSettings, build_trainer, load_checkpoint, prepare_run
from personsearch.engine import distributed as du


class TinyModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.head = nn.Linear(4, 2)
        self.unused = nn.Linear(4, 4)  # exercises find_unused_parameters

    def forward(self, images, targets):
        feats = torch.stack([self.conv(image[None]).mean((2, 3))[0] for image in images])
        labels = torch.stack([t["pids"][0] for t in targets])
        return {"loss_cls": F.cross_entropy(self.head(feats), labels)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, base: str, records: list) -> None:
    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    settings = TrainSettings(device="cpu", epochs=1, batch_size=1, workers=0, log_period=1, tensorboard=False,
                             progress=False, lr=0.1, warmup_epochs=0)
    device = prepare_run(settings)
    assert du.get_world_size() == world_size and du.get_rank() == rank
    model = TinyModel()
    torch.manual_seed(100 + rank)  # different local init: DDP must broadcast rank 0's weights
    with torch.no_grad():
        model.head.weight.normal_()
    trainer = build_trainer(
        settings=settings, model=model, model_kwargs={}, train_dataset=SceneDataset(records),
        collate_fn=collate_scenes, device=device, output_dir=Path(base) / f"run_of_rank{rank}", config={},
    )
    # from here each process draws its own augmentations: its generators are seeded with seed + rank
    expected = torch.rand(4, generator=torch.Generator().manual_seed(settings.seed + rank))
    draws = torch.rand(4)
    assert torch.equal(draws, expected)
    torch.save(draws, Path(base) / f"draws{rank}.pt")
    trainer.train()
    torch.save(du.unwrap_model(trainer.model).state_dict(), Path(base) / f"state{rank}.pt")
    du.cleanup_distributed()


def test_two_process_gloo_run_syncs_weights_and_only_rank0_writes(tmp_path):
    rng = np.random.default_rng(0)
    records = []
    for i in range(4):
        path = tmp_path / f"img{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(path)
        records.append(SceneRecord(name=path.name, image_path=str(path), boxes=np.array([[1, 1, 8, 8]], np.float32),
                                   pids=np.array([i % 2], np.int64)))
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), records), nprocs=2, join=True)

    state0 = torch.load(tmp_path / "state0.pt", weights_only=True)
    state1 = torch.load(tmp_path / "state1.pt", weights_only=True)
    for key in state0:
        assert torch.equal(state0[key], state1[key]), key
    assert not torch.equal(torch.load(tmp_path / "draws0.pt"), torch.load(tmp_path / "draws1.pt"))
    assert not (tmp_path / "run_of_rank1").exists()  # rank 1 writes nothing
    out = tmp_path / "run_of_rank0"
    checkpoint = load_checkpoint(out / "last.pth")
    assert checkpoint["iteration"] == 2  # 4 images / 2 processes / batch 1
    assert len(checkpoint["rng"]) == 2  # every process's generators, for exact resume
    assert all(not k.startswith("module.") for k in checkpoint["model"])
    assert (out / "metrics.csv").is_file() and (out / "curves.png").is_file()
