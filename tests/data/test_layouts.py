import pytest

from sslskel.data.layouts import NTU25, UCLA20, get_layout


@pytest.mark.parametrize("layout", [NTU25, UCLA20])
def test_layout_tables_are_consistent(layout):
    assert len(layout.bones) == layout.num_joints
    assert sorted(v for v, _ in layout.bones) == list(range(layout.num_joints))  # one bone per joint
    assert sum(v == p for v, p in layout.bones) == 1  # exactly one zero (self-loop) bone
    perm = layout.flip_permutation()
    assert sorted(perm) == list(range(layout.num_joints))
    assert [perm[p] for p in perm] == list(range(layout.num_joints))  # a flip is an involution
    for a, b in layout.left_right:
        assert layout.joint_names[a].replace("left", "right") == layout.joint_names[b]
    # the skeleton is a tree: V - 1 edges, all joints connected
    edges = layout.edges
    assert len(edges) == layout.num_joints - 1
    seen, frontier = {0}, [0]
    while frontier:
        j = frontier.pop()
        for a, b in edges:
            for u, w in ((a, b), (b, a)):
                if u == j and w not in seen:
                    seen.add(w)
                    frontier.append(w)
    assert seen == set(range(layout.num_joints))


def test_ntu_bones_from_methods_md():
    # 1-based (2, 21) spine mid -> spine shoulder; (21, 21) the self-loop; (25, 12) thumb -> hand
    assert NTU25.bones[1] == (1, 20) and NTU25.bones[20] == (20, 20) and NTU25.bones[24] == (24, 11)
    assert NTU25.joint_names[NTU25.graph_center] == "spine_shoulder"


def test_unknown_layout_lists_valid_ones():
    with pytest.raises(KeyError, match="valid: \\['ntu25', 'ucla20'\\]"):
        get_layout("coco17")
