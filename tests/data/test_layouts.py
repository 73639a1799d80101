import pytest

from sslskel.data.layouts import LAYOUTS, MSR20, NTU25, UCLA20, UTD20, get_layout

ALL_LAYOUTS = [NTU25, UCLA20, UTD20, MSR20]


def _swap_side(name):
    """'left_x' <-> 'right_x'; None for a name with no side."""
    if "left" in name:
        return name.replace("left", "right")
    if "right" in name:
        return name.replace("right", "left")
    return None


def _connected(num_joints, edges):
    seen, frontier = {0}, [0]
    while frontier:
        j = frontier.pop()
        for a, b in edges:
            for u, w in ((a, b), (b, a)):
                if u == j and w not in seen:
                    seen.add(w)
                    frontier.append(w)
    return seen == set(range(num_joints))


def test_registry_holds_the_four_layouts():
    assert sorted(LAYOUTS) == ["msr20", "ntu25", "ucla20", "utd20"]
    assert [get_layout(layout.name) for layout in ALL_LAYOUTS] == ALL_LAYOUTS
    assert [layout.num_joints for layout in ALL_LAYOUTS] == [25, 20, 20, 20]


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_layout_tables_are_consistent(layout):
    v = layout.num_joints
    assert len(set(layout.joint_names)) == v  # no name twice
    assert len(layout.bones) == v
    assert sorted(c for c, _ in layout.bones) == list(range(v))  # one bone per joint
    assert all(0 <= p < v for _, p in layout.bones)
    assert sum(c == p for c, p in layout.bones) == 1  # exactly one zero (self-loop) bone
    perm = layout.flip_permutation()
    assert sorted(perm) == list(range(v))
    assert [perm[p] for p in perm] == list(range(v))  # a flip is an involution


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_bones_form_a_tree(layout):
    edges = layout.edges
    assert len(edges) == layout.num_joints - 1
    assert len({frozenset(e) for e in edges}) == len(edges)  # no edge twice
    assert _connected(layout.num_joints, edges)  # V - 1 edges, connected: a tree


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_left_right_pairs_name_matching_joints(layout):
    paired = [j for pair in layout.left_right for j in pair]
    assert len(paired) == len(set(paired))  # each joint in one pair at most
    for a, b in layout.left_right:
        name_a, name_b = layout.joint_names[a], layout.joint_names[b]
        assert {"left" in name_a, "left" in name_b} == {True, False}, (name_a, name_b)
        assert _swap_side(name_a) == name_b, (name_a, name_b)
    # every sided joint is paired, every unsided one is not
    sided = {j for j, name in enumerate(layout.joint_names) if _swap_side(name) is not None}
    assert sided == set(paired)


# (centre, graph centre, spine from -> to, shoulders right, left) by joint name
NAMED_JOINTS = {
    "ntu25": ("spine_mid", "spine_shoulder", ("spine_base", "spine_mid"), ("right_shoulder", "left_shoulder")),
    "ucla20": ("spine", "shoulder_center", ("hip_center", "spine"), ("right_shoulder", "left_shoulder")),
    "utd20": ("spine", "shoulder_center", ("hip_center", "spine"), ("right_shoulder", "left_shoulder")),
    "msr20": ("spine", "neck", ("hip_center", "spine"), ("right_shoulder", "left_shoulder")),
}


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_special_joints_point_at_the_named_joints(layout):
    names = layout.joint_names
    center, graph_center, spine, shoulders = NAMED_JOINTS[layout.name]
    assert names[layout.center] == center
    assert names[layout.graph_center] == graph_center
    assert (names[layout.spine[0]], names[layout.spine[1]]) == spine
    assert (names[layout.shoulders[0]], names[layout.shoulders[1]]) == shoulders


# the parent of each limb joint (same side), the same in every layout
LIMB_PARENT = {"elbow": "shoulder", "wrist": "elbow", "hand": "wrist", "knee": "hip", "ankle": "knee",
               "foot": "ankle"}
# trunk joints: (child, parent) bones each layout must have, by name
TRUNK_BONES = {
    "ntu25": [("spine_base", "spine_mid"), ("spine_mid", "spine_shoulder"), ("neck", "spine_shoulder"),
              ("head", "neck"), ("left_shoulder", "spine_shoulder"), ("right_shoulder", "spine_shoulder"),
              ("left_hip", "spine_base"), ("right_hip", "spine_base")],
    "ucla20": [("hip_center", "spine"), ("spine", "shoulder_center"), ("head", "shoulder_center"),
               ("left_shoulder", "shoulder_center"), ("right_shoulder", "shoulder_center"),
               ("left_hip", "hip_center"), ("right_hip", "hip_center")],
    "utd20": [("head", "shoulder_center"), ("spine", "shoulder_center"), ("hip_center", "spine"),
              ("left_shoulder", "shoulder_center"), ("right_shoulder", "shoulder_center"),
              ("left_hip", "hip_center"), ("right_hip", "hip_center")],
    "msr20": [("spine", "neck"), ("hip_center", "spine"), ("head", "neck"),
              ("left_shoulder", "neck"), ("right_shoulder", "neck"),
              ("left_hip", "hip_center"), ("right_hip", "hip_center")],
}


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_bones_join_the_named_joints(layout):
    names = layout.joint_names
    edges = {frozenset((names[a], names[b])) for a, b in layout.edges}
    for child, parent in TRUNK_BONES[layout.name]:
        assert frozenset((child, parent)) in edges, (child, parent)
    checked = 0
    for side in ("left", "right"):
        for part, parent in LIMB_PARENT.items():
            assert frozenset((f"{side}_{part}", f"{side}_{parent}")) in edges, (side, part)
            checked += 1
    assert checked == 12


def test_ntu_bones_from_methods_md():
    # 1-based (2, 21) spine mid -> spine shoulder; (21, 21) the self-loop; (25, 12) thumb -> hand
    assert NTU25.bones[1] == (1, 20) and NTU25.bones[20] == (20, 20) and NTU25.bones[24] == (24, 11)
    assert NTU25.joint_names[NTU25.graph_center] == "spine_shoulder"


def test_msr_order_from_its_readme():
    # MSR Action3D, 1-based: 1 right shoulder, 3 neck, 4 spine, 7 hip centre, 20 head
    assert MSR20.joint_names[0] == "right_shoulder" and MSR20.joint_names[2] == "neck"
    assert MSR20.joint_names[3] == "spine" and MSR20.joint_names[6] == "hip_center"
    assert MSR20.joint_names[19] == "head"
    # the Kinect SDK order (NW-UCLA) and UTD's differ from it and from each other
    assert UCLA20.joint_names[:4] == ("hip_center", "spine", "shoulder_center", "head")
    assert UTD20.joint_names[:4] == ("head", "shoulder_center", "spine", "hip_center")


def test_unknown_layout_lists_valid_ones():
    with pytest.raises(KeyError, match=r"valid: \['msr20', 'ntu25', 'ucla20', 'utd20'\]"):
        get_layout("coco17")
