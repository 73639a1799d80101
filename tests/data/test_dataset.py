import numpy as np
import pytest
import torch

from sslskel.data.container import SkeletonData
from sslskel.data.dataset import (
    DistributedEpochSampler,
    EpochPermutationSampler,
    SkeletonDataset,
    make_loader,
    set_loader_epoch,
)
from sslskel.data.transforms import cmd_pretrain


def data(n=10):
    rng = np.random.default_rng(0)
    return SkeletonData(rng.normal(size=(n, 3, 30, 25, 2)).astype(np.float32), np.full(n, 30),
                        np.arange(n) % 3, [f"s{i}" for i in range(n)])


def test_augmentation_depends_only_on_seed_epoch_and_index():
    ds = SkeletonDataset(data(), cmd_pretrain(frames=16, min_frames=16), num_views=2, seed=3)
    a = ds[4]
    assert not torch.equal(a["views"][0], a["views"][1])  # two independent views
    ds[7]  # other samples in between change nothing
    torch.testing.assert_close(ds[4]["views"][0], a["views"][0])
    ds.set_epoch(1)
    assert not torch.equal(ds[4]["views"][0], a["views"][0])


def test_sampler_order_is_a_function_of_seed_and_epoch():
    s = EpochPermutationSampler(20, seed=1)
    first = list(s)
    assert sorted(first) == list(range(20)) and list(s) == first
    s.set_epoch(1)
    assert list(s) != first


def test_batches_do_not_depend_on_the_number_of_workers():
    ds = SkeletonDataset(data(), cmd_pretrain(frames=16, min_frames=16), num_views=2, seed=0)
    runs = []
    for workers in (0, 2):
        loader = make_loader(ds, 4, shuffle=True, seed=0, num_workers=workers)
        set_loader_epoch(loader, 2)
        runs.append([b.views[0] for b in loader])
    for x, y in zip(*runs):
        torch.testing.assert_close(x, y)


def test_distributed_sampler_deals_each_process_its_block_of_every_global_batch():
    from sslskel.data.dataset import DistributedEpochSampler

    one = EpochPermutationSampler(21, seed=3)
    one.set_epoch(2)
    order = list(one)
    ranks = [DistributedEpochSampler(21, 8, num_replicas=2, rank=r, seed=3) for r in range(2)]
    for sampler in ranks:
        sampler.set_epoch(2)
    mine = [list(s) for s in ranks]
    assert [len(m) for m in mine] == [len(s) for s in ranks] == [8, 8]  # 2 whole global batches of 8
    for step in range(2):  # rank 0's 4 then rank 1's 4 = the one-process batch, in order
        assert mine[0][4 * step:4 * step + 4] + mine[1][4 * step:4 * step + 4] == order[8 * step:8 * step + 8]
    assert list(DistributedEpochSampler(21, 8, num_replicas=2, rank=0, seed=3)) != mine[0]  # epoch 0 differs


def test_distributed_sampler_pads_and_splits_the_last_batch_when_kept():
    mine = [list(DistributedEpochSampler(21, 8, num_replicas=2, rank=r, seed=3, drop_last=False)) for r in range(2)]
    assert [len(m) for m in mine] == [11, 11]  # 2 x 4, then the last 5 padded to 6: 3 each
    assert sorted(set(mine[0] + mine[1])) == list(range(21))
    with pytest.raises(ValueError, match="does not split"):
        DistributedEpochSampler(21, 7, num_replicas=2, rank=0)


def test_repeat_passes_the_list_several_times_with_fresh_augmentations():
    """repeat=3 (the CTR-GCN NW-UCLA feeder passes its list 5 times an epoch): 3N items, item
    i + kN is sample i (its label and index) under an augmentation of its own."""
    d = data(4)
    once = SkeletonDataset(d, cmd_pretrain(frames=16), seed=0)
    thrice = SkeletonDataset(d, cmd_pretrain(frames=16), seed=0, repeat=3)
    assert len(thrice) == 12 and len(once) == 4
    for i in range(4):
        copies = [thrice[i + 4 * k] for k in range(3)]
        assert {c["index"] for c in copies} == {i} and {c["label"] for c in copies} == {int(d.labels[i])}
        assert not torch.equal(torch.as_tensor(copies[0]["views"][0]), torch.as_tensor(copies[1]["views"][0]))
        np.testing.assert_array_equal(copies[0]["views"][0], once[i]["views"][0])  # pass 1 = no repeat
    with pytest.raises(ValueError, match="repeat: expected an integer >= 1, got 0"):
        SkeletonDataset(d, cmd_pretrain(frames=16), repeat=0)
