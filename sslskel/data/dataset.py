"""Torch datasets over `SkeletonData`, reproducible to the sample.

Augmentation randomness comes from a numpy Generator seeded by (seed, epoch, sample index),
and the epoch's order from one seeded by (seed, epoch). A run therefore sees the same
batches whatever the number of DataLoader workers, and a resumed run continues with exactly
the batches the uninterrupted one would have had. Loaders yield `sslskel.data.batch.Batch`.

With `partners=True` every item also carries the views of the same performance seen by
another camera (`sslskel.data.pairs`): one partner drawn per (seed, epoch, index), augmented
with its own generator, so asking for partners leaves the sample's own views unchanged.
`shared_crop=(low, high)` (CV-MIM) makes the pair show the same moment: one window per item,
a fraction U(low, high) of the clip starting at a uniform fraction of the rest, is cut from
the sample and from its partner alike (by fraction, as the cameras' recordings may differ in
length) before the transform, which should then be temporal-only (e.g. `eval_crop`, ratio 1).

Example:
    >>> import numpy as np
    >>> from sslskel.data.container import SkeletonData
    >>> from sslskel.data.transforms import CenterCrop
    >>> data = SkeletonData(np.ones((3, 3, 20, 25, 2), np.float32), [20, 12, 7], [0, 1, 1], ["a", "b", "c"])
    >>> ds = SkeletonDataset(data, CenterCrop(ratio=0.95, out_frames=16), num_views=2)
    >>> item = ds[1]
    >>> item["views"][0].shape, int(item["lengths"][1]), int(item["label"]), item["meta"]["camera"]
    (torch.Size([3, 16, 25, 2]), 16, 1, -1)
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from .. import distributed as dist
from .batch import collate
from .container import META_FIELDS, SkeletonData
from .pairs import cross_view_partners, performance_ids


class SkeletonDataset(Dataset):
    """`num_views` independently augmented views of each sample, plus label, index, metadata
    and, with `partners`, the views of a cross-view partner."""

    def __init__(self, data: SkeletonData, transform, num_views: int = 1, seed: int = 0,
                 partners: bool = False, shared_crop: tuple[float, float] | None = None, repeat: int = 1):
        if repeat < 1:
            raise ValueError(f"repeat: expected an integer >= 1, got {repeat}")
        # an epoch passes the list `repeat` times, each pass with its own augmentations (the
        # CTR-GCN NW-UCLA feeder's repeat: 5); items keep the sample's own index
        self.repeat = int(repeat)
        self.data = data
        self.transform = transform
        self.num_views = num_views
        self.seed = seed
        self.epoch = 0
        n = len(data)
        self.meta = {key: np.asarray(data.meta[key], np.int64) if key in data.meta
                     else np.full(n, -1, np.int64) for key in META_FIELDS}
        self.meta["performance"] = performance_ids(data.meta, n)
        self.partners = cross_view_partners(data.meta, n) if partners else None
        if shared_crop is not None and not 0.0 < shared_crop[0] <= shared_crop[1] <= 1.0:
            raise ValueError(f"shared_crop: expected 0 < low <= high <= 1, got {shared_crop}")
        self.shared_crop = shared_crop

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.data) * self.repeat

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, int(i)])
        i = int(i) % len(self.data)
        window = self._window(i)
        views, lengths = self._views(i, rng, window)
        item = {"views": views, "lengths": lengths, "label": int(self.data.labels[i]), "index": int(i),
                "meta": {key: int(values[i]) for key, values in self.meta.items()}}
        if self.partners is not None:
            candidates = self.partners[i]
            # separate streams (the trailing 1 and 2), so the sample's own views stay as they were
            pick_rng = np.random.default_rng([self.seed, self.epoch, int(i), 1])
            j = int(pick_rng.choice(candidates)) if len(candidates) else int(i)
            item["partner_views"], item["partner_lengths"] = self._views(
                j, np.random.default_rng([self.seed, self.epoch, int(i), 2]), window)
            item["has_partner"] = bool(len(candidates))
        return item

    def _window(self, i: int) -> tuple[float, float] | None:
        """(start, length) as fractions of a clip: the item's shared crop, or None."""
        if self.shared_crop is None:
            return None
        u = np.random.default_rng([self.seed, self.epoch, int(i), 3]).uniform(size=2)
        length = self.shared_crop[0] + (self.shared_crop[1] - self.shared_crop[0]) * u[0]
        return (1.0 - length) * u[1], length

    def _views(self, i: int, rng: np.random.Generator,
               window: tuple[float, float] | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        x = self.data.sample(i)
        n = int(self.data.num_frames[i])
        if window is not None and n > 0:  # the same fraction of every camera's recording
            start = min(int(np.floor(window[0] * n)), n - 1)
            length = max(1, min(int(round(window[1] * n)), n - start))
            x, n = x[:, start:start + length], length
        views, lengths = [], []
        for _ in range(self.num_views):
            v, length = self.transform(x, n, rng)
            views.append(torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)))
            lengths.append(length)
        return views, torch.tensor(lengths, dtype=torch.long)


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


