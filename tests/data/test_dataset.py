import numpy as np
import torch

from sslskel.data.container import SkeletonData
from sslskel.data.dataset import EpochPermutationSampler, SkeletonDataset, make_loader, set_loader_epoch
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
