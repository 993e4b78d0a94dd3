"""The data-parallel rules that need no process group: launcher environment, shards, batch sizes."""

from __future__ import annotations

import pytest
import torch

from robnas import distributed
from robnas.data import Augment
from robnas.data.batches import count_batches, iterate_batches
from robnas.data.split import Split
from robnas.distributed import World
from robnas.errors import InvalidValueError
from robnas.rng import make_generator
from robnas.store.run_dir import RunDir

TORCHRUN_ENV = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


def _split(n: int) -> Split:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    return Split(images, torch.arange(n))


def test_the_launcher_environment_is_read_and_checked():
    assert distributed.launched({}) == World()
    assert distributed.launched(TORCHRUN_ENV) == World(rank=1, size=2, local_rank=1)
    with pytest.raises(InvalidValueError, match="MASTER_ADDR, MASTER_PORT are not; launch robnas with torchrun"):
        distributed.launched({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"})
    with pytest.raises(InvalidValueError, match="do not describe a process group"):
        distributed.launched({**TORCHRUN_ENV, "RANK": "2"})
    with pytest.raises(InvalidValueError, match="ROBNAS_DIST_TIMEOUT"):
        distributed.timeout_seconds({"ROBNAS_DIST_TIMEOUT": "soon"})
    with pytest.raises(InvalidValueError, match="ROBNAS_BATCH_NORM='sync'"):
        distributed.batch_norm_mode({"ROBNAS_BATCH_NORM": "sync"})


def test_a_batch_the_world_does_not_divide_is_one_line_with_the_fix():
    distributed.check_batch_size(64, "train.batch_size", World(0, 4))
    with pytest.raises(InvalidValueError, match=r"train.batch_size=66 is the global batch and must be a multiple "
                                                r"of the 4 processes; use 64 or 68"):
        distributed.check_batch_size(66, "train.batch_size", World(0, 4))


@pytest.mark.parametrize("augment", [None, Augment(crop_padding=1, flip=True)])
def test_ranks_split_every_global_batch_without_duplicates(augment):
    split, batch, world = _split(23), 8, 3  # batches of 8, 8, 7: shards 2/3/3 and 2/2/3
    whole = list(iterate_batches(split, batch, shuffle=True, generator=make_generator(5), augment=augment))
    shards = [list(iterate_batches(split, batch, shuffle=True, generator=make_generator(5), augment=augment,
                                   world=World(rank, world))) for rank in range(world)]
    assert count_batches(len(split), batch, World(0, world)) == len(whole) == 3
    for step, (x, y) in enumerate(whole):
        # Rank order reassembles the single-process batch: same points, same augmentation.
        assert torch.equal(torch.cat([s[step][1] for s in shards]), y)
        assert torch.equal(torch.cat([s[step][0] for s in shards]), x)
    seen = torch.cat([y for s in shards for _, y in s])
    assert sorted(seen.tolist()) == list(range(23))


def test_a_last_batch_smaller_than_the_world_is_skipped():
    split = _split(17)  # 2 batches of 8 and one point
    assert count_batches(17, 8, World(0, 2)) == 2 and count_batches(17, 8) == 3
    assert [len(y) for _, y in iterate_batches(split, 8, world=World(1, 2))] == [4, 4]


def test_a_command_that_is_not_data_parallel_refuses_torchrun(monkeypatch, tmp_path):
    for key, value in TORCHRUN_ENV.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(InvalidValueError, match="does not run data-parallel"):
        RunDir.create(tmp_path, "x", "eval")
    assert not (tmp_path / "x").exists()