class DistributedEpochSampler(DistributedSampler):
    """A process's share of `EpochPermutationSampler`'s order under torchrun: global batch s is
    positions [s * B, (s + 1) * B) of the permutation, and process r takes its r-th block of
    B / N consecutive samples, so the batch gathered in rank order is the one a single process
    would train on (torch's DistributedSampler deals samples out round-robin instead).
    `drop_last=True`: only whole global batches. Otherwise the last, partial one is padded
    with the epoch's first samples (as DistributedSampler pads) to a multiple of the process
    count and split evenly, so every process takes the same number of equal-sized steps."""

    def __init__(self, num_samples: int, global_batch: int, *, num_replicas: int, rank: int,
                 seed: int = 0, shuffle: bool = True, drop_last: bool = True):
        if global_batch % num_replicas:
            raise ValueError(f"global batch {global_batch} does not split over {num_replicas} processes")
        self.order = EpochPermutationSampler(num_samples, seed=seed, shuffle=shuffle)
        self.global_batch, self.local_batch = global_batch, global_batch // num_replicas
        self.num_replicas, self.rank, self.seed, self.shuffle, self.epoch = num_replicas, rank, seed, shuffle, 0
        self.drop_last = drop_last
        self.full_batches, tail = divmod(num_samples, global_batch)
        self.tail = 0 if drop_last else -(-tail // num_replicas)  # this process's share of the last batch
        self.num_samples = self.full_batches * self.local_batch + self.tail
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.order.set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        order = list(self.order)
        mine = []
        for s in range(self.full_batches):
            base = s * self.global_batch + self.rank * self.local_batch
            mine.extend(order[base:base + self.local_batch])
        if self.tail:
            rest = order[self.full_batches * self.global_batch:]
            rest += [order[i % len(order)] for i in range(self.tail * self.num_replicas - len(rest))]
            mine.extend(rest[self.rank * self.tail:(self.rank + 1) * self.tail])
        return iter(mine)

    def __len__(self) -> int:
        return self.num_samples


def make_loader(dataset: SkeletonDataset, batch_size: int, *, shuffle: bool, seed: int = 0,
                num_workers: int = 0, drop_last: bool = False, device: torch.device | None = None,
                distributed: bool = False):
    """A loader in the order of `EpochPermutationSampler`. `distributed=True` (training under
    torchrun): `batch_size` is the global batch and this process loads its share of each."""
    if distributed and dist.world_size() > 1:
        sampler = DistributedEpochSampler(len(dataset), batch_size, num_replicas=dist.world_size(),
                                          rank=dist.rank(), seed=seed, shuffle=shuffle, drop_last=drop_last)
        batch_size = sampler.local_batch
    else:
        sampler = EpochPermutationSampler(len(dataset), seed=seed, shuffle=shuffle)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
        drop_last=drop_last, pin_memory=device is not None and device.type == "cuda", collate_fn=collate,
        persistent_workers=False,  # workers must see each epoch's set_epoch
    )


def set_loader_epoch(loader, epoch: int) -> None:
    loader.sampler.set_epoch(epoch)
    loader.dataset.set_epoch(epoch)
