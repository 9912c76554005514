"""Run a test's worker function in several Gloo processes on this machine (no torchrun).

`run_in_gloo_ranks(worker, *args)` spawns the processes, joins a process group on a free
local port, calls `worker(rank, *args)` in each and leaves the group afterwards. The worker
must be a module-level function (the spawned processes import it by name). A worker may run a
training recipe, which uses the group it finds and leaves it when done.
"""

import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_in_gloo_ranks(worker, *args, world_size: int = 2) -> None:
    mp.spawn(_rank_main, args=(world_size, free_port(), worker, args), nprocs=world_size, join=True)


def _rank_main(rank, world_size, port, worker, args):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        worker(rank, *args)
    finally:
        if dist.is_initialized():  # a recipe's run leaves the group itself when it ends
            dist.destroy_process_group()
