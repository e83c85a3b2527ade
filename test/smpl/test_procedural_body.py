"""The procedural body is a plausible, watertight, correctly rigged human in SMPL's layout."""
from collections import Counter

import numpy as np
import pytest
import torch

from hmr_ros.geometry.rotations import axis_angle_to_rotmat
from hmr_ros.smpl.body_model import load_body_model
from hmr_ros.smpl.kinematic_tree import SMPL_JOINT_NAMES, SMPL_PARENTS
from hmr_ros.smpl.procedural_body import make_procedural_body, write_procedural_body


@pytest.fixture(scope="module")
def body():
    return make_procedural_body()


def test_smpl_npz_layout(body):
    V = body["v_template"].shape[0]
    assert 5000 <= V <= 10000
    expected = {
        "v_template": ((V, 3), np.float64), "J": ((24, 3), np.float64), "shapedirs": ((V, 3, 10), np.float64),
        "posedirs": ((V, 3, 207), np.float64), "J_regressor": ((24, V), np.float64),
        "weights": ((V, 24), np.float64), "kintree_table": ((2, 24), np.int64),
    }
    for key, (shape, dtype) in expected.items():
        assert body[key].shape == shape and body[key].dtype == dtype, key
    assert body["f"].ndim == 2 and body["f"].shape[1] == 3 and np.issubdtype(body["f"].dtype, np.integer)


def test_kinematic_tree_is_smpls(body):
    parents = body["kintree_table"][0].copy()
    assert parents[0] == 2**32 - 1  # SMPL's stored root parent
    parents[0] = -1
    assert tuple(parents) == SMPL_PARENTS
    assert tuple(body["kintree_table"][1]) == tuple(range(24))


def test_deterministic(body):
    again = make_procedural_body()
    assert all(np.array_equal(body[k], again[k]) for k in body)


def test_rest_pose_is_a_standing_human_in_smpls_frame(body):
    v, J = body["v_template"], body["J"]
    height = v[:, 1].max() - v[:, 1].min()
    assert 1.5 <= height <= 2.0
    assert -1.2 < v[:, 1].min() < -1.1  # soles, as in SMPL
    lo, hi = v.min(0), v.max(0)
    assert ((J > lo) & (J < hi)).all()
    left = [i for i, n in enumerate(SMPL_JOINT_NAMES) if n.startswith("left_")]
    right = [SMPL_JOINT_NAMES.index(SMPL_JOINT_NAMES[i].replace("left_", "right_")) for i in left]
    assert (J[left, 0] > 0).all() and np.allclose(J[right], J[left] * [-1, 1, 1])  # left = +x
    names = dict(zip(SMPL_JOINT_NAMES, J))
    assert names["head"][1] > names["neck"][1] > names["spine3"][1] > names["pelvis"][1] > names["left_knee"][1]
    assert names["left_wrist"][0] > names["left_elbow"][0] > names["left_shoulder"][0]  # T-pose
    assert names["left_foot"][2] > names["left_ankle"][2]  # toes point forward (+z)
    # the joint regressor reproduces the stored rest joints
    assert np.allclose(body["J_regressor"] @ v, J)


def test_mesh_is_watertight_and_outward_oriented(body):
    f, v = body["f"].astype(np.int64), body["v_template"]
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    counts = Counter(map(tuple, directed))
    assert max(counts.values()) == 1  # consistent orientation: no directed edge used twice
    assert all((b, a) in counts for a, b in counts)  # every edge shared by exactly two faces
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    volume = np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0
    assert 0.04 < volume < 0.12  # m^3; an adult is ~0.07


def test_skinning_weights_and_regressor_are_convex(body):
    W, Jr = body["weights"], body["J_regressor"]
    assert (W >= 0).all() and np.allclose(W.sum(1), 1.0)
    assert (Jr >= 0).all() and np.allclose(Jr.sum(1), 1.0)
    # every joint drives some vertices, and blends exist (not a rigid segmentation)
    assert (W.max(0) > 0.9).all()
    assert ((W > 0.05).sum(1) >= 2).sum() > 0.1 * len(W)


