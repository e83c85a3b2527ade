"""The SMPL kinematic tree: official joint order, a valid tree, and the one the body model is built on."""
import smplx.joint_names

from hmr_ros.smpl.body_model import load_body_model
from hmr_ros.smpl.kinematic_tree import NUM_JOINTS, SMPL_JOINT_NAMES, SMPL_PARENTS


def test_joint_names_follow_the_official_smpl_order():
    assert len(SMPL_JOINT_NAMES) == len(set(SMPL_JOINT_NAMES)) == NUM_JOINTS == 24
    # SMPL-X lists SMPL's 22 body joints first, in SMPL's order; SMPL then adds one joint per hand.
    assert SMPL_JOINT_NAMES[:22] == tuple(smplx.joint_names.JOINT_NAMES[:22])
    assert SMPL_JOINT_NAMES[22:] == ("left_hand", "right_hand")


def test_parents_form_a_tree_rooted_at_the_pelvis_with_parents_first():
    assert len(SMPL_PARENTS) == NUM_JOINTS
    assert SMPL_PARENTS[0] == -1
    assert all(0 <= p < j for j, p in enumerate(SMPL_PARENTS) if j > 0)


def test_left_and_right_limbs_mirror_each_other():
    for j, name in enumerate(SMPL_JOINT_NAMES):
        if not name.startswith("left_"):
            continue
        mirror = SMPL_JOINT_NAMES.index(name.replace("left_", "right_"))
        parent, mirror_parent = SMPL_JOINT_NAMES[SMPL_PARENTS[j]], SMPL_JOINT_NAMES[SMPL_PARENTS[mirror]]
        assert mirror_parent == parent.replace("left_", "right_")


def test_named_bones_hang_where_the_anatomy_says():
    parent = {SMPL_JOINT_NAMES[j]: SMPL_JOINT_NAMES[p] for j, p in enumerate(SMPL_PARENTS) if p >= 0}
    assert parent["head"] == "neck" and parent["neck"] == "spine3"
    assert parent["left_wrist"] == "left_elbow" and parent["left_elbow"] == "left_shoulder"
    assert parent["left_ankle"] == "left_knee" and parent["left_knee"] == "left_hip"
    assert parent["left_hip"] == parent["right_hip"] == parent["spine1"] == "pelvis"


def test_the_procedural_body_model_is_built_on_this_tree():
    assert tuple(load_body_model("procedural").parents.tolist()) == SMPL_PARENTS
