"""Torch datasets over `SkeletonData`, reproducible to the sample.

Augmentation randomness comes from a numpy Generator seeded by (seed, epoch, sample index),
and the epoch's order from one seeded by (seed, epoch). A run therefore sees the same
batches whatever the number of DataLoader workers, and a resumed run continues with exactly
the batches the uninterrupted one would have had.

Example:
    >>> import numpy as np
    >>> from sslskel.data.container import SkeletonData
    >>> from sslskel.data.transforms import CenterCrop
    >>> data = SkeletonData(np.ones((3, 3, 20, 25, 2), np.float32), [20, 12, 7], [0, 1, 1], ["a", "b", "c"])
    >>> ds = SkeletonDataset(data, CenterCrop(ratio=0.95, out_frames=16), num_views=2)
    >>> item = ds[1]
    >>> item["views"][0].shape, int(item["lengths"][1]), int(item["label"])
    (torch.Size([3, 16, 25, 2]), 16, 1)
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from .container import SkeletonData


class SkeletonDataset(Dataset):
    """`num_views` independently augmented views of each sample, plus label and index."""

    def __init__(self, data: SkeletonData, transform, num_views: int = 1, seed: int = 0):
        self.data = data
        self.transform = transform
        self.num_views = num_views
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict:
        x = self.data.sample(i)
        n = int(self.data.num_frames[i])
        rng = np.random.default_rng([self.seed, self.epoch, int(i)])
        views, lengths = [], []
        for _ in range(self.num_views):
            v, length = self.transform(x, n, rng)
            views.append(torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)))
            lengths.append(length)
        return {
            "views": views,
            "lengths": torch.tensor(lengths, dtype=torch.long),
            "label": int(self.data.labels[i]),
            "index": int(i),
        }


class EpochPermutationSampler(Sampler[int]):
    """Shuffles with a generator seeded by (seed, epoch): the order depends on nothing else."""

    def __init__(self, num_samples: int, seed: int = 0, shuffle: bool = True):
        self.num_samples = num_samples
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.num_samples))
        order = np.random.default_rng([self.seed, self.epoch, 7919]).permutation(self.num_samples)
        return iter(order.tolist())

    def __len__(self) -> int:
        return self.num_samples


def make_loader(dataset: SkeletonDataset, batch_size: int, *, shuffle: bool, seed: int = 0,
                num_workers: int = 0, drop_last: bool = False, device: torch.device | None = None):
    sampler = EpochPermutationSampler(len(dataset), seed=seed, shuffle=shuffle)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
        drop_last=drop_last, pin_memory=device is not None and device.type == "cuda",
        persistent_workers=False,  # workers must see each epoch's set_epoch
    )


def set_loader_epoch(loader, epoch: int) -> None:
    loader.sampler.set_epoch(epoch)
    loader.dataset.set_epoch(epoch)
