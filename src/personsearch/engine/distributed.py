"""Training in one process or several (torchrun): process group, device, DDP wrapping, collectives.

A run is distributed when `WORLD_SIZE` > 1 is set in the environment (torchrun
sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT). The backend is
NCCL on CUDA devices and Gloo otherwise. Only rank 0 writes files and logs.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return get_rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def resolve_device(spec: str = "auto", local_rank: int | None = None) -> torch.device:
    """`auto` -> CUDA when available else CPU; a bare `cuda` becomes this process's local GPU."""
    if local_rank is None:
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
    spec = str(spec)
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {spec!r} requested but CUDA is not available; use device=auto or cpu")
        if device.index is None:
            device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    return device


def init_distributed(device: torch.device, timeout_minutes: float = 60.0) -> bool:
    """Join the process group described by the environment; returns True when distributed."""
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    if world_size <= 1 or is_distributed():
        return is_distributed()
    missing = [name for name in ("RANK", "MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
    if missing:
        raise ValueError(f"WORLD_SIZE={world_size} but {', '.join(missing)} not set; launch with torchrun")
    dist.init_process_group(
        backend="nccl" if device.type == "cuda" else "gloo",
        rank=int(os.environ["RANK"]),
        world_size=world_size,
        timeout=datetime.timedelta(minutes=timeout_minutes),
    )
    return True


def cleanup_distributed() -> None:
    if is_distributed():
        dist.destroy_process_group()


def wrap_model(model: nn.Module, device: torch.device, find_unused_parameters: bool = True) -> nn.Module:
    """DistributedDataParallel around `model` when distributed, else `model` itself."""
    if not is_distributed():
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(
        model, device_ids=device_ids, find_unused_parameters=find_unused_parameters
    )


def unwrap_model(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def reduce_mean(values: dict[str, torch.Tensor]) -> dict[str, float]:
    """Average scalar tensors over all processes (for logging and the non-finite guard)."""
    names = sorted(values)
    stacked = torch.stack([values[name].detach().float().reshape(()) for name in names])
    if is_distributed():
        dist.all_reduce(stacked)
        stacked /= get_world_size()
    return dict(zip(names, stacked.tolist()))


def all_gather_object(obj: Any) -> list[Any]:
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out
