"""DistributedDataParallel on CPU (gloo) with 2 processes, as ``torchrun`` would start them."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _worker(rank: int, world: int, port: int, store: str, out: str) -> None:
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    from satsr.train import TrainConfig, train
    from tests.train.conftest import TINY, register_tiny

    register_tiny()

    try:
        res = train(TrainConfig(model=TINY, dataset=store, steps=4, patch=6, batch=2,
                                val_every=2, out=out, progress=False))
        # every rank holds the same (all-reduced) weights; rank 1 reports its own copy
        if rank == 0:
            assert res.steps == 4 and res.best_path.exists()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_gloo(tiny_store: Path, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(_worker, args=(2, port, str(tiny_store), str(tmp_path / "run")),
                       nprocs=2, join=True, start_method="spawn")
    assert (tmp_path / "run" / "best.safetensors").exists()
    assert (tmp_path / "run" / "state.json").exists()
