import numpy as np
import pytest

from sslskel.data.layouts import NTU25, UCLA20, SkeletonLayout
from sslskel.models.graph import (
    ctrgcn_subsets,
    hop_distances_to,
    inward_links,
    normalize_columns,
    outward_links,
    stgcn_spatial_partition,
)

# 0 - 1 - 2 - 3 with the centre at joint 1 (bones are (joint, parent))
CHAIN4 = SkeletonLayout(
    name="chain4", joint_names=("a", "b", "c", "d"),
    bones=((0, 1), (1, 1), (2, 1), (3, 2)), left_right=(), center=1, graph_center=1)


def test_hop_distances_on_chain():
    np.testing.assert_array_equal(hop_distances_to(CHAIN4, 1), [1, 0, 1, 2])
    np.testing.assert_array_equal(hop_distances_to(CHAIN4, 3), [3, 2, 1, 0])


def test_inward_and_outward_on_chain():
    inward = np.zeros((4, 4), np.float32)
    inward[1, 0] = inward[1, 2] = inward[2, 3] = 1  # receiver 1 gets 0 and 2; 2 gets 3
    np.testing.assert_array_equal(inward_links(CHAIN4), inward)
    np.testing.assert_array_equal(outward_links(CHAIN4), inward.T)


def test_ctrgcn_subsets_on_chain():
    expected_out = np.zeros((4, 4), np.float32)
    # joint 1 sends to two joints (0 and 2), so each gets 1/2; joint 2 sends to 3 only
    expected_out[0, 1] = expected_out[2, 1] = 0.5
    expected_out[3, 2] = 1.0
    expected_in = np.zeros((4, 4), np.float32)
    expected_in[1, 0] = expected_in[1, 2] = expected_in[2, 3] = 1.0
    subsets = ctrgcn_subsets(CHAIN4)
    assert subsets.dtype == np.float32 and subsets.shape == (3, 4, 4)
    np.testing.assert_allclose(subsets[0], np.eye(4))
    np.testing.assert_allclose(subsets[1], expected_in)
    np.testing.assert_allclose(subsets[2], expected_out)


def test_stgcn_partition_on_chain():
    # neighbourhood sizes (self included): 2, 3, 3, 2
    root = np.diag([1 / 2, 1 / 3, 1 / 3, 1 / 2])
    centripetal = np.zeros((4, 4))
    centripetal[1, 0] = centripetal[1, 2] = 1 / 3  # from farther joints to joint 1
    centripetal[2, 3] = 1 / 3
    centrifugal = np.zeros((4, 4))
    centrifugal[0, 1] = 1 / 2
    centrifugal[2, 1] = 1 / 3
    centrifugal[3, 2] = 1 / 2
    partition = stgcn_spatial_partition(CHAIN4)
    assert partition.dtype == np.float32
    np.testing.assert_allclose(partition, np.stack([root, centripetal, centrifugal]), rtol=1e-6)


def test_normalize_columns_leaves_empty_columns_zero():
    links = np.array([[0, 1, 0], [0, 1, 0], [0, 0, 0]], np.float32)
    np.testing.assert_allclose(normalize_columns(links), [[0, .5, 0], [0, .5, 0], [0, 0, 0]])


@pytest.mark.parametrize("layout", [NTU25, UCLA20])
def test_inward_follows_the_bone_table(layout):
    expected = np.zeros((layout.num_joints,) * 2, np.float32)
    for joint, parent in layout.edges:
        expected[parent, joint] = 1
    np.testing.assert_array_equal(inward_links(layout), expected)


@pytest.mark.parametrize("layout", [NTU25, UCLA20])
def test_stgcn_partition_averages_each_neighbourhood(layout):
    partition = stgcn_spatial_partition(layout)
    np.testing.assert_allclose(partition.sum(axis=(0, 2)), 1.0, rtol=1e-6)
    # the three subsets do not overlap
    assert ((partition > 0).sum(axis=0) <= 1).all()


def authors_spatial_partition(layout):
    """Plain loop transcription of the authors' ST-GCN 'spatial' strategy (their A[j, i])."""
    v = layout.num_joints
    adjacency = np.zeros((v, v))
    for i, j in layout.edges:
        adjacency[i, j] = adjacency[j, i] = 1
    hop = np.full((v, v), np.inf)
    reach = [np.linalg.matrix_power(adjacency, d) > 0 for d in (0, 1)]
    for d in (1, 0):
        hop[reach[d]] = d
    neighbourhood = (hop <= 1).astype(float)
    degree = neighbourhood.sum(axis=0)
    normalised = neighbourhood / degree[None, :]
    c = layout.graph_center
    root, close, further = np.zeros((v, v)), np.zeros((v, v)), np.zeros((v, v))
    self_part = np.zeros((v, v))
    for i in range(v):
        for j in range(v):
            if hop[j, i] == 0:
                self_part[j, i] = normalised[j, i]
            elif hop[j, i] == 1:
                if hop[j, c] == hop[i, c]:
                    root[j, i] = normalised[j, i]
                elif hop[j, c] > hop[i, c]:
                    close[j, i] = normalised[j, i]
                else:
                    further[j, i] = normalised[j, i]
    return np.stack([self_part, root + close, further])


@pytest.mark.parametrize("layout", [NTU25, UCLA20, CHAIN4])
def test_authors_hop_cap_reproduces_the_authors_code(layout):
    expected = authors_spatial_partition(layout).transpose(0, 2, 1)  # to A[k, receiver, sender]
    np.testing.assert_allclose(stgcn_spatial_partition(layout, authors_hop_cap=True), expected,
                               rtol=1e-6)


def test_authors_hop_cap_differs_from_the_paper_partition_on_ntu():
    assert not np.allclose(stgcn_spatial_partition(NTU25, authors_hop_cap=True),
                           stgcn_spatial_partition(NTU25))
