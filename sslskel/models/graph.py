"""Skeleton adjacency matrices for the graph encoders (ST-GCN, CTR-GCN).

Convention used everywhere in sslskel: `A[k, i, j]` is the weight with which joint i
RECEIVES the feature of joint j in subset k, so a graph convolution is
`einsum("kij,nkctj->ncti", A, x)` (row = receiving joint). The authors' ST-GCN code stores
the transpose (`A[k, j, i]`); CTR-GCN stores the same orientation as here.

Directions come from BFS hop distances to `layout.graph_center` over `layout.edges`:
an edge (a, b) is "inward" from the joint farther from the centre to the closer one.
For NTU25 and UCLA20 this reproduces the authors' hand-written inward lists (the bone
table, child -> parent).

- `stgcn_spatial_partition`: ST-GCN's 3 subsets (root/self, centripetal, centrifugal) of
  the neighbourhood {j : hop(i, j) <= 1}, normalised by the size of the neighbourhood of the
  receiving joint, so the 3 subsets together average over it (rows sum to 1).
  The authors' code compared distances to the centre with a hop matrix capped at 1 hop
  (joints >= 2 hops away all read "inf"), which puts almost every edge far from the centre
  into the centripetal subset (mmskeleton issue #367). The default is the paper's
  partition (true distances); `authors_hop_cap=True` reproduces the code.
- `ctrgcn_subsets`: CTR-GCN's (I, inward, outward), inward/outward each normalised as the
  authors' `normalize_digraph`: every column divided by its sum, i.e. by the number of
  joints the SENDING joint feeds (outward: a parent with 3 children gives each 1/3).

Example:
    >>> from sslskel.data.layouts import NTU25
    >>> stgcn_spatial_partition(NTU25).shape, ctrgcn_subsets(NTU25).shape
    ((3, 25, 25), (3, 25, 25))
    >>> bool(np.allclose(stgcn_spatial_partition(NTU25).sum(axis=(0, 2)), 1.0))
    True
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..data.layouts import SkeletonLayout


def hop_distances_to(layout: SkeletonLayout, source: int) -> np.ndarray:
    """BFS hop distance of every joint to `source` over the undirected edges (inf if cut off)."""
    num_joints = layout.num_joints
    neighbours: list[list[int]] = [[] for _ in range(num_joints)]
    for a, b in layout.edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    distance = np.full(num_joints, np.inf)
    distance[source] = 0
    queue = deque([source])
    while queue:
        joint = queue.popleft()
        for other in neighbours[joint]:
            if distance[other] == np.inf:
                distance[other] = distance[joint] + 1
                queue.append(other)
    return distance


def self_links(layout: SkeletonLayout) -> np.ndarray:
    return np.eye(layout.num_joints, dtype=np.float32)


def inward_links(layout: SkeletonLayout) -> np.ndarray:
    """A[i, j] = 1 where j sends to its neighbour i which is closer to the graph centre."""
    distance = hop_distances_to(layout, layout.graph_center)
    links = np.zeros((layout.num_joints, layout.num_joints), dtype=np.float32)
    for a, b in layout.edges:
        far, near = (a, b) if distance[a] > distance[b] else (b, a)
        links[near, far] = 1.0
    return links


def outward_links(layout: SkeletonLayout) -> np.ndarray:
    """A[i, j] = 1 where j sends to its neighbour i which is farther from the graph centre."""
    return inward_links(layout).T.copy()


def normalize_columns(links: np.ndarray) -> np.ndarray:
    """Divide each column by its sum (empty columns stay zero): the authors' normalize_digraph."""
    column_sums = links.sum(axis=0, keepdims=True)
    scale = np.divide(1.0, column_sums, out=np.zeros_like(column_sums), where=column_sums > 0)
    return (links * scale).astype(np.float32)


def ctrgcn_subsets(layout: SkeletonLayout) -> np.ndarray:
    """(3, V, V): identity, normalised inward, normalised outward."""
    return np.stack([
        self_links(layout),
        normalize_columns(inward_links(layout)),
        normalize_columns(outward_links(layout)),
    ]).astype(np.float32)


def _distances_to_centre(layout: SkeletonLayout, authors_hop_cap: bool) -> np.ndarray:
    distance = hop_distances_to(layout, layout.graph_center)
    if authors_hop_cap:
        # the authors' hop matrix only knew distances 0 and 1; everything else was inf
        distance = np.where(distance <= 1, distance, np.inf)
    return distance


def stgcn_spatial_partition(layout: SkeletonLayout, authors_hop_cap: bool = False) -> np.ndarray:
    """(3, V, V): ST-GCN spatial configuration partition (root, centripetal, centrifugal)."""
    neighbourhood = self_links(layout) + inward_links(layout) + outward_links(layout)
    # mean over the receiving joint's neighbourhood (self included)
    normalised = neighbourhood / neighbourhood.sum(axis=1, keepdims=True)
    distance = _distances_to_centre(layout, authors_hop_cap)
    receiver_distance = distance[:, None]
    sender_distance = distance[None, :]
    is_self = np.eye(layout.num_joints, dtype=bool)
    is_neighbour = (neighbourhood > 0) & ~is_self
    # a neighbour as far from the centre as the receiver goes with the centripetal subset, as
    # in the authors' code (A[1] = a_root + a_close); it cannot happen on a tree with true
    # distances
    centripetal = is_neighbour & (sender_distance >= receiver_distance)
    centrifugal = is_neighbour & (sender_distance < receiver_distance)
    return np.stack([
        np.where(is_self, normalised, 0.0),
        np.where(centripetal, normalised, 0.0),
        np.where(centrifugal, normalised, 0.0),
    ]).astype(np.float32)
