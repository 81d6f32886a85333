"""A rank of the torch.distributed test: started by torch.multiprocessing.spawn (importable by name)."""

import json

from streams import finite_streams

LENGTHS = [5, 9, 1, 7, 3, 8, 2, 6, 4]


def make_mux():
    from muxlab import Mux

    return Mux(finite_streams(LENGTHS), k=4, lam=None, mode="exhaustive", random_state=11)


def run_rank(rank, world_size, port, out_dir):
    import torch.distributed as dist
    import torch.utils.data

    from muxlab.torch import MuxIterableDataset

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        ds = MuxIterableDataset(make_mux())  # rank and world_size from torch.distributed
        assert (ds.rank, ds.world_size) == (rank, world_size)
        # fork, as DataLoader does by default on Linux (a spawned rank would otherwise spawn its workers)
        loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context="fork")
        items = [[int(v) for v in item] for item in loader]
        gathered = [None] * world_size
        dist.all_gather_object(gathered, items)
        if rank == 0:
            with open(f"{out_dir}/items.json", "w") as f:
                json.dump(gathered, f)
    finally:
        dist.destroy_process_group()