def test_joints_follow_the_shape_blend_shapes(body):
    betas = np.linspace(-1.0, 1.0, 10)
    shaped = body["v_template"] + body["shapedirs"] @ betas
    J = body["J_regressor"] @ shaped
    assert not np.allclose(J, body["J"], atol=1e-3)
    # each joint stays at the centre of its ring of vertices
    for j in range(24):
        ring = np.nonzero(body["J_regressor"][j])[0]
        assert np.allclose(J[j], shaped[ring].mean(0))


def test_beta0_changes_stature_monotonically(body):
    heights = []
    for b0 in np.linspace(-3, 3, 7):
        v = body["v_template"] + body["shapedirs"][:, :, 0] * b0
        heights.append(v[:, 1].max() - v[:, 1].min())
    assert np.all(np.diff(heights) > 0.03)


def test_named_shape_directions_do_what_they_say(body):
    sd, v = body["shapedirs"], body["v_template"]
    J = lambda verts: body["J_regressor"] @ verts  # noqa: E731
    names = list(SMPL_JOINT_NAMES)
    volume = lambda verts: np.einsum(  # noqa: E731
        "ij,ij->i", verts[body["f"][:, 0]], np.cross(verts[body["f"][:, 1]], verts[body["f"][:, 2]])).sum() / 6
    assert volume(v + sd[:, :, 1]) > 1.1 * volume(v)  # girth
    sh = names.index("left_shoulder")
    assert J(v + sd[:, :, 2])[sh, 0] - J(v)[sh, 0] > 0.01  # shoulder width
    kn, an = names.index("left_knee"), names.index("left_ankle")
    leg = lambda verts: J(verts)[names.index("left_hip"), 1] - J(verts)[an, 1]  # noqa: E731
    assert leg(v + sd[:, :, 3]) - leg(v) > 0.03  # leg length
    assert J(v + sd[:, :, 3])[kn, 1] < J(v)[kn, 1]
    wr = names.index("left_wrist")
    assert J(v + sd[:, :, 4])[wr, 0] - J(v)[wr, 0] > 0.02  # arm length


def test_pose_correctives_bulge_bent_knees_and_are_zero_at_rest(body):
    P = body["posedirs"].reshape(-1, 207)
    knee = SMPL_JOINT_NAMES.index("left_knee")
    R = np.tile(np.eye(3), (23, 1, 1))
    assert np.allclose(P @ (R - np.eye(3)).reshape(-1), 0.0)
    R[knee - 1] = axis_angle_to_rotmat(torch.tensor([1.5, 0.0, 0.0], dtype=torch.float64)).numpy()
    offsets = (P @ (R - np.eye(3)).reshape(-1)).reshape(-1, 3)
    moved = np.linalg.norm(offsets, axis=1) > 1e-4
    assert moved.any()
    ring = np.nonzero(body["J_regressor"][knee])[0]
    centre = body["v_template"][ring].mean(0)
    outward = ((body["v_template"][moved] - centre) * offsets[moved]).sum(1)
    assert (outward > 0).mean() > 0.95  # pushes skin outward near the knee
    assert np.linalg.norm(offsets, axis=1).max() < 0.02  # small (metres)


def test_written_file_loads_as_a_body_model(tmp_path, body):
    path = write_procedural_body(tmp_path / "sub" / "procedural.npz")
    with np.load(path, allow_pickle=False) as npz:
        assert set(npz.files) == set(body)
    model = load_body_model(str(path))
    out = model(torch.zeros(1, 10), torch.eye(3).expand(1, 24, 3, 3))
    assert np.allclose(out.vertices[0].numpy(), body["v_template"], atol=1e-6)
    with pytest.raises(ValueError, match=r"\.npz"):
        write_procedural_body(tmp_path / "procedural.pkl")
