"""The vLLM engine's weight stream (training.rollouts.policy_weights) from FSDP2-sharded parameters: two gloo
processes shard the tiny model with `fully_shard`, and the stream must give every rank the whole tensors of
the unsharded model, under the checkpoint's names, one at a time."""

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.models import make_model
from tests.services import free_port
from training.rollouts import policy_weights

WORLD_SIZE = 2


def _rank_main(rank: int, port: int, directory: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD_SIZE)
    try:
        from torch.distributed.fsdp import fully_shard

        model = make_model(seed=3)
        for layer in model.model.layers:
            fully_shard(layer)
        fully_shard(model)
        sharded = {name: type(tensor).__name__ for name, tensor in model.state_dict().items()}
        shapes = {name: tuple(tensor.to_local().shape) for name, tensor in model.state_dict().items()}
        streamed = {}
        for name, tensor in policy_weights(model):
            assert type(tensor) is torch.Tensor, name  # gathered, not a DTensor shard
            streamed[name] = tensor.clone()
        torch.save(
            {"sharded": sharded, "local_shapes": shapes, "streamed": streamed}, Path(directory) / f"{rank}.pt"
        )
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_policy_weights_gathers_fsdp2_shards_whole(tmp_path: Path) -> None:
    mp.spawn(_rank_main, args=(free_port(), str(tmp_path)), nprocs=WORLD_SIZE, join=True)
    expected = make_model(seed=3).state_dict()
    for rank in range(WORLD_SIZE):
        result = torch.load(tmp_path / f"{rank}.pt", weights_only=False)
        assert set(result["sharded"].values()) == {"DTensor"}
        embedding = "model.embed_tokens.weight"
        assert result["local_shapes"][embedding][0] < expected[embedding].shape[0]  # really sharded
        assert list(result["streamed"]) == list(expected)
        for name, tensor in expected.items():
            torch.testing.assert_close(result["streamed"][name], tensor, rtol=0, atol=0)


def test_policy_weights_of_an_unsharded_model_are_its_state_dict() -> None:
    model = make_model(seed=1)
    streamed = list(policy_weights(model))
    assert [name for name, _ in streamed] == list(model.state_dict())
    for (_, tensor), original in zip(streamed, model.state_dict().values(), strict=True):
        assert tensor.data_ptr() == original.data_ptr()  # no copy on one device
