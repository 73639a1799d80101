"""The one in-memory form every reader returns.

`SkeletonData` holds a (N, C, T, V, M) float32 array (a numpy memory map for big files:
nothing is read until a sample is asked for), per-sample valid lengths, labels, sample
names and per-sample metadata. A split is a `SkeletonData` with an index into the same
array, so taking the training half of a 7 GB file copies nothing.

Example:
    >>> import numpy as np
    >>> d = SkeletonData(np.zeros((4, 3, 10, 25, 2), np.float32), np.full(4, 10), np.arange(4),
    ...                  [f"S001C00{c}P001R001A001" for c in (1, 2, 3, 1)], source="demo")
    >>> d = d.with_ntu_meta()
    >>> d.meta["camera"].tolist()
    [1, 2, 3, 1]
    >>> len(d.subset(d.meta["camera"] == 1))
    2
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass, field, replace

import numpy as np

from .errors import DataFormatError

META_FIELDS = ("setup", "camera", "subject", "replication", "action")
# Pages of a memory map that were read stay mapped, and count in RSS, until released:
# after this many bytes are read, the process drops them (they stay in the page cache).
RELEASE_EVERY_BYTES = 64 * 2**20


def find_mmap(array: np.ndarray) -> mmap.mmap | None:
    """The mmap under a numpy memmap or any view of one (a transpose, a reshape)."""
    node = array
    while node is not None:
        if isinstance(node, mmap.mmap):
            return node
        node = getattr(node, "_mmap", None) or getattr(node, "base", None)
    return None


def release_mapped_pages(array: np.ndarray) -> bool:
    """Drop the process's mapping of pages already read (MADV_DONTNEED); True if done."""
    mapped = find_mmap(array)
    if mapped is None or not hasattr(mmap, "MADV_DONTNEED"):
        return False
    mapped.madvise(mmap.MADV_DONTNEED)
    return True
_NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


def parse_ntu_name(name: str) -> dict[str, int] | None:
    """`S001C002P003R002A013` -> {'setup': 1, 'camera': 2, ...}; None if not of that form."""
    m = _NTU_NAME.search(name)
    if m is None:
        return None
    return dict(zip(META_FIELDS, map(int, m.groups())))


def ntu_meta_from_names(names: list[str]) -> dict[str, np.ndarray]:
    """Metadata arrays parsed from NTU-style names; -1 where a name has no such code."""
    meta = {key: np.full(len(names), -1, dtype=np.int64) for key in META_FIELDS}
    for i, name in enumerate(names):
        parsed = parse_ntu_name(name)
        if parsed:
            for key, value in parsed.items():
                meta[key][i] = value
    return meta


@dataclass
class SkeletonData:
    data: np.ndarray  # (N_total, C, T, V, M) float32, possibly a np.memmap
    num_frames: np.ndarray  # (N,) valid frames per sample
    labels: np.ndarray  # (N,) 0-based class ids
    names: list[str]
    meta: dict[str, np.ndarray] = field(default_factory=dict)  # each (N,), -1 = unknown
    layout: str = "ntu25"
    source: str = ""  # file or directory the data came from, for error messages
    index: np.ndarray | None = None  # rows of `data` this view exposes; None = all
    num_classes: int | None = None  # kept across subsets so a split missing a class still knows the total
    file_format: str = ""  # the reader that made it (sslskel.data.readers.FILE_FORMATS)
    normalization: str = "none"  # what `sslskel.data.normalize` applied (prenorm, center, none)
    # per-sample normalisation of memory-mapped data, applied by `sample` (None: nothing to do)
    sample_normalizer: object = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        self.num_frames = np.asarray(self.num_frames, dtype=np.int64)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.names = list(self.names)
        if self.num_classes is None and len(self.labels):
            self.num_classes = int(self.labels.max()) + 1
        self.validate()

    # -- checks ---------------------------------------------------------------------------
    def validate(self) -> None:
        if self.data.ndim != 5:
            raise DataFormatError(self.source, "data", "a 5-D array (N, C, T, V, M)",
                                  f"shape {tuple(self.data.shape)}")
        n = self.data.shape[0] if self.index is None else len(self.index)
        for name, values in (("num_frames", self.num_frames), ("labels", self.labels),
                             ("names", self.names), *self.meta.items()):
            if len(values) != n:
                raise DataFormatError(self.source, name, f"{n} entries to match the data",
                                      f"{len(values)}")
        t = self.data.shape[2]
        for name, bad, expected in (("labels", self.labels < 0, "0-based class ids >= 0"),
                                    ("num_frames", (self.num_frames < 1) | (self.num_frames > t),
                                     f"values in [1, {t}]")):
            if bad.any():
                i = int(np.argmax(bad))
                values = getattr(self, name)
                raise DataFormatError(self.source, f"{name}[{i}] ({self.names[i]})", expected, str(int(values[i])))

    # -- access ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.labels)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(C, T, V, M) of one sample."""
        return tuple(self.data.shape[1:])

    def row(self, i: int) -> int:
        return int(self.index[i]) if self.index is not None else int(i)

    def sample(self, i: int) -> np.ndarray:
        """Sample i as a float32 (C, T, V, M) copy; raises if it holds NaN or inf."""
        x = np.array(self.data[self.row(i)], dtype=np.float32)
        if self.sample_normalizer is not None:
            x = self.sample_normalizer(x, int(self.num_frames[i]))
        self._bytes_read = getattr(self, "_bytes_read", 0) + x.nbytes
        if self._bytes_read >= RELEASE_EVERY_BYTES:
            release_mapped_pages(self.data)
            self._bytes_read = 0
        if not np.isfinite(x).all():
            bad = np.argwhere(~np.isfinite(x))[0]
            raise DataFormatError(self.source, f"sample {self.row(i)} ({self.names[i]})",
                                  "finite coordinates",
                                  f"{x[tuple(bad)]} at (C, T, V, M) = {tuple(int(b) for b in bad)}")
        return x

    def subset(self, selection) -> SkeletonData:
        """A view on some samples: `selection` is a boolean mask or integer indices."""
        idx = np.arange(len(self))[np.asarray(selection)]
        rows = idx if self.index is None else self.index[idx]
        return replace(
            self,
            num_frames=self.num_frames[idx],
            labels=self.labels[idx],
            names=[self.names[i] for i in idx],
            meta={k: v[idx] for k, v in self.meta.items()},
            index=rows,
            num_classes=self.num_classes,
        )

    def with_ntu_meta(self) -> SkeletonData:
        """Fill setup / camera / subject / replication / action from NTU-style names."""
        parsed = ntu_meta_from_names(self.names)
        return replace(self, meta={**parsed, **self.meta}, index=self.index)

    def require_nonempty(self, split: str) -> SkeletonData:
        if len(self) == 0:
            raise DataFormatError(self.source, f"split {split!r}", "at least one sample", "0")
        return self
