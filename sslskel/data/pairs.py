"""Which samples are the same performance, and which other cameras saw it.

A performance is one take of one action by one subject: the same (setup, subject, replication,
action) codes, whatever the camera (NTU and the synthetic set: S, P, R, A; NW-UCLA: a, s, e,
its view being the camera). Samples whose subject, replication or action is unknown (-1, e.g.
array files without names) are each a performance of their own, so they never get a partner.

Example:
    >>> import numpy as np
    >>> meta = {"setup": np.array([1, 1, 1, 1]), "camera": np.array([1, 2, 3, 1]),
    ...         "subject": np.array([5, 5, 5, 6]), "replication": np.array([1, 1, 1, 1]),
    ...         "action": np.array([9, 9, 9, 9])}
    >>> performance_ids(meta, 4).tolist()
    [0, 0, 0, 1]
    >>> [p.tolist() for p in cross_view_partners(meta, 4)]
    [[1, 2], [0, 2], [0, 1], []]
"""

from __future__ import annotations

import numpy as np

PERFORMANCE_FIELDS = ("setup", "subject", "replication", "action")


def _field(meta: dict, key: str, n: int) -> np.ndarray:
    return np.asarray(meta[key], np.int64) if key in meta else np.full(n, -1, np.int64)


def performance_ids(meta: dict[str, np.ndarray], n: int) -> np.ndarray:
    """(n,) int64 ids, equal exactly for samples of the same performance; numbered from 0 in
    order of first appearance."""
    keys = np.stack([_field(meta, key, n) for key in PERFORMANCE_FIELDS], axis=1)
    unknown = (keys[:, 1:] < 0).any(axis=1)  # setup may be unknown (NW-UCLA has none)
    # unknown samples get a key of their own: their row number in a column no known key uses
    keys = np.concatenate([keys, np.where(unknown, np.arange(n), -1)[:, None]], axis=1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def cross_view_partners(meta: dict[str, np.ndarray], n: int) -> list[np.ndarray]:
    """For every sample, the (sorted) indices of its performance seen by another camera.

    A sample of unknown camera (-1) has none; neither does a performance seen by one camera.
    """
    ids = performance_ids(meta, n)
    camera = _field(meta, "camera", n)
    order = np.argsort(ids, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(ids[order])) + 1)
    partners: list[np.ndarray] = [np.zeros(0, np.int64)] * n
    for group in groups:
        if len(group) < 2:
            continue
        for i in group:
            if camera[i] >= 0:
                others = group[(camera[group] != camera[i]) & (camera[group] >= 0)]
                partners[i] = np.sort(others)
    return partners
